import Foundation
import Store

/// One result: an image, every indexed file holding its content (identical copies share
/// one embedding), and its score.
public struct SearchResult: Sendable, Equatable {
    public let imageID: Int64
    public let paths: [String]
    public let score: Float

    public init(imageID: Int64, paths: [String], score: Float) {
        self.imageID = imageID
        self.paths = paths
        self.score = score
    }
}

/// What to search for, as vectors in the model's space (the caller embeds texts or images).
public struct SearchRequest: Sendable {
    /// One vector for a text; an image's query vectors for "more like this".
    public var vectors: [Float]
    public var limit: Int
    /// Results scoring below this are dropped (scores are cosines in [-1, 1]).
    public var minScore: Float?

    public init(vectors: [Float], limit: Int = 20, minScore: Float? = nil) {
        self.vectors = vectors
        self.limit = limit
        self.minScore = minScore
    }

    /// Refuses what no search can mean: a limit below 1, a NaN or infinite minimum score,
    /// or search vectors that are not whole, finite vectors of `dimension`.
    public func validate(dimension: Int) throws {
        guard limit >= 1 else { throw SearchRequestError(reason: "the limit must be at least 1, not \(limit)") }
        if let minScore, !minScore.isFinite {
            throw SearchRequestError(reason: "the minimum score must be a finite number, not \(minScore)")
        }
        do {
            try checkSearchVectors(vectors, dimension: dimension)
        } catch let error as VectorIndexError {
            throw SearchRequestError(reason: error.reason)
        }
    }

    /// A text pushed away from other texts: the search vector is `text − weight × Σ negatives`,
    /// so an image scores max over its queries of q·text − weight × Σ q·negative, ranked
    /// exactly like any text search.
    public static func text(_ text: [Float], excluding negatives: [[Float]], weight: Float,
                            limit: Int, minScore: Float?) throws -> SearchRequest {
        guard weight.isFinite, weight >= 0 else {
            throw SearchRequestError(reason: "the weight of --not texts must be a finite number ≥ 0, not \(weight)")
        }
        var vector = text
        for negative in negatives {
            for i in vector.indices { vector[i] -= weight * negative[i] }
        }
        return SearchRequest(vectors: vector, limit: limit, minScore: minScore)
    }
}

/// A search the caller got wrong (a bad limit, weight or score): nothing was searched.
public struct SearchRequestError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "invalid search: \(reason)" }
}

/// Why a search index could not be built or kept; names the catalog or the cache folder.
public struct SearchIndexError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// An index kind that keeps a file beside the catalog between runs.
protocol CacheableIndex: ImageIndex {
    /// The cache file's extension, one per kind.
    static var cacheExtension: String { get }
    func save(to path: String) throws
}

extension QuantizedImageIndex: CacheableIndex {
    static var cacheExtension: String { "qscan" }
}

extension PartitionedImageIndex: CacheableIndex {
    static var cacheExtension: String { "ivf" }
}

/// The vector index of one model's embeddings, built from the catalog (the source of truth),
/// answering searches with catalog paths.
public final class CatalogSearch: Sendable {
    public let catalog: Catalog
    public let model: ModelRecord
    public let index: any ImageIndex
    public let kind: IndexKind

    /// Builds the index from every image the catalog holds for `model`. Every kind re-scores
    /// its candidates with the catalog's fp32 vectors (the exact kind is then exact; the
    /// approximate and FAISS kinds consider `candidatesPerResult` × limit candidates). Kinds
    /// that need training are trained on a sample of the catalog first.
    ///
    /// `cacheDirectory`: where the exact and approximate kinds keep their index between runs
    /// (a rebuildable cache: used only when it names this catalog's identity and its current
    /// count of image changes, and its checksum holds; else rebuilt).
    public init(catalog: Catalog, model: ModelRecord, kind: IndexKind = .exact, candidatesPerResult: Int = 20,
                cacheDirectory: String? = nil) throws {
        self.catalog = catalog
        self.model = model
        self.kind = kind
        let floatsPerImage = model.queryCount * model.dimension
        let fp32: FP32VectorSource = { ids in
            var floats: [Int64: [Float]] = [:]
            for (id, data) in try catalog.vectors(ofImages: ids) {
                floats[id] = try StoredVectors.floats(data, count: floatsPerImage, image: id, catalogPath: catalog.path)
            }
            return floats
        }
        switch kind {
        case .exact:
            index = try Self.exactIndex(catalog: catalog, model: model, fp32: fp32, cacheDirectory: cacheDirectory)
        case .approximate:
            let partitioned = try Self.approximateIndex(catalog: catalog, model: model, cacheDirectory: cacheDirectory)
            index = RescoredImageIndex(base: partitioned, candidatesPerResult: candidatesPerResult, fp32Vectors: fp32)
        case .factory(let factory):
            let vectors = try VectorIndex(dimension: model.dimension, factory: factory)
            if !vectors.isTrained { try vectors.train(try Self.trainingSample(catalog: catalog, model: model)) }
            index = RescoredImageIndex(base: FaissImageIndex(vectors: vectors, queriesPerImage: model.queryCount),
                                       candidatesPerResult: candidatesPerResult, fp32Vectors: fp32)
            try Self.load(catalog: catalog, model: model, into: index)
        }
    }

    /// The saved int8 store when its fingerprint matches the catalog, else one built from the
    /// catalog (and saved, replacing the stale one).
    private static func exactIndex(catalog: Catalog, model: ModelRecord, fp32: @escaping FP32VectorSource,
                                   cacheDirectory: String?) throws -> QuantizedImageIndex {
        try cachedIndex(catalog: catalog, model: model, cacheDirectory: cacheDirectory) { path in
            QuantizedImageIndex.load(from: path, queriesPerImage: model.queryCount, dimension: model.dimension,
                                     fp32Vectors: fp32)
        } build: {
            try QuantizedImageIndex(queriesPerImage: model.queryCount, dimension: model.dimension, fp32Vectors: fp32)
        }
    }

    /// The saved approximate index when its fingerprint matches the catalog, else one trained
    /// and filled from the catalog (and saved, replacing the stale one).
    private static func approximateIndex(catalog: Catalog, model: ModelRecord,
                                         cacheDirectory: String?) throws -> PartitionedImageIndex {
        try cachedIndex(catalog: catalog, model: model, cacheDirectory: cacheDirectory) { path in
            PartitionedImageIndex.load(from: path, queriesPerImage: model.queryCount, dimension: model.dimension,
                                       probes: PartitionedImageIndex.defaultProbes)
        } build: {
            try partitionedIndex(catalog: catalog, model: model)
        }
    }

    /// The index read from its cache file when that names the catalog as it is now; else
    /// `build()` filled with the catalog's images, and saved as the model's cache of its kind.
    /// The name is taken before the catalog is read: should another process add images
    /// meanwhile, the file holds more than its name says and is never used again (a name
    /// taken after could claim images the file lacks).
    private static func cachedIndex<Index: CacheableIndex>(
        catalog: Catalog, model: ModelRecord, cacheDirectory: String?,
        load read: (String) -> Index?, build: () throws -> Index
    ) throws -> Index {
        let name = cacheName(identity: try catalog.identity(), model: model, of: Index.self)
        if let cacheDirectory { try checkCacheFolder(cacheDirectory) }
        if let cacheDirectory, let saved = read(cacheDirectory + "/" + name) { return saved }
        let built = try build()
        try load(catalog: catalog, model: model, into: built)
        if let cacheDirectory { try replaceCache(in: cacheDirectory, named: name, modelId: model.id, with: built) }
        return built
    }

    /// Saves the index to `directory` (replacing the model's older cache file of that kind),
    /// named after `identity`: the catalog's identity when the index last read the catalog
    /// (read before that, see `cachedIndex`). FAISS kinds are not cached.
    public func saveCache(in directory: String, identity: CatalogIdentity) throws {
        try Self.checkCacheFolder(directory)
        guard let cacheable = ((index as? RescoredImageIndex)?.base ?? index) as? any CacheableIndex else { return }
        try Self.replaceCache(in: directory, named: Self.cacheName(identity: identity, model: model, of: type(of: cacheable)),
                              modelId: model.id, with: cacheable)
    }

    /// A cache file's name: the model, the catalog's id and count of image changes, the kind.
    private static func cacheName(identity: CatalogIdentity, model: ModelRecord, of kind: any CacheableIndex.Type) -> String {
        "\(model.id).\(identity.id)-\(identity.imageChanges).\(kind.cacheExtension)"
    }

    /// The best `request.limit` images that have an indexed, online file (under one of
    /// `roots`, when given), best first. An image the index holds but that shows no such
    /// file (its files went offline or vanished since the index last followed the catalog,
    /// or lie outside `roots`) is passed over, and the index asked for more, so the result
    /// is still the exact top K of what may be shown.
    ///
    /// `allowed`: a filter (image ids, from `Catalog.imageIDs(modelId:matching:)`); the result
    /// is then the exact top K of the allowed images.
    public func search(_ request: SearchRequest, under roots: [String]? = nil,
                       among allowed: Set<Int64>? = nil) throws -> [SearchResult] {
        try request.validate(dimension: model.dimension)
        let total = min(index.imageCount, allowed?.count ?? .max)
        var asked = min(request.limit, total)
        while asked > 0 {
            let hits = try allowed.map { try index.search(request.vectors, limit: asked, among: $0) }
                ?? index.search(request.vectors, limit: asked)
            let kept = request.minScore.map { minScore in hits.filter { $0.score >= minScore } } ?? hits
            let paths = try catalog.paths(ofImages: kept.map(\.imageID), under: roots)
            let results = kept.compactMap { hit in
                paths[hit.imageID].map { SearchResult(imageID: hit.imageID, paths: $0, score: hit.score) }
            }
            let exhausted = hits.count < asked || kept.count < hits.count || asked >= total
            if results.count >= request.limit || exhausted { return Array(results.prefix(request.limit)) }
            asked = min(total, asked * 4)
        }
        return []
    }

    private static func load(catalog: Catalog, model: ModelRecord, into index: any ImageIndex) throws {
        var ids: [Int64] = []
        var values: [Float] = []
        func flush() throws {
            try index.add(imageIDs: ids, embeddings: values)
            ids.removeAll(keepingCapacity: true)
            values.removeAll(keepingCapacity: true)
        }
        try catalog.forEachImage(modelId: model.id) { id, vectors in
            ids.append(id)
            values += try floats(of: vectors, image: id, model: model, catalog: catalog)
            if ids.count == 4096 { try flush() }
        }
        if !ids.isEmpty { try flush() }
    }

    /// The cache folder must be a folder (or absent): a file of that name is an error in one
    /// line naming it, not a file-system error when the cache is saved.
    private static func checkCacheFolder(_ path: String) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { return }
        throw SearchIndexError(path: path, reason: "not a folder; the search index cache is kept there: move this file away")
    }

    /// Saves `index` as the model's only cache file of its kind in `directory`.
    private static func replaceCache(in directory: String, named name: String, modelId: String,
                                     with index: any CacheableIndex) throws {
        let manager = FileManager.default
        try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let suffix = "." + type(of: index).cacheExtension
        for stale in (try? manager.contentsOfDirectory(atPath: directory)) ?? []
        where stale.hasPrefix(modelId + ".") && stale.hasSuffix(suffix) {
            try? manager.removeItem(atPath: directory + "/" + stale)
        }
        try index.save(to: directory + "/" + name)
    }

    /// A `PartitionedImageIndex` sized for the catalog, trained on an evenly spread sample of
    /// its images (`trainingStrides`).
    private static func partitionedIndex(catalog: Catalog, model: ModelRecord) throws -> PartitionedImageIndex {
        let total = try catalog.searchableImageCount(modelId: model.id)
        guard total > 0 else {
            throw SearchIndexError(path: catalog.path, reason: "an approximate index needs embeddings to train on; the catalog has none for \(model.id)")
        }
        let index = try PartitionedImageIndex(queriesPerImage: model.queryCount, dimension: model.dimension,
                                              lists: PartitionedImageIndex.listCount(forImages: total),
                                              probes: PartitionedImageIndex.defaultProbes)
        let (meanStride, sampleStride) = index.trainingStrides(forImages: total)
        var means: [Float] = [], sample: [Float] = []
        var position = 0
        try catalog.forEachImage(modelId: model.id) { id, vectors in
            defer { position += 1 }
            let wantsMean = position % meanStride == 0, wantsSample = position % sampleStride == 0
            guard wantsMean || wantsSample else { return }
            let floats = try Self.floats(of: vectors, image: id, model: model, catalog: catalog)
            if wantsMean { means += try index.imageMeans(floats) }
            if wantsSample { sample += floats }
        }
        try index.train(means: means, sample: sample)
        return index
    }

    /// An image's stored vectors as floats, checked against the model's size.
    private static func floats(of vectors: Data, image id: Int64, model: ModelRecord, catalog: Catalog) throws -> [Float] {
        try StoredVectors.floats(vectors, count: model.queryCount * model.dimension, image: id, catalogPath: catalog.path)
    }

    private static func trainingSample(catalog: Catalog, model: ModelRecord, maxVectors: Int = 100_000) throws -> [Float] {
        let total = try catalog.searchableImageCount(modelId: model.id)
        let stride = max(1, total * model.queryCount / maxVectors)
        var sample: [Float] = []
        var position = 0
        try catalog.forEachImage(modelId: model.id) { id, vectors in
            defer { position += 1 }
            guard position % stride == 0 else { return }
            try StoredVectors.append(vectors, count: model.queryCount * model.dimension, image: id, catalogPath: catalog.path,
                                     to: &sample)
        }
        guard !sample.isEmpty else {
            throw SearchIndexError(path: catalog.path, reason: "an approximate index needs embeddings to train on; the catalog has none for \(model.id)")
        }
        return sample
    }
}
