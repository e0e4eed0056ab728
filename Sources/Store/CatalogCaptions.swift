import Foundation
import GRDB

/// A caption of one distinct content (by its hash) by one captioning model.
public struct StoredCaption: Sendable, Equatable {
    public let contentHash: String
    public let captionModelId: String
    public let text: String
    public let prompt: String

    public init(contentHash: String, captionModelId: String, text: String, prompt: String) {
        self.contentHash = contentHash
        self.captionModelId = captionModelId
        self.text = text
        self.prompt = prompt
    }
}

/// A content to caption and one indexed, online file that holds it.
public struct CaptionCandidate: Sendable, Equatable {
    public let contentHash: String
    public let path: String

    public init(contentHash: String, path: String) {
        self.contentHash = contentHash
        self.path = path
    }
}

/// A keyword hit: a content whose caption matches, with the caption and its score, higher
/// is better (minus SQLite's `bm25()`, or PostgreSQL's `ts_rank`; the order is best first).
public struct KeywordHit: Sendable, Equatable {
    public let contentHash: String
    public let caption: String
    public let score: Double

    public init(contentHash: String, caption: String, score: Double) {
        self.contentHash = contentHash
        self.caption = caption
        self.score = score
    }
}

/// The words a keyword search matches: runs of letters and digits, case and diacritics
/// folded ("Café au LAIT" → cafe, au, lait), as SQLite's FTS5 `unicode61` tokenizer reads them.
public enum KeywordWords {
    public static func of(_ text: String) -> [String] {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
            .split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }
}

extension Catalog {
    /// See `IndexingStore.uncaptioned(captionModelId:under:)`.
    public func uncaptioned(captionModelId: String, under roots: [String]? = nil) throws -> [CaptionCandidate] {
        // Paths under a root sort between "root/" and "root0" ('0' follows '/').
        let prefixes = (roots ?? []).map { $0.hasSuffix("/") ? $0 : $0 + "/" }
        let under = roots == nil ? "" : "AND (" + (prefixes.isEmpty ? "0" : prefixes.map { _ in "(file.path >= ? AND file.path < ?)" }
            .joined(separator: " OR ")) + ")"
        let bounds = prefixes.flatMap { [$0, String($0.dropLast()) + "0"] }
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT file.contentHash AS contentHash, MIN(file.path) AS path FROM file
                WHERE file.state = 'indexed' AND file.offlineSince IS NULL AND file.contentHash IS NOT NULL \(under)
                  AND NOT EXISTS (SELECT 1 FROM caption WHERE caption.contentHash = file.contentHash
                                    AND caption.captionModelId = ?)
                GROUP BY file.contentHash ORDER BY MIN(file.path)
                """, arguments: StatementArguments(bounds + [captionModelId]))
                .map { CaptionCandidate(contentHash: $0["contentHash"], path: $0["path"]) }
        }
    }

    /// Which of `hashes` have a caption by `captionModelId`.
    public func captionedHashes(_ hashes: [String], captionModelId: String) throws -> Set<String> {
        Set(try rows(for: hashes, leading: [captionModelId]) {
            "SELECT contentHash FROM caption WHERE captionModelId = ? AND contentHash IN (\($0))"
        }.map { $0["contentHash"] as String })
    }

    /// How many captions each captioning model has stored.
    public func captionCounts() throws -> [String: Int] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT captionModelId, COUNT(*) AS n FROM caption GROUP BY captionModelId")
                .map { ($0["captionModelId"] as String, $0["n"] as Int) })
        }
    }

    /// The newest caption of each content (by any captioning model).
    public func captions(ofContents hashes: [String]) throws -> [String: String] {
        try rows(for: hashes) { "SELECT contentHash, text FROM caption WHERE contentHash IN (\($0)) ORDER BY captionedAt" }
            .reduce(into: [:]) { captions, row in captions[row["contentHash"]] = row["text"] }
    }

    /// The contents whose caption holds every word of `text` (prefixes of none: whole
    /// words, case and diacritics ignored), best BM25 first, at most `limit`.
    public func captionMatches(_ text: String, limit: Int) throws -> [KeywordHit] {
        let words = KeywordWords.of(text)
        guard !words.isEmpty else { return [] }
        // Every word quoted: the user's text is never read as FTS5 query syntax.
        let query = words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: " ")
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT caption.contentHash AS contentHash, caption.text AS text, bm25(caption_text) AS score
                FROM caption_text JOIN caption ON caption.rowid = caption_text.rowid
                WHERE caption_text MATCH ? AND EXISTS (SELECT 1 FROM file WHERE file.contentHash = caption.contentHash
                                                         AND file.state = 'indexed' AND file.offlineSince IS NULL)
                ORDER BY score LIMIT ?
                """, arguments: [query, limit * 4]).reduce(into: [KeywordHit]()) { hits, row in
                // One hit per content: a content captioned by two models counts once, at its best.
                let hash: String = row["contentHash"]
                if hits.count < limit, !hits.contains(where: { $0.contentHash == hash }) {
                    hits.append(KeywordHit(contentHash: hash, caption: row["text"], score: -(row["score"] as Double)))
                }
            }
        }
    }

    /// The indexed, online files holding each content, sorted by path.
    public func paths(ofContents hashes: [String]) throws -> [String: [String]] {
        try rows(for: hashes) {
            "SELECT contentHash, path FROM file WHERE state = 'indexed' AND offlineSince IS NULL AND contentHash IN (\($0)) ORDER BY path"
        }.reduce(into: [:]) { paths, row in paths[row["contentHash"], default: []].append(row["path"]) }
    }

    /// The caption `captionModelId` made with `prompt` of the content of each of these
    /// indexed files, by path.
    public func captions(ofPaths paths: [String], captionModelId: String, prompt: String) throws -> [String: String] {
        try rows(for: paths, leading: [captionModelId, prompt]) { """
            SELECT file.path AS path, caption.text AS text FROM file JOIN caption ON caption.contentHash = file.contentHash
            WHERE file.state = 'indexed' AND caption.captionModelId = ? AND caption.prompt = ? AND file.path IN (\($0))
            """ }.reduce(into: [:]) { captions, row in captions[row["path"]] = row["text"] }
    }

    /// The newest caption of the content of each of these files, by path.
    public func captions(ofPaths paths: [String]) throws -> [String: String] {
        try rows(for: paths) { """
            SELECT file.path AS path, caption.text AS text FROM file JOIN caption ON caption.contentHash = file.contentHash
            WHERE file.path IN (\($0)) ORDER BY caption.captionedAt
            """ }.reduce(into: [:]) { captions, row in captions[row["path"]] = row["text"] }
    }

    /// The image id of each content embedded by `modelId`, by content hash.
    public func imageIDs(ofContents hashes: [String], modelId: String) throws -> [String: Int64] {
        try rows(for: hashes, leading: [modelId]) { "SELECT contentHash, id FROM image WHERE modelId = ? AND contentHash IN (\($0))" }
            .reduce(into: [:]) { ids, row in ids[row["contentHash"]] = row["id"] }
    }

    /// The content hash of each image id.
    public func contentHashes(ofImages ids: [Int64]) throws -> [Int64: String] {
        try rows(for: ids) { "SELECT id, contentHash FROM image WHERE id IN (\($0))" }
            .reduce(into: [:]) { hashes, row in hashes[row["id"]] = row["contentHash"] }
    }
}

extension CatalogTransaction {
    /// Stores captions; a content already captioned by that model keeps its first caption.
    public func store(captions: [StoredCaption], at date: Date = Date()) throws {
        for caption in captions {
            try db.execute(sql: """
                INSERT OR IGNORE INTO caption (contentHash, captionModelId, text, prompt, captionedAt) VALUES (?, ?, ?, ?, ?)
                """, arguments: [caption.contentHash, caption.captionModelId, caption.text, caption.prompt, date])
        }
    }
}
