import Foundation
import TestSupport
import Testing
@testable import Query

/// Searches under a filter (a set of allowed images): the exact top K among them, whether
/// the index skips the rest inside its scan (exact kind) or asks for more (the others).
@Suite struct FilteredSearchTests {
    struct Scenario: CustomStringConvertible, Sendable {
        let images: Int, keep: Double, limit: Int, searchVectors: Int
        var description: String { "\(images) images, filter keeps \(keep * 100)%, top \(limit), \(searchVectors) search vector(s)" }
    }

    static let scenarios: [Scenario] = [
        Scenario(images: 4000, keep: 0.5, limit: 10, searchVectors: 1),
        Scenario(images: 4000, keep: 0.01, limit: 10, searchVectors: 1),
        Scenario(images: 4000, keep: 0.001, limit: 10, searchVectors: 1),
        Scenario(images: 600, keep: 0.1, limit: 5, searchVectors: 32),
    ]

    @Test(arguments: scenarios)
    func filteredTopKEqualsBruteForceOverTheAllowedImages(_ scenario: Scenario) throws {
        let (queries, dimension) = (8, 32)
        var generator = SeededGenerator(state: UInt64(scenario.images) &* 31 &+ UInt64(scenario.keep * 1000))
        let ids = (0..<scenario.images).map { Int64($0 * 3 + 1) }
        let images = normalizedVectors(scenario.images * queries, dimension: dimension, generator: &generator)
        var allowed = Set(ids.filter { _ in Double.random(in: 0..<1, using: &generator) < scenario.keep })
        if allowed.isEmpty { allowed = [ids[7]] }
        allowed.insert(999_999)  // an id the index does not hold is ignored
        let search = normalizedVectors(scenario.searchVectors, dimension: dimension, generator: &generator)

        let positions = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        let kept = ids.filter(allowed.contains)
        let keptImages = kept.flatMap { id in images[(positions[id]! * queries * dimension)..<((positions[id]! + 1) * queries * dimension)] }
        let expected = bruteForce(images: keptImages, ids: kept, queriesPerImage: queries, dimension: dimension,
                                  search: search, limit: scenario.limit)

        let exact = try quantizedIndex(queries: queries, dimension: dimension, ids: ids, images: images)
        try exact.add(imageIDs: ids, embeddings: images)
        let flat = try VectorIndex(dimension: dimension, factory: "Flat")
        let faiss = FaissImageIndex(vectors: flat, queriesPerImage: queries)
        try faiss.add(imageIDs: ids, embeddings: images)
        for index in [exact, faiss] as [any ImageIndex] {
            let found = try index.search(search, limit: scenario.limit, among: allowed)
            #expect(found.map(\.imageID) == expected.map(\.id), "\(type(of: index))")
            for (hit, truth) in zip(found, expected) { #expect(abs(Double(hit.score) - truth.score) < 1e-4) }
        }
        // The scan reads only the allowed images.
        let reads = try exact.searchMeasuringReads(search, limit: scenario.limit, among: Array(allowed)).imagesReadInFull
        #expect(reads <= kept.count)
    }

    @Test func anEmptyFilterFindsNothing() throws {
        var generator = SeededGenerator(state: 5)
        let ids: [Int64] = [1, 2, 3]
        let images = normalizedVectors(3 * 4, dimension: 16, generator: &generator)
        let index = try quantizedIndex(queries: 4, dimension: 16, ids: ids, images: images)
        try index.add(imageIDs: ids, embeddings: images)
        #expect(try index.search(Array(images[0..<16]), limit: 5, among: []).isEmpty)
        #expect(try index.search(Array(images[0..<16]), limit: 5, among: [42]).isEmpty)
        #expect(try index.search(Array(images[0..<16]), limit: 5, among: [2]).map(\.imageID) == [2])
    }
}
