import Foundation
import TestSupport
import Testing
@testable import Query

/// `count` L2-normalised random vectors of `dimension`, back to back.
func normalizedVectors(_ count: Int, dimension: Int, generator: inout SeededGenerator) -> [Float] {
    var values: [Float] = []
    for _ in 0..<count {
        let vector = (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) }
        let norm = sqrt(vector.reduce(0) { $0 + $1 * $1 })
        values += vector.map { $0 / norm }
    }
    return values
}

/// The definition: every image's best dot product over all (search, image) vector pairs,
/// computed in Double, best first, ties by id.
func bruteForce(images: [Float], ids: [Int64], queriesPerImage: Int, dimension: Int,
                search: [Float], limit: Int) -> [(id: Int64, score: Double)] {
    let searchCount = search.count / dimension
    var scored: [(id: Int64, score: Double)] = []
    for (index, id) in ids.enumerated() {
        var best = -Double.infinity
        for query in 0..<queriesPerImage {
            let base = (index * queriesPerImage + query) * dimension
            for s in 0..<searchCount {
                var dot = 0.0
                for d in 0..<dimension { dot += Double(images[base + d]) * Double(search[s * dimension + d]) }
                best = max(best, dot)
            }
        }
        scored.append((id, best))
    }
    scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
    return Array(scored.prefix(limit))
}

/// An empty int8-scan index whose fp32 re-scoring reads `images` (by `ids`, in order).
func quantizedIndex(queries: Int, dimension: Int, ids: [Int64], images: [Float]) throws -> QuantizedImageIndex {
    let floatsPerImage = queries * dimension
    var byID: [Int64: [Float]] = [:]
    for (index, id) in ids.enumerated() { byID[id] = Array(images[(index * floatsPerImage)..<((index + 1) * floatsPerImage)]) }
    let fp32 = byID
    return try QuantizedImageIndex(queriesPerImage: queries, dimension: dimension) { wanted in fp32.filter { wanted.contains($0.key) } }
}

@Suite struct ImageIndexTests {
    struct Scenario: CustomStringConvertible, Sendable {
        let images: Int, queries: Int, dimension: Int, limit: Int, searchVectors: Int
        var description: String { "\(images) images × \(queries) queries, d=\(dimension), top \(limit), \(searchVectors) search vector(s)" }
    }

    static let scenarios: [Scenario] = [
        Scenario(images: 1, queries: 1, dimension: 8, limit: 1, searchVectors: 1),
        Scenario(images: 7, queries: 4, dimension: 8, limit: 10, searchVectors: 1),
        Scenario(images: 100, queries: 32, dimension: 16, limit: 1, searchVectors: 1),
        Scenario(images: 100, queries: 32, dimension: 16, limit: 10, searchVectors: 1),
        Scenario(images: 1000, queries: 8, dimension: 32, limit: 50, searchVectors: 1),
        Scenario(images: 2000, queries: 32, dimension: 16, limit: 20, searchVectors: 1),
        Scenario(images: 300, queries: 32, dimension: 16, limit: 10, searchVectors: 32),
    ]

    /// Both exact kinds: the int8 scan with fp32 re-scoring, and FAISS's flat index.
    static func exactIndexes(queries: Int, dimension: Int, ids: [Int64], images: [Float]) throws -> [any ImageIndex] {
        [
            try quantizedIndex(queries: queries, dimension: dimension, ids: ids, images: images),
            FaissImageIndex(vectors: try VectorIndex(dimension: dimension, factory: "Flat"), queriesPerImage: queries),
        ]
    }

    @Test(arguments: scenarios)
    func exactIndexesEqualBruteForce(_ scenario: Scenario) throws {
        var generator = SeededGenerator(state: UInt64(scenario.images * 31 + scenario.limit))
        let ids = (0..<scenario.images).map { Int64($0 * 3 + 5) }  // sparse ids, as after deletions
        let images = normalizedVectors(scenario.images * scenario.queries, dimension: scenario.dimension, generator: &generator)
        let indexes = try Self.exactIndexes(queries: scenario.queries, dimension: scenario.dimension, ids: ids, images: images)
        for index in indexes { try index.add(imageIDs: ids, embeddings: images) }
        for trial in 0..<5 {
            let search = normalizedVectors(scenario.searchVectors, dimension: scenario.dimension, generator: &generator)
            let expected = bruteForce(images: images, ids: ids, queriesPerImage: scenario.queries,
                                      dimension: scenario.dimension, search: search, limit: scenario.limit)
            for index in indexes {
            let found = try index.search(search, limit: scenario.limit)
            #expect(found.count == expected.count, "trial \(trial)")
            for (rank, (hit, truth)) in zip(found, expected).enumerated() {
                // Same score at every rank; the same image unless two scores tie within float error.
                #expect(abs(Double(hit.score) - truth.score) < 1e-5, "trial \(trial) rank \(rank)")
                if hit.imageID != truth.id {
                    let truthOfHit = expected.first { $0.id == hit.imageID }?.score
                    #expect(truthOfHit.map { abs($0 - truth.score) < 1e-5 } == true, "trial \(trial) rank \(rank): \(hit.imageID) vs \(truth.id)")
                }
            }
            }
        }
    }

    @Test func tiesAcrossTheCutoffAreBrokenByImageID() throws {
        // Ten identical images: every one ties with every other.
        let image: [Float] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]
        let ids: [Int64] = [90, 10, 50, 30, 70, 20, 80, 40, 60, 100]
        let images = Array(repeating: image, count: ids.count).flatMap { $0 }
        for index in try Self.exactIndexes(queries: 3, dimension: 4, ids: ids, images: images) {
            try index.add(imageIDs: ids, embeddings: images)
            let found = try index.search([0, 1, 0, 0], limit: 3)
            #expect(found.map(\.imageID) == [10, 20, 30], "\(type(of: index))")
            #expect(found.allSatisfy { $0.score == 1 })
        }
    }

    @Test func removedImagesAreNeverFound() throws {
        var generator = SeededGenerator(state: 7)
        let ids: [Int64] = Array(1...50)
        let images = normalizedVectors(50 * 4, dimension: 8, generator: &generator)
        let search = normalizedVectors(1, dimension: 8, generator: &generator)
        for index in try Self.exactIndexes(queries: 4, dimension: 8, ids: ids, images: images) {
            try index.add(imageIDs: ids, embeddings: images)
            #expect(try index.remove(imageIDs: [3, 4, 5, 99]) == 3)
            #expect(index.imageCount == 47)
            let found = try index.search(search, limit: 50)
            #expect(found.count == 47, "\(type(of: index))")
            #expect(Set(found.map(\.imageID)).isDisjoint(with: [3, 4, 5]))
        }
    }

    @Test func savedIndexLoadsWithTheSameResults() throws {
        var generator = SeededGenerator(state: 11)
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let vectors = try VectorIndex(dimension: 16, factory: "Flat")
        let index = FaissImageIndex(vectors: vectors, queriesPerImage: 8)
        try index.add(imageIDs: Array(0..<200), embeddings: normalizedVectors(200 * 8, dimension: 16, generator: &generator))
        let path = directory.appendingPathComponent("index.faiss").path
        try vectors.save(to: path)
        let loaded = FaissImageIndex(vectors: try VectorIndex.load(from: path), queriesPerImage: 8)
        let search = normalizedVectors(1, dimension: 16, generator: &generator)
        #expect(try loaded.search(search, limit: 10) == (try index.search(search, limit: 10)))
    }

    @Test func corruptSavedIndexIsAnError() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("index.faiss").path
        try Data("not an index".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: VectorIndexError.self) { _ = try VectorIndex.load(from: path) }
    }

    @Test func unknownFactoryStringIsAnError() {
        #expect {
            _ = try VectorIndex(dimension: 16, factory: "NoSuchIndex99")
        } throws: { error in
            "\(error)".contains("NoSuchIndex99")
        }
    }

    @Test func untrainedApproximateIndexRefusesVectors() throws {
        let index = try VectorIndex(dimension: 16, factory: "IVF4,Flat")
        #expect(!index.isTrained)
        #expect(throws: VectorIndexError.self) { try index.add([Float](repeating: 0.25, count: 16), ids: [1]) }
    }

}

/// The int8 scan's two passes (qscan.h): the coarse one must rule images out where the data
/// allows it, and neither may change the result.
@Suite struct QuantizedScanTests {
    static func index(_ ids: [Int64], _ images: [Float], queries: Int, dimension: Int) throws -> QuantizedImageIndex {
        let index = try quantizedIndex(queries: queries, dimension: dimension, ids: ids, images: images)
        try index.add(imageIDs: ids, embeddings: images)
        return index
    }

    /// normalize(topic + 0.8 × noise): the benchmark's clustered data, in small.
    static func clustered(images: Int, topics: Int, queries: Int, dimension: Int,
                          generator: inout SeededGenerator) -> (vectors: [Float], topicVectors: [Float]) {
        let topicVectors = normalizedVectors(topics, dimension: dimension, generator: &generator)
        var vectors: [Float] = []
        for image in 0..<images {
            let topic = image % topics
            for _ in 0..<queries {
                let noise = normalizedVectors(1, dimension: dimension, generator: &generator)
                let mixed = (0..<dimension).map { topicVectors[topic * dimension + $0] + 0.8 * noise[$0] }
                let norm = sqrt(mixed.reduce(0) { $0 + $1 * $1 })
                vectors += mixed.map { $0 / norm }
            }
        }
        return (vectors, topicVectors)
    }

    @Test func coarsePassRulesOutDistantImagesWithoutChangingTheResult() throws {
        var generator = SeededGenerator(state: 2024)
        let (images, queries, dimension, topics) = (1000, 32, 256, 40)
        let data = Self.clustered(images: images, topics: topics, queries: queries, dimension: dimension, generator: &generator)
        let ids = (0..<images).map { Int64($0 * 7 + 1) }
        let index = try Self.index(ids, data.vectors, queries: queries, dimension: dimension)
        for topic in [3, 17, 33] {
            // A search vector near one topic: its 25 images score ~0.6, all others below ~0.35.
            let noise = normalizedVectors(1, dimension: dimension, generator: &generator)
            let search = (0..<dimension).map { data.topicVectors[topic * dimension + $0] + 0.8 * noise[$0] }
            let found = try index.searchMeasuringReads(search, limit: 10)
            let expected = bruteForce(images: data.vectors, ids: ids, queriesPerImage: queries, dimension: dimension,
                                      search: search, limit: 10)
            #expect(found.hits.map(\.imageID) == expected.map(\.id), "topic \(topic)")
            #expect(zip(found.hits, expected).allSatisfy { abs(Double($0.score) - $1.score) < 1e-5 })
            #expect(found.imagesReadInFull < images / 10, "topic \(topic): \(found.imagesReadInFull) read in full")
        }
        // Near no topic, the coarse bounds rule out little, and every image is read in full.
        let unrelated = normalizedVectors(1, dimension: dimension, generator: &generator)
        let found = try index.searchMeasuringReads(unrelated, limit: 10)
        let expected = bruteForce(images: data.vectors, ids: ids, queriesPerImage: queries, dimension: dimension,
                                  search: unrelated, limit: 10)
        #expect(found.hits.map(\.imageID) == expected.map(\.id))
        #expect(found.imagesReadInFull == images)
    }

    /// "More like this": an image's 32 vectors. Each image's summary (a reference point and a
    /// radius) bounds what it can score, so images of other topics are ruled out before any of
    /// their vectors is compared with the 32; the result is still brute force's, also under a filter.
    @Test func anImagesVectorsRuleOutOtherTopicsByTheirSummaries() throws {
        var generator = SeededGenerator(state: 77)
        let (images, queries, dimension, topics) = (1000, 32, 256, 20)
        let data = Self.clustered(images: images, topics: topics, queries: queries, dimension: dimension, generator: &generator)
        let ids = (0..<images).map { Int64($0 * 5 + 2) }
        let index = try Self.index(ids, data.vectors, queries: queries, dimension: dimension)
        for topic in [2, 11, 19] {
            // A new image of this topic: its 50 images score ~0.7, the others below ~0.4.
            var search: [Float] = []
            for _ in 0..<queries {
                let noise = normalizedVectors(1, dimension: dimension, generator: &generator)
                let mixed = (0..<dimension).map { data.topicVectors[topic * dimension + $0] + 0.8 * noise[$0] }
                let norm = sqrt(mixed.reduce(0) { $0 + $1 * $1 })
                search += mixed.map { $0 / norm }
            }
            let found = try index.searchMeasuringReads(search, limit: 10)
            let ranking = bruteForce(images: data.vectors, ids: ids, queriesPerImage: queries, dimension: dimension,
                                     search: search, limit: images)
            let expected = Array(ranking.prefix(10))
            #expect(found.hits.map(\.imageID) == expected.map(\.id), "topic \(topic)")
            #expect(zip(found.hits, expected).allSatisfy { abs(Double($0.score) - $1.score) < 1e-5 })
            #expect(found.imagesReadInFull <= images / topics, "topic \(topic): \(found.imagesReadInFull) read in full")
            // Under a filter keeping every third image.
            let allowed = Set(ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element))
            let filtered = try index.search(search, limit: 10, among: allowed)
            #expect(filtered.map(\.imageID) == ranking.filter { allowed.contains($0.id) }.prefix(10).map(\.id), "topic \(topic), filtered")
        }
        // 32 vectors near no topic and far apart: the summaries rule out nothing, and the
        // result is still exact.
        let scattered = normalizedVectors(queries, dimension: dimension, generator: &generator)
        let found = try index.search(scattered, limit: 10)
        let expected = bruteForce(images: data.vectors, ids: ids, queriesPerImage: queries, dimension: dimension,
                                  search: scattered, limit: 10)
        #expect(zip(found, expected).allSatisfy { abs(Double($0.score) - $1.score) < 1e-5 } && found.count == 10)
    }

    @Test func differencesFinerThanTheCodesAreRankedByTheFP32Vectors() throws {
        // 120 images that differ from each other by 0.001 in score, far below the int8 step
        // (~0.01 here): neither pass can order them, so all reach the fp32 re-scoring.
        var generator = SeededGenerator(state: 99)
        let (queries, dimension) = (4, 64)
        let base = normalizedVectors(queries, dimension: dimension, generator: &generator)
        let search = normalizedVectors(1, dimension: dimension, generator: &generator)
        var ids: [Int64] = [], images: [Float] = []
        for k in (0..<120).shuffled(using: &generator) {
            ids.append(Int64(k))
            images += base.enumerated().map { $0.element + Float(k) * 1e-3 * search[$0.offset % dimension] }
        }
        let index = try Self.index(ids, images, queries: queries, dimension: dimension)
        let found = try index.search(search, limit: 10)
        #expect(found.map(\.imageID) == Array((110..<120).reversed()).map { Int64($0) })
    }

    @Test func vectorsOfMixedMagnitudesEqualBruteForce() throws {
        // Unnormalised vectors from 0.01 to 100 in length and a long search vector: every
        // bound scales with its own vector.
        var generator = SeededGenerator(state: 5)
        let (count, queries, dimension) = (600, 8, 96)
        var images = normalizedVectors(count * queries, dimension: dimension, generator: &generator)
        for vector in 0..<(count * queries) {
            let length = Float(pow(10, Double.random(in: -2...2, using: &generator)))
            for d in 0..<dimension { images[vector * dimension + d] *= length }
        }
        let ids = (0..<count).map { Int64($0) }
        let index = try Self.index(ids, images, queries: queries, dimension: dimension)
        for _ in 0..<3 {
            let search = normalizedVectors(1, dimension: dimension, generator: &generator).map { $0 * 50 }
            let found = try index.search(search, limit: 20)
            let expected = bruteForce(images: images, ids: ids, queriesPerImage: queries, dimension: dimension,
                                      search: search, limit: 20)
            #expect(found.map(\.imageID) == expected.map(\.id))
            #expect(zip(found, expected).allSatisfy { abs(Double($0.score) - $1.score) <= 1e-5 * abs($1.score) })
        }
    }
}
