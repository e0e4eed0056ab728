internal import CQuantizedScan

/// Exact max-over-queries search that meets a 50 ms budget at 100k images: an int8 copy of
/// every vector is scanned on all cores to bound each image's score (for most images only
/// the codes' high 4 bits: a coarse pass, then a fine one), and only the images that can
/// still be in the top K are re-scored with their fp32 vectors, which `fp32Vectors` supplies
/// (from the catalog, so they need not stay in memory). The result equals brute force over
/// fp32 vectors; see qscan.h for the bounds.
public final class QuantizedImageIndex: ImageIndex {
    public let queriesPerImage: Int
    public let dimension: Int
    private let scan: SharedHandle
    private let fp32Vectors: FP32VectorSource

    public init(queriesPerImage: Int, dimension: Int, fp32Vectors: @escaping FP32VectorSource) throws(VectorIndexError) {
        self.queriesPerImage = queriesPerImage
        self.dimension = dimension
        guard let created = qscan_create(Int32(dimension), Int32(queriesPerImage)) else {
            throw VectorIndexError(reason: "an exact index cannot hold \(queriesPerImage) vectors of \(dimension) dimensions")
        }
        scan = SharedHandle(created, free: qscan_free)
        self.fp32Vectors = fp32Vectors
    }

    private init(handle: OpaquePointer, queriesPerImage: Int, dimension: Int,
                 fp32Vectors: @escaping FP32VectorSource) {
        self.queriesPerImage = queriesPerImage
        self.dimension = dimension
        scan = SharedHandle(handle, free: qscan_free)
        self.fp32Vectors = fp32Vectors
    }

    /// Reads an index written by `save(to:)`; nil when the file is missing, damaged or of other sizes.
    public static func load(from path: String, queriesPerImage: Int, dimension: Int,
                            fp32Vectors: @escaping FP32VectorSource) -> QuantizedImageIndex? {
        guard let handle = qscan_load(path, Int32(dimension), Int32(queriesPerImage)) else { return nil }
        return QuantizedImageIndex(handle: handle, queriesPerImage: queriesPerImage, dimension: dimension,
                                   fp32Vectors: fp32Vectors)
    }

    /// Writes the int8 store (about a quarter of the fp32 vectors' size), replacing `path` atomically.
    public func save(to path: String) throws {
        let status = scan.reading { qscan_save($0, path) }
        guard status == 0 else { throw VectorIndexError(reason: "\(path): cannot write the index: \(Self.describe(status))") }
    }

    private static func describe(_ status: Int32) -> String { String(cString: qscan_status_text(status)) }

    public var imageCount: Int { scan.reading { Int(qscan_count($0)) } }

    public func add(imageIDs: [Int64], embeddings: [Float]) throws {
        precondition(embeddings.count == imageIDs.count * queriesPerImage * dimension, "embedding size mismatch")
        let status = scan.writing { qscan_add($0, imageIDs, embeddings, Int64(imageIDs.count)) }
        guard status == 0 else {
            throw VectorIndexError(reason: "adding \(imageIDs.count) images: \(Self.describe(status))")
        }
    }

    @discardableResult
    public func remove(imageIDs: [Int64]) throws -> Int {
        var removed: Int64 = 0
        _ = scan.writing { qscan_remove($0, imageIDs, Int64(imageIDs.count), &removed) }
        return Int(removed)
    }

    public func search(_ searchVectors: [Float], limit: Int) throws -> [ScoredImage] {
        try searchMeasuringReads(searchVectors, limit: limit).hits
    }

    /// The scan reads only the allowed images' codes: a filter keeping 0.1 % of the library
    /// costs about 0.1 % of a search.
    public func search(_ searchVectors: [Float], limit: Int, among allowed: Set<Int64>) throws -> [ScoredImage] {
        try searchMeasuringReads(searchVectors, limit: limit, among: Array(allowed)).hits
    }

    /// `search(_:limit:)` (among `allowed` ids when given), also telling how many images the
    /// scan had to read in full (see qscan.h), for benchmarks and tests.
    public func searchMeasuringReads(_ searchVectors: [Float], limit: Int,
                                     among allowed: [Int64]? = nil) throws -> (hits: [ScoredImage], imagesReadInFull: Int) {
        try checkSearchVectors(searchVectors, dimension: dimension)
        let limit = min(limit, allowed?.count ?? imageCount, imageCount)  // a huge limit must not size the buffers below
        guard limit > 0 else { return ([], 0) }
        var capacity = max(1024, limit * 16)
        var ids: [Int64] = []
        var refined: Int64 = 0
        while true {
            ids = [Int64](repeating: 0, count: capacity)
            var upper = [Float](repeating: 0, count: capacity)
            var count: Int64 = 0
            let searchCount = Int32(searchVectors.count / dimension)
            let status = scan.reading { handle in
                guard let allowed else {
                    return qscan_candidates(handle, searchVectors, searchCount, Int64(limit), nil, 0, 0, &ids, &upper,
                                            Int64(capacity), &count, &refined)
                }
                return qscan_candidates(handle, searchVectors, searchCount, Int64(limit), allowed, Int64(allowed.count), 0,
                                        &ids, &upper, Int64(capacity), &count, &refined)
            }
            if status == Int32(QSCAN_ERROR_CAPACITY.rawValue) {
                capacity = Int(count)
                continue
            }
            guard status == 0 else { throw VectorIndexError(reason: "the exact scan failed: \(Self.describe(status))") }
            ids.removeSubrange(Int(count)...)
            break
        }
        let hits = try rescore(ids, search: searchVectors, dimension: dimension, limit: limit, source: fp32Vectors)
        return (hits, Int(refined))
    }
}
