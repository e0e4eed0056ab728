import Foundation

/// A WordPiece vocabulary read from a BERT `vocab.txt` (one token per line, id = line number).
///
/// Tokens are keyed by their UTF-8 bytes, not by `String`: Swift compares strings by
/// canonical equivalence, while the reference tokenizer looks tokens up code point by
/// code point, so "é" and "e\u{301}" must stay different keys.
public struct Vocabulary: Sendable {
    private let ids: [[UInt8]: Int32]
    /// Number of lines in the file, the size of the id space.
    public let count: Int

    public init(contentsOf url: URL) throws(TokenizerError) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .unreadableVocabulary(path: url.path, reason: error.localizedDescription)
        }
        var ids: [[UInt8]: Int32] = [:]
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            ids[Array(line)] = Int32(index)
        }
        guard !ids.isEmpty else { throw .unreadableVocabulary(path: url.path, reason: "the file is empty") }
        self.ids = ids
        self.count = lines.count
    }

    public func id(of token: some Collection<UInt8>) -> Int32? {
        ids[Array(token)]
    }

    /// The id of a special token such as `[CLS]`, or a clear error when the vocabulary lacks it.
    func specialID(_ token: String, path: String) throws(TokenizerError) -> Int32 {
        guard let id = id(of: Array(token.utf8)) else {
            throw .missingSpecialToken(token: token, path: path)
        }
        return id
    }
}
