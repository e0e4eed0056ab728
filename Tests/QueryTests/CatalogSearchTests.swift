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
        let identity = try catalog.identity()
        #expect(saved == ["model-x.\(identity.id)-\(identity.imageChanges).\(kind.description == "exact" ? "qscan" : "ivf")"])
        let savedAt = try FileManager.default.attributesOfItem(atPath: cache + "/" + saved[0])[.modificationDate] as? Date

        let second = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache)
        #expect(try second.search(SearchRequest(vectors: query, limit: 10)) == expected)
        #expect(try FileManager.default.attributesOfItem(atPath: cache + "/" + saved[0])[.modificationDate] as? Date == savedAt)

        // A new image changes the fingerprint: the stale cache is replaced and the image found.
        try addImages(catalog, 200..<201, generator: &generator)
        let newImage = try #require(try catalog.file(path: "/p/200.jpg"))
        let stored = try #require(try catalog.write { try $0.existingImage(contentHash: "h200", modelId: model.id) })
        let itself = try StoredVectors.floats(stored.vectors, count: model.queryCount * model.dimension, image: stored.id ?? 0,
                                             catalogPath: catalog.path).prefix(8)  // its first query vector finds it first
        let third = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache)
        #expect(try third.search(SearchRequest(vectors: Array(itself), limit: 1)).first?.paths == [newImage.path])
        let changed = try catalog.identity()
        #expect(changed.id == identity.id && changed.imageChanges > identity.imageChanges)
        #expect(cacheFiles(cache).count == 1 && cacheFiles(cache)[0].hasPrefix("model-x.\(identity.id)-\(changed.imageChanges)."))
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

    /// Four images along the axes of an 8-d space (every query vector of image n is axis n);
    /// the query along axis `best` finds image `best` first.
    func addAxisImages(_ catalog: Catalog, best: Int) throws {
        try catalog.write { tx in
            try tx.register(model)
            for n in 0..<4 {
                var vector = [Float](repeating: 0, count: 8)
                vector[n == best ? 7 : n] = 1
                let values = Array([[Float]](repeating: vector, count: 4).joined())
                try tx.storeImage(StoredImage(contentHash: "axis\(n)", modelId: model.id, vectors: values))
                try tx.upsert(CatalogFile(root: "/p", path: "/p/\(n).jpg", device: 1, inode: Int64(n), size: 1,
                                          modifiedNanoseconds: 0, contentHash: "axis\(n)", state: .indexed))
            }
        }
    }

    /// Issue 16.1: a catalog removed and made anew at the same path, with as many images (so
    /// the same ids), must not reuse the old catalog's cache.
    @Test(arguments: [IndexKind.exact, .approximate])
    func aNewCatalogAtTheSamePathNeverUsesTheOldOnesCache(kind: IndexKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("c.sqlite").path
        let cache = path + ".index"
        var query = [Float](repeating: 0, count: 8)
        query[7] = 1
        do {
            let old = try Catalog(path: path)
            try addAxisImages(old, best: 0)
            let search = try CatalogSearch(catalog: old, model: model, kind: kind, cacheDirectory: cache)
            #expect(try search.search(SearchRequest(vectors: query, limit: 1)).first?.paths == ["/p/0.jpg"])
        }
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let new = try Catalog(path: path)
        try addAxisImages(new, best: 3)
        let search = try CatalogSearch(catalog: new, model: model, kind: kind, cacheDirectory: cache)
        let top = try search.search(SearchRequest(vectors: query, limit: 1))
        #expect(top.first?.paths == ["/p/3.jpg"] && top.first?.score == 1)
    }

    /// Issue 16.1: a cache whose body has flipped bytes (header intact) is refused on load.
    @Test(arguments: [IndexKind.exact, .approximate])
    func aCacheWithFlippedBytesIsNotLoaded(kind: IndexKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        let cache = directory.appendingPathComponent("index").path
        var generator = SeededGenerator(state: 9)
        try addImages(catalog, 0..<300, generator: &generator)
        _ = try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: cache)
        let file = cache + "/" + cacheFiles(cache)[0]
        let load: () -> Bool = {
            switch kind {
            case .exact:
                QuantizedImageIndex.load(from: file, queriesPerImage: 4, dimension: 8, fp32Vectors: { _ in [:] }) != nil
            default:
                PartitionedImageIndex.load(from: file, queriesPerImage: 4, dimension: 8, probes: 4) != nil
            }
        }
        #expect(load())
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        for offset in stride(from: bytes.count / 2, to: bytes.count / 2 + 64, by: 8) { bytes[offset] ^= 0x5A }
        try bytes.write(to: URL(fileURLWithPath: file))
        #expect(!load())
    }

    /// Issue 16.10: a file where the cache folder belongs is one clear error, not a raw one.
    @Test func aFileWhereTheCacheFolderBelongsIsNamed() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        let cache = directory.appendingPathComponent("c.sqlite.index").path
        FileManager.default.createFile(atPath: cache, contents: Data("not a folder".utf8))
        var generator = SeededGenerator(state: 2)
        try addImages(catalog, 0..<3, generator: &generator)
        #expect {
            _ = try CatalogSearch(catalog: catalog, model: model, kind: .exact, cacheDirectory: cache)
        } throws: { error in
            "\(error)" == "\(cache): not a folder; the search index cache is kept there: move this file away"
        }
    }

    /// Issue 16.4: values that crashed the scan (NaN, infinity, a billion results) are
    /// refused or bounded before any C++ code sees them.
    @Test(arguments: [IndexKind.exact, .approximate])
    func badSearchValuesAreRefusedAndHugeLimitsBounded(kind: IndexKind) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        var generator = SeededGenerator(state: 4)
        try addImages(catalog, 0..<40, generator: &generator)
        let search = try CatalogSearch(catalog: catalog, model: model, kind: kind)
        let query = normalizedVectors(1, dimension: 8, generator: &generator)
        for bad: Float in [.nan, .infinity, -.infinity] {
            var vector = query
            vector[3] = bad
            #expect(throws: SearchRequestError.self) { try search.search(SearchRequest(vectors: vector, limit: 5)) }
            #expect(throws: SearchRequestError.self) {
                try SearchRequest.text(query, excluding: [query], weight: bad, limit: 5, minScore: nil)
            }
            #expect(throws: SearchRequestError.self) { try search.search(SearchRequest(vectors: query, limit: 5, minScore: bad)) }
            #expect(throws: VectorIndexError.self) { try search.index.search(vector, limit: 5) }
        }
        #expect(throws: SearchRequestError.self) { try search.search(SearchRequest(vectors: query, limit: 0)) }
        #expect(throws: SearchRequestError.self) { try search.search(SearchRequest(vectors: Array(query.prefix(5)), limit: 5)) }
        let all = try search.search(SearchRequest(vectors: query, limit: 1_000_000_000))
        #expect(all.count == 40)
        #expect(all.map(\.score) == all.map(\.score).sorted(by: >))
    }

    /// Offline files and files outside the given roots are passed over, and the search asks
    /// the index for more, so the result is still the exact top K of what may be shown.
    @Test func hiddenImagesArePassedOverAndTheTopKStaysExact() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("c.sqlite").path)
        var generator = SeededGenerator(state: 8)
        try addImages(catalog, 0..<100, generator: &generator)
        let query = normalizedVectors(1, dimension: 8, generator: &generator)
        let search = try CatalogSearch(catalog: catalog, model: model, kind: .exact)
        let everything = try search.search(SearchRequest(vectors: query, limit: 100))
        // The 30 best go offline (after the index was built); the next 5 are the answer.
        try catalog.write { tx in try tx.markOffline(paths: everything.prefix(30).flatMap(\.paths)) }
        #expect(try search.search(SearchRequest(vectors: query, limit: 5)) == Array(everything[30..<35]))
        // With roots, only files under them are shown.
        try catalog.write { tx in try tx.markOnline(paths: everything.prefix(30).flatMap(\.paths)) }
        try catalog.write { tx in
            for hit in everything.prefix(20) {
                for path in hit.paths {
                    var file = try #require(try catalog.file(path: path))
                    file.id = nil
                    file.path = "/elsewhere" + path
                    file.root = "/elsewhere/p"
                    try tx.upsert(file)
                    try tx.removeFiles(paths: [path])
                }
            }
        }
        #expect(try search.search(SearchRequest(vectors: query, limit: 5), under: ["/p"]) == Array(everything[20..<25]))
        #expect(try search.search(SearchRequest(vectors: query, limit: 5), under: ["/p/"]) == Array(everything[20..<25]))
        #expect(try search.search(SearchRequest(vectors: query, limit: 3), under: ["/elsewhere"]).map(\.imageID)
                    == everything.prefix(3).map(\.imageID))
    }
}
