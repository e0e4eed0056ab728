import Foundation
import Store
import TestSupport
import Testing
@testable import Query

/// Searching a real catalog, with the exact or approximate index cached beside it and
/// rebuilt on any change.
@Suite struct CatalogSearchTests {
    let model = ModelRecord(id: "model-x", description: "test", queryCount: 4, dimension: 8)

    func addImages(_ catalog: Catalog, _ range: Range<Int>, generator: inout SeededGenerator) throws {
        let vectors = range.map { _ in normalizedVectors(4, dimension: 8, generator: &generator) }
        try catalog.write { tx in
            try tx.register(model)
            for (n, values) in zip(range, vectors) {
                try tx.storeImage(StoredImage(contentHash: "h\(n)", modelId: model.id, vectors: values))
                try tx.upsert(CatalogFile(root: "/p", path: "/p/\(n).jpg", device: 1, inode: Int64(n), size: 1,
                                          modifiedNanoseconds: 0, contentHash: "h\(n)", state: .indexed))
            }
        }
    }

    func cacheFiles(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    @Test(arguments: [IndexKind.exact, .approximate])
    func theCachedIndexIsUsedWhileItMatchesAndRebuiltWhenTheCatalogChanges(kind: IndexKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        let cache = directory.appendingPathComponent("c.sqlite.index").path
        var generator = SeededGenerator(state: 3)
        try addImages(catalog, 0..<200, generator: &generator)
        let query = normalizedVectors(1, dimension: 8, generator: &generator)

        let first = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache)
        let expected = try first.search(SearchRequest(vectors: query, limit: 10))
        let saved = cacheFiles(cache)
        #expect(saved.count == 1 && saved[0].hasPrefix("model-x.200-"))
        let savedAt = try FileManager.default.attributesOfItem(atPath: cache + "/" + saved[0])[.modificationDate] as? Date

        let second = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache)
        #expect(try second.search(SearchRequest(vectors: query, limit: 10)) == expected)
        #expect(try FileManager.default.attributesOfItem(atPath: cache + "/" + saved[0])[.modificationDate] as? Date == savedAt)

        // A new image changes the fingerprint: the stale cache is replaced and the image found.
        try addImages(catalog, 200..<201, generator: &generator)
        let newImage = try #require(try catalog.file(path: "/p/200.jpg"))
        let stored = try #require(try catalog.write { try $0.existingImage(contentHash: "h200", modelId: model.id) })
        let itself = stored.floats.prefix(8)  // its first query vector finds it first
        let third = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache)
        #expect(try third.search(SearchRequest(vectors: Array(itself), limit: 1)).first?.paths == [newImage.path])
        #expect(cacheFiles(cache).count == 1 && cacheFiles(cache)[0].hasPrefix("model-x.201-"))
    }

    @Test(arguments: [IndexKind.exact, .approximate])
    func aDamagedCacheIsRebuiltNotTrusted(kind: IndexKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        let cache = directory.appendingPathComponent("index").path
        var generator = SeededGenerator(state: 5)
        try addImages(catalog, 0..<50, generator: &generator)
        let query = normalizedVectors(1, dimension: 8, generator: &generator)
        let expected = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache).search(SearchRequest(vectors: query, limit: 5))
        let file = cache + "/" + cacheFiles(cache)[0]
        let handle = try #require(FileHandle(forWritingAtPath: file))
        try handle.truncate(atOffset: 100)
        try handle.close()
        #expect(try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache).search(SearchRequest(vectors: query, limit: 5)) == expected)
    }
}
