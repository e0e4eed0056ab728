import Foundation
import GRDB

/// An indexed, online file with what the catalog knows of its picture: for grouping
/// near-duplicates (`imgsearch duplicates`).
public struct CatalogPicture: Sendable, Equatable {
    public let path: String
    public let contentHash: String
    /// File size in bytes.
    public let bytes: Int64
    public let width: Int?
    public let height: Int?
    /// "YYYY-MM-DD HH:MM:SS", local time (EXIF, else the file's date), when read.
    public let takenAt: String?
    public let signature: PerceptualSignature?

    public init(path: String, contentHash: String, bytes: Int64, width: Int?, height: Int?, takenAt: String?,
                signature: PerceptualSignature?) {
        self.path = path
        self.contentHash = contentHash
        self.bytes = bytes
        self.width = width
        self.height = height
        self.takenAt = takenAt
        self.signature = signature
    }
}

extension Catalog {
    /// Every indexed, online file under `roots` (nil: all), with its picture's metadata.
    public func pictures(under roots: [String]? = nil) throws -> [CatalogPicture] {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT file.path, file.contentHash, file.size, metadata.width, metadata.height, metadata.takenAt, metadata.signature
                FROM file LEFT JOIN metadata ON metadata.contentHash = file.contentHash
                WHERE file.state = 'indexed' AND file.offlineSince IS NULL AND file.contentHash IS NOT NULL
                ORDER BY file.path
                """)
            var pictures: [CatalogPicture] = []
            while let row = try rows.next() {
                let path: String = row["path"]
                if let roots, !Self.path(path, isUnderAnyOf: roots) { continue }
                let signature: Data? = row["signature"]
                pictures.append(CatalogPicture(path: path, contentHash: row["contentHash"], bytes: row["size"], width: row["width"],
                                               height: row["height"], takenAt: row["takenAt"],
                                               signature: signature.flatMap(PerceptualSignature.init(data:))))
            }
            return pictures
        }
    }

    /// Calls `body` with the content hash and stored vectors of every searchable image
    /// embedded by `modelId`, one at a time.
    public func forEachContent(modelId: String, _ body: (String, Data) throws -> Void) throws {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT contentHash, vectors FROM image WHERE modelId = ? AND \(Self.searchable)",
                                           arguments: [modelId])
            while let row = try rows.next() { try body(row["contentHash"], row["vectors"]) }
        }
    }
}
