import Foundation
import Store
import TestSupport

/// Query vectors per synthetic image, and their dimension: BLIP-2's.
public let queriesPerImage = 32
public let dimension = 256
/// Topics the synthetic images cluster around.
public let topicCount = 2048

/// Deterministic data: the same seed gives the same vectors in every run and every chunk.
/// Each vector is normalize(topic + 0.8 × noise) with its own fresh noise, so no two images
/// share a vector. (An earlier version drew noise from a pool of 65,536 vectors indexed by
/// image number, which made image i and image i + 65,536 identical: at 1M images every
/// image had ~15 exact copies, which a catalog never holds, since identical files share
/// one embedding, and which turned recall@10 into a tie-breaking contest.)
public struct SyntheticEmbeddings: Sendable {
    public let topics: [Float]

    public init() {
        var generator = SeededGenerator(state: 42)
        topics = Self.unitVectors(topicCount, &generator)
    }

    public static func unitVectors(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
        var values = [Float](repeating: 0, count: count * dimension)
        values.withUnsafeMutableBufferPointer { buffer in
            for v in 0..<count { randomUnitVector(&generator, into: buffer, at: v * dimension) }
        }
        return values
    }

    public static func randomUnitVector(_ generator: inout SeededGenerator, into output: UnsafeMutableBufferPointer<Float>, at offset: Int) {
        var norm: Float = 0
        for d in 0..<dimension {
            let x = Float(generator.next() >> 40) / Float(1 << 24) * 2 - 1
            output[offset + d] = x
            norm += x * x
        }
        norm = norm.squareRoot()
        for d in 0..<dimension { output[offset + d] /= norm }
    }

    public func topic(ofImage image: Int) -> Int { (image &* 2_654_435_761) % topicCount }

    /// normalize(topic + 0.8 × noise), the noise a random unit vector drawn from `seed`:
    /// close to its topic, distinct from every other vector.
    public func vector(topic: Int, noiseSeed: UInt64, into output: UnsafeMutableBufferPointer<Float>, at offset: Int) {
        // Start each vector's stream at a hashed state: seeds k and k + 1 would otherwise
        // give the same sequence shifted by one.
        var seeding = SeededGenerator(state: noiseSeed)
        var generator = SeededGenerator(state: seeding.next())
        Self.randomUnitVector(&generator, into: output, at: offset)
        var norm: Float = 0
        let t = topic * dimension
        for d in 0..<dimension {
            let x = topics[t + d] + 0.8 * output[offset + d]
            output[offset + d] = x
            norm += x * x
        }
        norm = norm.squareRoot()
        for d in 0..<dimension { output[offset + d] /= norm }
    }

    public func images(_ range: Range<Int>) -> [Float] {
        var values = [Float](repeating: 0, count: range.count * queriesPerImage * dimension)
        values.withUnsafeMutableBufferPointer { buffer in
            for (i, image) in range.enumerated() {
                for q in 0..<queriesPerImage {
                    vector(topic: topic(ofImage: image), noiseSeed: UInt64(image * queriesPerImage + q),
                           into: buffer, at: (i * queriesPerImage + q) * dimension)
                }
            }
        }
        return values
    }

    /// A search vector near no topic: uniform on the sphere, so that every image scores about
    /// the same and the top K is decided by noise.
    public func unrelatedQuery(_ index: Int) -> [Float] {
        var values = [Float](repeating: 0, count: dimension)
        values.withUnsafeMutableBufferPointer { buffer in
            var generator = SeededGenerator(state: ~UInt64(index))
            Self.randomUnitVector(&generator, into: buffer, at: 0)
        }
        return values
    }

    /// 32 search vectors as `imgsearch query --image` has them: a new image on the topic of one
    /// of the first `images` images.
    public func imageQuery(_ index: Int, images: Int) -> [Float] {
        var values = [Float](repeating: 0, count: queriesPerImage * dimension)
        values.withUnsafeMutableBufferPointer { buffer in
            for q in 0..<queriesPerImage {
                // Seeds above every image's (image × 32 + q) and below every text query's (~index).
                vector(topic: topic(ofImage: (index &* 7_919) % images), noiseSeed: (1 << 62) + UInt64(index * queriesPerImage + q),
                       into: buffer, at: q * dimension)
            }
        }
        return values
    }

    /// A search vector near the topic of one of the first `images` images, with noise no image has.
    public func query(_ index: Int, images: Int) -> [Float] {
        var values = [Float](repeating: 0, count: dimension)
        values.withUnsafeMutableBufferPointer { buffer in
            vector(topic: topic(ofImage: (index &* 7_919) % images), noiseSeed: ~UInt64(index), into: buffer, at: 0)
        }
        return values
    }
}

/// Adds `images` synthetic images, each with one file under the root "/synthetic", for the
/// catalog's only model (which must embed 32 × 256-d; a new catalog gets a model record
/// "synthetic-32x256"): the library a load test searches. Image i gets id i + 1.
public func fillCatalog(path: String, images: Int, data: SyntheticEmbeddings) throws {
    let catalog = try Catalog(path: path)
    if try catalog.models().isEmpty {
        try catalog.write { try $0.register(ModelRecord(id: "synthetic-32x256", description: "synthetic embeddings",
                                                        queryCount: queriesPerImage, dimension: dimension)) }
    }
    let models = try catalog.models()
    guard models.count == 1, let model = models.first, model.queryCount == queriesPerImage,
          model.dimension == dimension else {
        fatalError("\(path) must hold exactly one model with 32 queries of 256 dimensions")
    }
    // Each image is an empty file under photos/ beside the catalog, recorded with its real
    // stat: a daemon on that folder finds every file unchanged (it trusts size, mtime and
    // inode) and serves them, rather than seeing a library that vanished.
    let root = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("photos").path
    for first in stride(from: 0, to: images, by: 5_000) {
        let range = first..<min(first + 5_000, images)
        let vectors = data.images(range)
        let folder = root + "/" + String(format: "%04d", first / 5_000)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try catalog.write { tx in
            for (i, image) in range.enumerated() {
                let hash = String(format: "synthetic-%08d", image)
                let file = folder + "/\(hash).jpg"
                guard FileManager.default.createFile(atPath: file, contents: nil) else { fatalError("cannot create \(file)") }
                var info = stat()
                guard stat(file, &info) == 0 else { fatalError("cannot stat \(file)") }
                let slice = Array(vectors[(i * queriesPerImage * dimension)..<((i + 1) * queriesPerImage * dimension)])
                _ = try tx.storeImage(StoredImage(contentHash: hash, modelId: model.id, vectors: slice))
                _ = try tx.upsert(CatalogFile(root: root, path: file, device: Int64(info.st_dev), inode: Int64(info.st_ino),
                                              size: 0, modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000
                                                  + Int64(info.st_mtim.tv_nsec),
                                              contentHash: hash, state: .indexed))
            }
        }
    }
    print("\(path): \(images) synthetic images for \(model.id)")
}
