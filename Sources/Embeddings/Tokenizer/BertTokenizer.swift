import Foundation

/// The token ids of one text, `[CLS] … [SEP]`, unpadded.
public struct TokenizedText: Sendable, Equatable {
    public let ids: [Int32]

    public init(ids: [Int32]) { self.ids = ids }
}

/// BLIP-2's text tokenizer: transformers' `BertTokenizer` with bert-base-uncased's
/// `vocab.txt` (lower-cased, accents stripped, CJK split), producing `[CLS] … [SEP]`.
///
/// Texts longer than the model's position limit are truncated, keeping the final `[SEP]`,
/// as `tokenizer(text, truncation=True, max_length=limit)` does.
public struct BertTokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let padID: Int32
    public let classID: Int32
    public let separatorID: Int32
    public let unknownID: Int32
    private let basic = BasicTokenizer()
    private let wordPiece: WordPieceTokenizer

    public init(vocabularyURL: URL) throws(TokenizerError) {
        let vocabulary = try Vocabulary(contentsOf: vocabularyURL)
        let path = vocabularyURL.path
        self.vocabulary = vocabulary
        padID = try vocabulary.specialID("[PAD]", path: path)
        classID = try vocabulary.specialID("[CLS]", path: path)
        separatorID = try vocabulary.specialID("[SEP]", path: path)
        unknownID = try vocabulary.specialID("[UNK]", path: path)
        wordPiece = WordPieceTokenizer(vocabulary: vocabulary, unknownID: unknownID)
    }

    /// The WordPiece ids of `text`, without `[CLS]`/`[SEP]`.
    public func pieceIDs(_ text: String) -> [Int32] {
        basic.split(text).flatMap { wordPiece.ids(for: $0) }
    }

    /// `[CLS] pieces [SEP]`, truncated to `maxLength` tokens (at least 2).
    public func encode(_ text: String, maxLength: Int) -> TokenizedText {
        let pieces = pieceIDs(text).prefix(max(0, maxLength - 2))
        return TokenizedText(ids: [classID] + pieces + [separatorID])
    }

    /// Like `encode`, but refuses a text with no content at all.
    public func encodeNonEmpty(_ text: String, maxLength: Int) throws(TokenizerError) -> TokenizedText {
        let encoded = encode(text, maxLength: maxLength)
        guard encoded.ids.count > 2 else { throw .emptyText }
        return encoded
    }
}
