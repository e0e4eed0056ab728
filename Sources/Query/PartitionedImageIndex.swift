internal import CFaiss
import Foundation

/// Approximate max-over-queries search for libraries whose exact index does not fit in
/// memory (the exact int8 store needs 8 KB an image, 8 GB at 1M images; this one about
/// 2.3 KB). Images are partitioned into lists by the mean of their vectors; each vector is
/// kept as a 4-bit product-quantized residual (64 bytes for 256-d). A search scores every
/// image of the `probes` lists nearest to the search vectors completely (all of its
/// vectors), so its approximate scores are only off by the quantization error; wrap it in
/// a `RescoredImageIndex` to rank the candidates by their exact scores. See image_ivf.h.
public final class PartitionedImageIndex: ImageIndex {
    public let queriesPerImage: Int
    public let dimension: Int
    public let lists: Int
    /// How many lists a search looks in.
    public let probes: Int
    private let handle: SharedHandle

    public convenience init(queriesPerImage: Int, dimension: Int, lists: Int, probes: Int) throws(VectorIndexError) {
        var error = vindex_error()
        guard let created = image_ivf_create(Int32(dimension), Int32(queriesPerImage), Int32(lists), &error) else {
            throw VectorIndexError(reason: error.text)
        }
        self.init(handle: created, queriesPerImage: queriesPerImage, dimension: dimension, lists: lists, probes: probes)
    }

    private init(handle: OpaquePointer, queriesPerImage: Int, dimension: Int, lists: Int, probes: Int) {
        self.handle = SharedHandle(handle, free: image_ivf_free)
        self.queriesPerImage = queriesPerImage
        self.dimension = dimension
        self.lists = lists
        self.probes = max(1, min(probes, lists))
    }

    /// Reads an index written by `save(to:)`, with the list count it was trained with; nil
    /// when the file is missing, damaged or of other sizes.
    public static func load(from path: String, queriesPerImage: Int, dimension: Int,
                            probes: Int) -> PartitionedImageIndex? {
        guard let handle = image_ivf_load(path, Int32(dimension), Int32(queriesPerImage)) else { return nil }
        return PartitionedImageIndex(handle: handle, queriesPerImage: queriesPerImage, dimension: dimension,
                                     lists: Int(image_ivf_lists(handle)), probes: probes)
    }

    /// Writes the index (lists, codebooks and codes), replacing `path` atomically.
    public func save(to path: String) throws(VectorIndexError) {
        try handle.call(exclusive: false) { index, error in image_ivf_save(index, path, &error) }
    }


    /// Lists a search looks in unless told otherwise (bench/search.sh: recall@10 ≥ 0.95 at 1M).
    public static let defaultProbes = 16

    /// Training takes the means of every `trainingStrides(forImages:).means`-th image (about
    /// 64 a list) and the vectors of every `.sample`-th (about 2048 images), evenly spread.
    public func trainingStrides(forImages images: Int) -> (means: Int, sample: Int) {
        (max(1, images / (64 * lists)), max(1, images / 2048))
    }

    /// About 2·√images lists, a power of two (≈ 500 images a list at 1M), never more than
    /// there are images to train on.
    public static func listCount(forImages images: Int) -> Int {
        let target = 2 * Double(max(images, 1)).squareRoot()
        let power = 1 << Int(log2(target).rounded())
        return max(1, min(power, images))
    }

    public var imageCount: Int { handle.reading { Int(image_ivf_count($0)) } }

    /// The unit-length mean of each image's vectors: what images are assigned to lists by.
    public func imageMeans(_ embeddings: [Float]) throws(VectorIndexError) -> [Float] {
        let count = embeddings.count / (queriesPerImage * dimension)
        var means = [Float](repeating: 0, count: count * dimension)
        try handle.call(exclusive: false) { index, error in image_ivf_image_means(index, embeddings, Int64(count), &means, &error) }
        return means
    }

    /// Trains the list centroids on `means` (from `imageMeans`, at least `lists` of them;
    /// about 64 a list is plenty) and the residual codebooks on `sample` images' vectors.
    public func train(means: [Float], sample: [Float]) throws(VectorIndexError) {
        try handle.call(exclusive: true) { index, error in
            image_ivf_train(index, means, Int64(means.count / dimension), sample,
                            Int64(sample.count / (queriesPerImage * dimension)), &error)
        }
    }

    public func add(imageIDs: [Int64], embeddings: [Float]) throws {
        precondition(embeddings.count == imageIDs.count * queriesPerImage * dimension, "embedding size mismatch")
        try handle.call(exclusive: true) { index, error in image_ivf_add(index, imageIDs, embeddings, Int64(imageIDs.count), &error) }
    }

    @discardableResult
    public func remove(imageIDs: [Int64]) throws -> Int {
        var removed: Int64 = 0
        try handle.call(exclusive: true) { index, error in
            image_ivf_remove(index, imageIDs, Int64(imageIDs.count), &removed, &error)
        }
        return Int(removed)
    }

    /// A search looks in enough lists to score at least this many images. On a small
    /// library a list is a large share of the whole, and a text's top 10 there includes
    /// images from far-away topics (bench/search.sh at 10k: recall@10 0.70 with 16 of 256
    /// lists); at 1M, 16 lists hold ~7,800 images, so the floor changes nothing there.
    public static let minimumImagesScored = 7_500

    /// The `limit` images with the best approximate scores, best first.
    public func search(_ searchVectors: [Float], limit: Int) throws -> [ScoredImage] {
        try checkSearchVectors(searchVectors, dimension: dimension)
        let limit = min(limit, imageCount)
        guard limit > 0 else { return [] }
        let imagesPerList = max(1, imageCount / lists)
        let probes = min(lists, max(self.probes, (Self.minimumImagesScored + imagesPerList - 1) / imagesPerList))
        var ids = [Int64](repeating: 0, count: limit)
        var scores = [Float](repeating: 0, count: limit)
        var found: Int64 = 0
        try handle.call(exclusive: false) { index, error in
            image_ivf_search(index, searchVectors, Int32(searchVectors.count / dimension), Int32(probes),
                             Int64(limit), 0, &ids, &scores, &found, &error)
        }
        return (0..<Int(found)).map { ScoredImage(imageID: ids[$0], score: scores[$0]) }
    }

    /// Bytes held by the codes, ids and tables.
    public var memoryBytes: Int { handle.reading { Int(image_ivf_memory_bytes($0)) } }
}
