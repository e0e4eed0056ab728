import Foundation
import PostgresStore
import Query
import Store

/// The catalog a daemon serves, as `LibraryService` reads it: the SQLite catalog with its
/// live search index (`SQLiteServedCatalog`), or a PostgreSQL store (`PostgresServedCatalog`).
public protocol ServedCatalog: CaptionedCatalog, Sendable {
    /// Where it is: the SQLite file's path, or the store's URL without its password.
    var location: String { get }
    /// Its id: clients check it is the catalog they mean.
    var catalogID: String { get }
    /// The search in use, as `GET /api/status` names it.
    var searchKind: String { get }
    /// The embeddings' model.
    var model: ModelRecord { get }
    /// What finding duplicates reads.
    var pictures: any PictureCatalog { get }

    /// The images searched: every searchable one of the model.
    func searchableImageCount() throws -> Int
    /// The exact top results of `request` among the images a file under `roots` holds
    /// (and among `allowed`, when given), best first, each with its files under `roots`.
    func search(_ request: SearchRequest, under roots: [String], among allowed: Set<Int64>?) throws -> [SearchResult]
    /// Images like `imageID`, itself left out; nil when the model has no such image.
    func similar(toImage imageID: Int64, limit: Int, minScore: Float?, under roots: [String],
                 among allowed: Set<Int64>?) throws -> [SearchResult]?
    /// The indexed, online files of each image under `roots`, sorted by path.
    func paths(ofImages ids: [Int64], under roots: [String]) throws -> [Int64: [String]]
    /// The searchable images of the model that `filter` keeps.
    func imageIDs(matching filter: PhotoFilter) throws -> Set<Int64>
    /// The contents of indexed, online files that `filter` keeps.
    func contentHashes(matching filter: PhotoFilter) throws -> Set<String>
    /// The newest caption of each content.
    func captions(ofContents hashes: [String]) throws -> [String: String]
    func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata]
    /// The folders under `roots` that directly hold indexed, online files, with how many.
    func folders(under roots: [String]) throws -> [String: Int]
    /// Online files per state (every state named) and "offline", and the latest failures.
    func fileStatus(recentFailures: Int) throws -> (files: [String: Int], failures: [StatusReport.Failure])
}

/// A SQLite catalog and the daemon's in-memory search index, which follows it.
public struct SQLiteServedCatalog: ServedCatalog {
    private let photoLibrary: PhotoLibrary
    private let search: LiveCatalogSearch
    public let catalogID: String

    public init(library: PhotoLibrary, search: LiveCatalogSearch) throws {
        photoLibrary = library
        self.search = search
        catalogID = try library.catalog.identity().id
    }

    public var location: String { photoLibrary.catalog.path }
    public var searchKind: String { search.search.kind.description }
    public var model: ModelRecord { search.search.model }
    public var pictures: any PictureCatalog { photoLibrary.catalog }

    public func searchableImageCount() throws -> Int { search.imageCount }

    public func search(_ request: SearchRequest, under roots: [String], among allowed: Set<Int64>?) throws -> [SearchResult] {
        try search.search.search(request, under: roots, among: allowed)
    }

    public func similar(toImage imageID: Int64, limit: Int, minScore: Float?, under roots: [String],
                        among allowed: Set<Int64>?) throws -> [SearchResult]? {
        try search.similar(toImage: imageID, limit: limit, minScore: minScore, under: roots, among: allowed)
    }

    public func paths(ofImages ids: [Int64], under roots: [String]) throws -> [Int64: [String]] {
        try photoLibrary.catalog.paths(ofImages: ids, under: roots)
    }

    public func contentHashes(ofImages ids: [Int64]) throws -> [Int64: String] {
        try photoLibrary.catalog.contentHashes(ofImages: ids)
    }

    public func imageIDs(matching filter: PhotoFilter) throws -> Set<Int64> {
        try photoLibrary.catalog.imageIDs(modelId: model.id, matching: filter)
    }

    public func contentHashes(matching filter: PhotoFilter) throws -> Set<String> {
        try photoLibrary.catalog.contentHashes(matching: filter)
    }

    public func captionMatches(_ text: String, limit: Int) throws -> [KeywordHit] {
        try photoLibrary.catalog.captionMatches(text, limit: limit)
    }

    public func paths(ofContents hashes: [String]) throws -> [String: [String]] {
        try photoLibrary.catalog.paths(ofContents: hashes)
    }

    public func imageIDs(ofContents hashes: [String], modelId: String) throws -> [String: Int64] {
        try photoLibrary.catalog.imageIDs(ofContents: hashes, modelId: modelId)
    }

    public func captions(ofContents hashes: [String]) throws -> [String: String] {
        try photoLibrary.catalog.captions(ofContents: hashes)
    }

    public func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata] {
        try photoLibrary.catalog.metadata(ofImages: ids)
    }

    public func folders(under roots: [String]) throws -> [String: Int] {
        try photoLibrary.catalog.folders(under: roots)
    }

    public func fileStatus(recentFailures: Int) throws -> (files: [String: Int], failures: [StatusReport.Failure]) {
        let status = try photoLibrary.status(recentFailures: recentFailures)
        var files = status.filesByState
        files["offline"] = status.offlineFiles
        return (files, status.catalog.recentFailures.map { .init(path: $0.path, error: $0.lastError ?? "unknown") })
    }
}

/// A PostgreSQL store shared with other indexers: searched on the servers (`mode`), nothing
/// held in memory, so the daemon sees what any indexer writes at once.
public struct PostgresServedCatalog: ServedCatalog {
    public let store: PostgresCatalog
    public let model: ModelRecord
    public let mode: PostgresSearchMode

    public init(store: PostgresCatalog, model: ModelRecord, mode: PostgresSearchMode) {
        self.store = store
        self.model = model
        self.mode = mode
    }

    public var location: String { store.location }
    /// The store's URL without password: the same for every daemon sharing it.
    public var catalogID: String { store.location }
    public var searchKind: String { "postgresql \(mode.rawValue)" }
    public var pictures: any PictureCatalog { store }

    public func searchableImageCount() throws -> Int { try store.imageCount(modelId: model.id) }

    public func search(_ request: SearchRequest, under roots: [String], among allowed: Set<Int64>?) throws -> [SearchResult] {
        try request.validate(dimension: model.dimension)
        return try store.search(vectors: request.vectors, modelId: model.id, limit: request.limit, minScore: request.minScore,
                                mode: mode, under: roots, among: allowed)
    }

    public func similar(toImage imageID: Int64, limit: Int, minScore: Float?, under roots: [String],
                        among allowed: Set<Int64>?) throws -> [SearchResult]? {
        guard let vectors = try store.vectors(ofImage: imageID, modelId: model.id) else { return nil }
        let results = try search(SearchRequest(vectors: vectors, limit: limit + 1, minScore: minScore), under: roots, among: allowed)
        return Array(results.filter { $0.imageID != imageID }.prefix(limit))
    }

    public func paths(ofImages ids: [Int64], under roots: [String]) throws -> [Int64: [String]] {
        try store.paths(ofImages: ids, under: roots)
    }

    public func contentHashes(ofImages ids: [Int64]) throws -> [Int64: String] { try store.contentHashes(ofImages: ids) }

    public func imageIDs(matching filter: PhotoFilter) throws -> Set<Int64> { try store.imageIDs(modelId: model.id, matching: filter) }

    public func contentHashes(matching filter: PhotoFilter) throws -> Set<String> { try store.contentHashes(matching: filter) }

    public func captionMatches(_ text: String, limit: Int) throws -> [KeywordHit] { try store.captionMatches(text, limit: limit) }

    public func paths(ofContents hashes: [String]) throws -> [String: [String]] { try store.paths(ofContents: hashes) }

    public func imageIDs(ofContents hashes: [String], modelId: String) throws -> [String: Int64] {
        try store.imageIDs(ofContents: hashes, modelId: modelId)
    }

    public func captions(ofContents hashes: [String]) throws -> [String: String] { try store.captions(ofContents: hashes) }

    public func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata] { try store.metadata(ofImages: ids) }

    public func folders(under roots: [String]) throws -> [String: Int] { try store.folders(under: roots) }

    public func fileStatus(recentFailures: Int) throws -> (files: [String: Int], failures: [StatusReport.Failure]) {
        let status = try store.fileStatus(recentFailures: recentFailures)
        var files = FileState.namedCounts(status.byState)
        files["offline"] = status.offline
        return (files, status.failures.map { .init(path: $0.path, error: $0.error) })
    }
}
