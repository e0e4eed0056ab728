import Foundation
import GRDB

/// An embedding model the catalog has seen. Vectors of different models never mix: each
/// image row belongs to exactly one model.
public struct ModelRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "model"
    public var id: String
    public var description: String
    public var queryCount: Int
    public var dimension: Int
    public var registeredAt: Date

    public init(id: String, description: String, queryCount: Int, dimension: Int, registeredAt: Date = Date()) {
        self.id = id
        self.description = description
        self.queryCount = queryCount
        self.dimension = dimension
        self.registeredAt = registeredAt
    }
}

/// The embedding of one distinct content (identified by its hash) by one model.
public struct StoredImage: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "image"
    public var id: Int64?
    public var contentHash: String
    public var modelId: String
    /// queryCount × dimension float32 values, row-major.
    public var vectors: Data
    public var embeddedAt: Date
    /// Since when no file holds this content; such an embedding is kept for a grace period
    /// (a moved file that comes back is not embedded again) and is not searched meanwhile.
    public var orphanedSince: Date?

    public init(id: Int64? = nil, contentHash: String, modelId: String, vectors: [Float], embeddedAt: Date = Date()) {
        self.id = id
        self.contentHash = contentHash
        self.modelId = modelId
        self.vectors = StoredVectors.data(vectors)
        self.embeddedAt = embeddedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// Where a file is indexed in: `pending` (seen, not embedded yet), `indexed`, or `failed`
/// (with `lastError` naming the cause; retried when the file changes).
public enum FileState: String, Codable, Sendable, CaseIterable {
    case pending, indexed, failed

    /// `counts` by state name, every state named (0 when absent), as status reports show them.
    public static func namedCounts(_ counts: [FileState: Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.rawValue, counts[$0] ?? 0) })
    }
}

/// A file under an indexed root, with what change detection needs: size + mtime + inode
/// first, then the content hash.
public struct CatalogFile: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "file"
    public var id: Int64?
    public var root: String
    public var path: String
    public var device: Int64
    public var inode: Int64
    public var size: Int64
    public var modifiedNanoseconds: Int64
    public var contentHash: String?
    public var state: FileState
    public var lastError: String?
    public var updatedAt: Date
    /// Since when the file's root has been missing or empty (an unplugged drive): the file is
    /// kept, but not searched, until the root is back or `imgsearch prune` forgets it.
    public var offlineSince: Date?

    public init(id: Int64? = nil, root: String, path: String, device: Int64, inode: Int64, size: Int64,
                modifiedNanoseconds: Int64, contentHash: String? = nil, state: FileState = .pending,
                lastError: String? = nil, updatedAt: Date = Date()) {
        self.id = id
        self.root = root
        self.path = path
        self.device = device
        self.inode = inode
        self.size = size
        self.modifiedNanoseconds = modifiedNanoseconds
        self.contentHash = contentHash
        self.state = state
        self.lastError = lastError
        self.updatedAt = updatedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// An indexed root folder and the file system (`st_dev`) it was on when last indexed.
public struct IndexedRoot: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "root"
    public var path: String
    public var device: Int64
    public var indexedAt: Date

    public init(path: String, device: Int64, indexedAt: Date = Date()) {
        self.path = path
        self.device = device
        self.indexedAt = indexedAt
    }
}

/// Who a catalog is and how far its searchable images have changed: a random id given at
/// creation, and a counter that every added or removed image, and every file that starts
/// or stops showing one, bumps (whichever process writes). A saved index named after both
/// holds exactly the images the catalog had then.
public struct CatalogIdentity: Sendable, Equatable {
    public let id: String
    public let imageChanges: Int64
}
