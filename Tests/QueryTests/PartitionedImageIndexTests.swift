import Foundation
import TestSupport
import Testing
@testable import Query

/// Clustered data like real embeddings: each image's vectors are noisy copies of one of
/// `topics` directions, so lists and candidates mean something.
func clusteredImages(_ images: Int, queries: Int, dimension: Int, topics: Int,
                     generator: inout SeededGenerator) -> (images: [Float], topics: [Float]) {
    let centres = normalizedVectors(topics, dimension: dimension, generator: &generator)
    var values: [Float] = []
    values.reserveCapacity(images * queries * dimension)
    for image in 0..<images {
        let topic = image % topics
        let noise = normalizedVectors(queries, dimension: dimension, generator: &generator)
        for q in 0..<queries {
            var vector = (0..<dimension).map { centres[topic * dimension + $0] + 0.8 * noise[q * dimension + $0] }
            let norm = sqrt(vector.reduce(0) { $0 + $1 * $1 })
            vector = vector.map { $0 / norm }
            values += vector
        }
    }
    return (values, centres)
}

@Suite struct PartitionedImageIndexTests {
    static let queries = 8, dimension = 32

    /// A trained index over `count` clustered images with ids 0..<count, and their vectors.
    static func filledIndex(images count: Int, lists: Int, probes: Int, seed: UInt64) throws
        -> (index: PartitionedImageIndex, images: [Float], ids: [Int64]) {
        var generator = SeededGenerator(state: seed)
        let data = clusteredImages(count, queries: queries, dimension: dimension, topics: 20, generator: &generator)
        let index = try PartitionedImageIndex(queriesPerImage: queries, dimension: dimension, lists: lists, probes: probes)
        try index.train(means: index.imageMeans(data.images), sample: data.images)
        let ids = (0..<count).map(Int64.init)
        try index.add(imageIDs: ids, embeddings: data.images)
        return (index, data.images, ids)
    }

    static func fp32(_ images: [Float], floatsPerImage: Int) -> FP32VectorSource {
        { ids in
            Dictionary(uniqueKeysWithValues: ids.map { id in
                (id, Array(images[(Int(id) * floatsPerImage)..<((Int(id) + 1) * floatsPerImage)]))
            })
        }
    }

    @Test func approximateScoresStayWithinTheQuantizationErrorOfExactOnes() throws {
        let (index, images, ids) = try Self.filledIndex(images: 600, lists: 16, probes: 16, seed: 3)
        var generator = SeededGenerator(state: 4)
        let search = normalizedVectors(1, dimension: Self.dimension, generator: &generator)
        let exact = Dictionary(uniqueKeysWithValues: bruteForce(
            images: images, ids: ids, queriesPerImage: Self.queries, dimension: Self.dimension,
            search: search, limit: ids.count).map { ($0.id, $0.score) })
        let approximate = try index.search(search, limit: ids.count)
        #expect(approximate.count == ids.count, "every list probed: every image scored")
        let errors = approximate.map { abs(Double($0.score) - exact[$0.imageID]!) }
        // 4-bit codes of 2-d pieces keep ~90% of the residual's energy: its error (norm ~0.2 of
        // a residual of ~0.6) projects onto a unit search vector in 32-d with σ ≈ 0.2/√32 ≈ 0.035.
        // Codes that were wrong or misaligned would be off by the residual's whole share (~0.5).
        #expect(errors.max()! < 0.2, "largest error \(errors.max()!)")
        #expect(errors.reduce(0, +) / Double(errors.count) < 0.05)
        #expect(approximate == approximate.sorted(by: ScoredImage.ranking))
    }

    @Test func rescoredCandidatesGiveTheExactTopK() throws {
        let (index, images, ids) = try Self.filledIndex(images: 600, lists: 16, probes: 4, seed: 5)
        let rescored = RescoredImageIndex(base: index, candidatesPerResult: 20,
                                          fp32Vectors: Self.fp32(images, floatsPerImage: Self.queries * Self.dimension))
        var generator = SeededGenerator(state: 6)
        var found = 0
        for _ in 0..<20 {
            // A text-like search vector: near one image's topic.
            let topic = Int.random(in: 0..<20, using: &generator)
            let noise = normalizedVectors(1, dimension: Self.dimension, generator: &generator)
            var search = (0..<Self.dimension).map { images[topic * Self.queries * Self.dimension + $0] + 0.5 * noise[$0] }
            let norm = sqrt(search.reduce(0) { $0 + $1 * $1 })
            search = search.map { $0 / norm }
            let truth = bruteForce(images: images, ids: ids, queriesPerImage: Self.queries, dimension: Self.dimension,
                                   search: search, limit: 10)
            let result = try rescored.search(search, limit: 10)
            found += Set(result.map(\.imageID)).intersection(truth.map(\.id)).count
            // Whatever is returned carries its exact score.
            for hit in result {
                let exact = bruteForce(images: Array(images[(Int(hit.imageID) * Self.queries * Self.dimension)..<((Int(hit.imageID) + 1) * Self.queries * Self.dimension)]),
                                       ids: [hit.imageID], queriesPerImage: Self.queries, dimension: Self.dimension,
                                       search: search, limit: 1)[0].score
                #expect(abs(Double(hit.score) - exact) < 1e-5)
            }
        }
        #expect(Double(found) / 200 >= 0.95, "recall@10 \(Double(found) / 200)")
    }

    @Test func anImageFindsItselfFirstFromItsOwnVectors() throws {
        let (index, images, _) = try Self.filledIndex(images: 400, lists: 8, probes: 2, seed: 9)
        let floatsPerImage = Self.queries * Self.dimension
        let rescored = RescoredImageIndex(base: index, candidatesPerResult: 10,
                                          fp32Vectors: Self.fp32(images, floatsPerImage: floatsPerImage))
        for image in [0, 77, 399] {
            let own = Array(images[(image * floatsPerImage)..<((image + 1) * floatsPerImage)])
            let best = try rescored.search(own, limit: 3)
            #expect(best.first?.imageID == Int64(image))
            #expect(abs(Double(best.first?.score ?? 0) - 1) < 1e-5)
        }
    }

    @Test func removalsAndReAddsKeepEveryImageFindableExactlyOnce() throws {
        let (index, images, ids) = try Self.filledIndex(images: 300, lists: 4, probes: 4, seed: 11)
        let floatsPerImage = Self.queries * Self.dimension
        // Removing from the middle of a list moves its last image into the gap.
        let gone: [Int64] = [0, 5, 150, 151, 299, 1234]
        #expect(try index.remove(imageIDs: gone) == 5)
        #expect(index.imageCount == 295)
        var generator = SeededGenerator(state: 12)
        let search = normalizedVectors(1, dimension: Self.dimension, generator: &generator)
        let remaining = try index.search(search, limit: 1000).map(\.imageID)
        #expect(remaining.count == 295)
        #expect(Set(remaining) == Set(ids).subtracting(gone))
        // Put two back; adding one that is present fails without adding anything.
        let back: [Int64] = [5, 150]
        try index.add(imageIDs: back, embeddings: back.flatMap { Array(images[(Int($0) * floatsPerImage)..<((Int($0) + 1) * floatsPerImage)]) })
        #expect(index.imageCount == 297)
        #expect(throws: VectorIndexError.self) {
            try index.add(imageIDs: [7, 0], embeddings: Array(images[0..<(2 * floatsPerImage)]))
        }
        #expect(index.imageCount == 297)
        #expect(Set(try index.search(search, limit: 1000).map(\.imageID)) == Set(ids).subtracting([0, 151, 299]))
    }

    @Test func misuseIsAnErrorWithAReason() throws {
        #expect(throws: VectorIndexError.self) {
            _ = try PartitionedImageIndex(queriesPerImage: 4, dimension: 30, lists: 4, probes: 1)
        }
        let index = try PartitionedImageIndex(queriesPerImage: 4, dimension: 8, lists: 4, probes: 2)
        #expect { try index.add(imageIDs: [1], embeddings: [Float](repeating: 0.25, count: 32)) } throws: {
            "\($0)".contains("trained")
        }
        var generator = SeededGenerator(state: 13)
        let few = normalizedVectors(3 * 4, dimension: 8, generator: &generator)
        #expect { try index.train(means: index.imageMeans(few), sample: few) } throws: {
            "\($0)".contains("as many image means as lists")
        }
    }

    @Test func aSingleImageIsEnoughToTrainOn() throws {
        var generator = SeededGenerator(state: 14)
        let one = normalizedVectors(4, dimension: 8, generator: &generator)  // 4 vectors, fewer than 16 codewords
        let index = try PartitionedImageIndex(queriesPerImage: 4, dimension: 8, lists: 1, probes: 1)
        try index.train(means: index.imageMeans(one), sample: one)
        try index.add(imageIDs: [42], embeddings: one)
        #expect(try index.search(Array(one[0..<8]), limit: 5).map(\.imageID) == [42])
    }

    @Test func listCountGrowsWithTheSquareRootOfTheLibrary() {
        #expect(PartitionedImageIndex.listCount(forImages: 1) == 1)
        #expect(PartitionedImageIndex.listCount(forImages: 3) == 3)
        #expect(PartitionedImageIndex.listCount(forImages: 10_000) == 256)
        #expect(PartitionedImageIndex.listCount(forImages: 1_000_000) == 2048)
    }
}
