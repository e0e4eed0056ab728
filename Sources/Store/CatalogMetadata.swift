import Foundation
import GRDB

/// What one distinct content says about itself, as the catalog keeps it: read once while
/// indexing (see `Embeddings.ImageMetadata`), shared by every copy of the photo.
public struct PhotoMetadata: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "metadata"

    /// Where `takenAt` comes from.
    public enum DateSource: String, Codable, Sendable {
        /// EXIF DateTimeOriginal: the camera's clock.
        case exif
        /// The file's modification time, in this machine's time zone: no EXIF date.
        case mtime
    }

    public var contentHash: String
    /// "JPEG", "PNG", "WebP", "HEIF", "AVIF", "TIFF" or "GIF".
    public var format: String
    public var width: Int?
    public var height: Int?
    /// "YYYY-MM-DD HH:MM:SS", local time: compared as text by the date filters.
    public var takenAt: String
    public var takenAtSource: DateSource
    /// "+HH:MM", when the camera wrote it.
    public var utcOffset: String?
    public var cameraMake: String?
    public var cameraModel: String?
    public var latitude: Double?
    public var longitude: Double?
    /// `PerceptualSignature.data`; empty when the picture has none (flat, or no longer
    /// decodable); nil when it was not read yet (a catalog from before signatures).
    public var signature: Data?

    public init(contentHash: String, format: String, width: Int?, height: Int?, takenAt: String,
                takenAtSource: DateSource, utcOffset: String? = nil, cameraMake: String? = nil,
                cameraModel: String? = nil, latitude: Double? = nil, longitude: Double? = nil,
                signature: Data? = nil) {
        self.contentHash = contentHash
        self.format = format
        self.width = width
        self.height = height
        self.takenAt = takenAt
        self.takenAtSource = takenAtSource
        self.utcOffset = utcOffset
        self.cameraMake = cameraMake
        self.cameraModel = cameraModel
        self.latitude = latitude
        self.longitude = longitude
        self.signature = signature
    }

    /// The perceptual signature, when the picture has one.
    public var perceptualSignature: PerceptualSignature? { signature.flatMap(PerceptualSignature.init(data:)) }

    /// `items` newest first by the date `taken` gives each (undated ones last), in their
    /// order otherwise: `--sort date` and `sort=date`.
    public static func newestFirst<Item>(_ items: [Item], taken: (Item) -> String?) -> [Item] {
        items.enumerated().sorted { a, b in
            let (first, second) = (taken(a.element) ?? "", taken(b.element) ?? "")
            return first != second ? first > second : a.offset < b.offset
        }.map(\.element)
    }

    /// "Make Model", without the make repeated when the model starts with it ("Canon Canon EOS").
    public var camera: String? {
        switch (cameraMake, cameraModel) {
        case let (make?, model?): model.lowercased().hasPrefix(make.lowercased()) ? model : "\(make) \(model)"
        case let (make?, nil): make
        case let (nil, model?): model
        case (nil, nil): nil
        }
    }
}

/// An indexed, online file whose content has no metadata yet (or no signature).
public struct MetadataCandidate: Sendable, Equatable {
    public let contentHash: String
    public let path: String
    public let modifiedNanoseconds: Int64

    public init(contentHash: String, path: String, modifiedNanoseconds: Int64) {
        self.contentHash = contentHash
        self.path = path
        self.modifiedNanoseconds = modifiedNanoseconds
    }
}

/// Date range and cameras of the searchable photos (`imgsearch status`).
public struct MetadataSummary: Sendable, Equatable {
    public let earliest: String?
    public let latest: String?
    /// Photos per camera ("Make Model").
    public let cameras: [String: Int]
    /// Photos whose date is their file's modification time (no EXIF date).
    public let datedByFile: Int
}

extension CatalogTransaction {
    /// Stores (or replaces) metadata rows.
    public func store(_ metadata: [PhotoMetadata]) throws {
        for row in metadata { try row.save(db) }
    }
}

extension Catalog {
    /// Up to `limit` indexed, online contents without metadata (or whose metadata has no
    /// signature yet: a catalog from before signatures) whose hash sorts after
    /// `hash` (nil: from the start), in hash order, each with one of its files: a pass pages
    /// through them without holding a large library's list in memory.
    public func contentsWithoutMetadata(after hash: String?, limit: Int) throws -> [MetadataCandidate] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT file.contentHash AS contentHash, MIN(file.path) AS path, file.modifiedNanoseconds AS modified
                FROM file
                WHERE file.state = 'indexed' AND file.offlineSince IS NULL AND file.contentHash > ?
                  AND NOT EXISTS (SELECT 1 FROM metadata WHERE metadata.contentHash = file.contentHash
                                  AND metadata.signature IS NOT NULL)
                GROUP BY file.contentHash ORDER BY file.contentHash LIMIT ?
                """, arguments: [hash ?? "", limit])
                .map { MetadataCandidate(contentHash: $0["contentHash"], path: $0["path"], modifiedNanoseconds: $0["modified"]) }
        }
    }

    /// The metadata of each content that has some.
    public func metadata(ofContents hashes: [String]) throws -> [String: PhotoMetadata] {
        try rows(for: hashes) { "SELECT * FROM metadata WHERE contentHash IN (\($0))" }
            .reduce(into: [:]) { found, row in found[row["contentHash"]] = try PhotoMetadata(row: row) }
    }

    /// The metadata of each image's content, by image id.
    public func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata] {
        try rows(for: ids) { """
            SELECT image.id AS imageId, metadata.* FROM image JOIN metadata ON metadata.contentHash = image.contentHash
            WHERE image.id IN (\($0))
            """ }.reduce(into: [:]) { found, row in found[row["imageId"]] = try PhotoMetadata(row: row) }
    }

    /// The folders under `roots` that directly hold indexed, online files, with how many.
    public func folders(under roots: [String]) throws -> [String: Int] {
        try read { db in
            var counts: [String: Int] = [:]
            let paths = try String.fetchCursor(db, sql: "SELECT path FROM file WHERE state = 'indexed' AND offlineSince IS NULL")
            while let path = try paths.next() {
                guard Self.path(path, isUnderAnyOf: roots) else { continue }
                counts[(path as NSString).deletingLastPathComponent, default: 0] += 1
            }
            return counts
        }
    }

    /// The metadata of the content of each of these files, by path.
    public func metadata(ofPaths paths: [String]) throws -> [String: PhotoMetadata] {
        try rows(for: paths) { """
            SELECT file.path AS path, metadata.* FROM file JOIN metadata ON metadata.contentHash = file.contentHash
            WHERE file.path IN (\($0))
            """ }.reduce(into: [:]) { found, row in found[row["path"]] = try PhotoMetadata(row: row) }
    }

    /// The date range and cameras of the searchable photos.
    public func metadataSummary() throws -> MetadataSummary {
        try read { db in
            let shown = "EXISTS (SELECT 1 FROM file WHERE file.contentHash = metadata.contentHash AND file.state = 'indexed' AND file.offlineSince IS NULL)"
            let range = try Row.fetchOne(db, sql: "SELECT MIN(takenAt) AS earliest, MAX(takenAt) AS latest, SUM(takenAtSource = 'mtime') AS byFile FROM metadata WHERE \(shown)")
            var cameras: [String: Int] = [:]
            for row in try PhotoMetadata.fetchAll(db, sql: "SELECT * FROM metadata WHERE \(shown) AND (cameraMake IS NOT NULL OR cameraModel IS NOT NULL)") {
                if let camera = row.camera { cameras[camera, default: 0] += 1 }
            }
            return MetadataSummary(earliest: range?["earliest"], latest: range?["latest"], cameras: cameras,
                                   datedByFile: range?["byFile"] ?? 0)
        }
    }

    /// The searchable images of `modelId` that `filter` keeps (photos without metadata match
    /// no metadata condition).
    public func imageIDs(modelId: String, matching filter: PhotoFilter) throws -> Set<Int64> {
        try matching(filter, select: "image.id", from: "image", conditions: ["image.modelId = ?", Self.searchable],
                     arguments: [modelId]) { $0["id"] as Int64 }
    }

    /// The contents of indexed, online files that `filter` keeps.
    public func contentHashes(matching filter: PhotoFilter) throws -> Set<String> {
        try matching(filter, select: "DISTINCT file.contentHash", from: "file",
                     conditions: ["file.state = 'indexed'", "file.offlineSince IS NULL", "file.contentHash IS NOT NULL"],
                     arguments: []) { $0["id"] as String }
    }

    /// The rows of `table` (holding a contentHash) whose content `filter` keeps, as `value` makes them.
    private func matching<Value: Hashable>(_ filter: PhotoFilter, select: String, from table: String, conditions base: [String],
                                           arguments baseArguments: [any DatabaseValueConvertible],
                                           value: (Row) -> Value) throws -> Set<Value> {
        var conditions = base
        var arguments: [(any DatabaseValueConvertible)?] = baseArguments
        if let after = filter.takenFrom { conditions.append("metadata.takenAt >= ?"); arguments.append(after) }
        if let before = filter.takenBefore { conditions.append("metadata.takenAt < ?"); arguments.append(before) }
        for word in filter.cameraWords {
            conditions.append("(COALESCE(metadata.cameraMake, '') || ' ' || COALESCE(metadata.cameraModel, '')) LIKE ? ESCAPE '\\'")
            arguments.append("%" + Self.likeEscaped(word) + "%")
        }
        if !filter.formats.isEmpty {
            conditions.append("upper(metadata.format) IN (\(databaseQuestionMarks(count: filter.formats.count)))")
            arguments += filter.formats.map { $0.uppercased() }
        }
        if let folder = filter.folder {
            // Paths under the folder sort between "folder/" and "folder0" ('0' follows '/').
            let prefix = folder.hasSuffix("/") ? folder : folder + "/"
            conditions.append("""
                EXISTS (SELECT 1 FROM file AS under WHERE under.contentHash = \(table).contentHash AND under.state = 'indexed'
                        AND under.offlineSince IS NULL AND under.path >= ? AND under.path < ?)
                """)
            arguments += [prefix, String(prefix.dropLast()) + "0"]
        }
        if let place = filter.near {
            let box = place.boundingBox
            conditions.append("metadata.latitude BETWEEN ? AND ?")
            arguments += [box.latitudes.lowerBound, box.latitudes.upperBound]
            if let longitudes = box.longitudes {
                conditions.append("metadata.longitude BETWEEN ? AND ?")
                arguments += [longitudes.lowerBound, longitudes.upperBound]
            }
        }
        let sql = """
            SELECT \(select) AS id, metadata.latitude AS latitude, metadata.longitude AS longitude FROM \(table)
            LEFT JOIN metadata ON metadata.contentHash = \(table).contentHash
            WHERE \(conditions.joined(separator: " AND "))
            """
        return try read { db in
            var found = Set<Value>()
            let rows = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments(arguments))
            while let row = try rows.next() {
                if let place = filter.near {
                    guard let latitude: Double = row["latitude"], let longitude: Double = row["longitude"],
                          place.contains(latitude: latitude, longitude: longitude) else { continue }
                }
                found.insert(value(row))
            }
            return found
        }
    }

    private static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
