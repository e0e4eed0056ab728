import Foundation
import Query

/// The files of one catalog, named in one place: the SQLite database and what the commands
/// and the daemon keep beside it (`<db>.index/`, `<db>.daemon.json`, `<db>.thumbnails/`).
public struct CatalogFiles: Sendable, Equatable {
    /// The SQLite database, the source of truth.
    public let database: String

    public init(database: String) {
        self.database = database
    }

    /// The search indexes' caches: rebuildable, used only while they match the catalog.
    public var indexCacheDirectory: String { database + ".index" }

    /// A running daemon's status: its counters and its API's address.
    public var daemonStatus: String { database + ".daemon.json" }

    /// The daemon's thumbnails, by content hash and size.
    public var thumbnailDirectory: String { database + ".thumbnails" }

    /// The search indexes cached in `indexCacheDirectory`, by file name, each with its kind.
    public func cachedIndexes() -> [CachedIndex] {
        let kinds = [IndexKind.exact, .approximate]
        let directory = indexCacheDirectory
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().compactMap { name in
            let fileExtension = (name as NSString).pathExtension
            guard let kind = kinds.first(where: { $0.cacheExtension == fileExtension }) else { return nil }
            let path = directory + "/" + name
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            return CachedIndex(file: path, kind: kind, bytes: size)
        }
    }
}

/// A search index saved beside the catalog.
public struct CachedIndex: Sendable, Equatable {
    public let file: String
    public let kind: IndexKind
    public let bytes: Int
}
