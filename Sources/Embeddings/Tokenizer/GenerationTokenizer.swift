/// A language model's tokenizer as captioning uses it: text to the ids the model reads
/// (with its BOS or EOS convention) and generated ids back to text.
public protocol GenerationTokenizer: Sendable {
    /// The ids of `text`, split around special tokens first, as transformers' slow tokenizer
    /// does; OPT's tokenizer prepends `</s>`, T5's appends it.
    func encode(_ text: String) -> [Int32]
    /// The text of `ids` with special tokens (and ids that have no token) left out.
    func decode(_ ids: [Int32]) -> String
}

/// A special token as transformers' `AddedToken` describes it: matched whole in the text,
/// never split; `stripsLeft`/`stripsRight` remove the whitespace next to it.
public struct SpecialToken: Sendable, Equatable {
    public let text: String
    public let id: Int32
    public let stripsLeft: Bool
    public let stripsRight: Bool

    public init(text: String, id: Int32, stripsLeft: Bool = false, stripsRight: Bool = false) {
        self.text = text
        self.id = id
        self.stripsLeft = stripsLeft
        self.stripsRight = stripsRight
    }
}

/// Splits text around special tokens, longest match first (transformers' Trie).
struct SpecialTokenSplitter: Sendable {
    /// A piece of text to tokenize, or a special token's id.
    enum Piece: Equatable {
        case text(String)
        case special(Int32)
    }

    private let tokens: [(scalars: [Unicode.Scalar], token: SpecialToken)]

    init(_ tokens: [SpecialToken]) {
        self.tokens = tokens.filter { !$0.text.isEmpty }
            .map { (Array($0.text.unicodeScalars), $0) }
            .sorted { $0.scalars.count > $1.scalars.count }
    }

    func split(_ text: String) -> [Piece] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [Piece] = []
        var pending: [Unicode.Scalar] = []
        var stripLeadingSpace = false
        var index = 0
        func flush(strippingTrailingSpace: Bool) {
            var run = pending[...]
            if stripLeadingSpace { run = run.drop { $0.properties.isWhitespace } }
            if strippingTrailingSpace { while let last = run.last, last.properties.isWhitespace { run.removeLast() } }
            if !run.isEmpty {
                var view = String.UnicodeScalarView()
                view.append(contentsOf: run)
                pieces.append(.text(String(view)))
            }
            pending.removeAll()
        }
        while index < scalars.count {
            let rest = scalars[index...]
            guard let match = tokens.first(where: { rest.starts(with: $0.scalars) }) else {
                pending.append(scalars[index])
                index += 1
                continue
            }
            flush(strippingTrailingSpace: match.token.stripsLeft)
            pieces.append(.special(match.token.id))
            stripLeadingSpace = match.token.stripsRight
            index += match.scalars.count
        }
        flush(strippingTrailingSpace: false)
        return pieces
    }
}
