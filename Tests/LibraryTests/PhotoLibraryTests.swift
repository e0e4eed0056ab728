import Embeddings
import Foundation
import Indexer
import Library
import Query
import Store
import TestSupport
import Testing

@Suite struct PhotoLibraryTests {
    let model: Blip2Model
    let folder: URL

    init() throws {
        model = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cpu"))
        folder = try Fixtures.temporaryDirectory()
    }

    @Test func aMissingCatalogIsNamedUnlessCreated() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("none.sqlite").path
        let error = #expect(throws: LibraryError.self) { try PhotoLibrary(path: path, create: false) }
        #expect(error?.kind == .noCatalog && error?.message.contains(path) == true)
        #expect(!FileManager.default.fileExists(atPath: path))
        let created = try PhotoLibrary(path: path, create: true)
        #expect(created.files == CatalogFiles(database: path))
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func aModelIsFoundOnlyOnceItIndexed() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let library = try PhotoLibrary(path: folder.appendingPathComponent("c.sqlite").path, create: true)
        let error = #expect(throws: LibraryError.self) { try library.record(of: model) }
        #expect(error?.kind == .modelNotIndexed && error?.message.contains(model.snapshot.directory.path) == true)

        let run = try library.indexRun(model: model, batchSize: 4)
        #expect(try library.record(of: model).id == run.modelRecord.id)
        #expect(run.modelRecord.queryCount == model.config.queryTokenCount
                && run.modelRecord.dimension == model.config.embeddingDimension)
    }

    @Test func statusCountsEveryStateAndListsCachedIndexesByKind() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let photos = folder.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for name in ["astronaut.png", "coffee.png"] {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(name)"), to: photos.appendingPathComponent(name))
        }
        try Data("not an image".utf8).write(to: photos.appendingPathComponent("broken.jpg"))
        let library = try PhotoLibrary(path: folder.appendingPathComponent("c.sqlite").path, create: true)
        let empty = try library.status()
        #expect(empty.filesByState == ["pending": 0, "indexed": 0, "failed": 0] && empty.cachedIndexes.isEmpty)

        let run = try library.indexRun(model: model, batchSize: 4)
        _ = try run.run(Crawler(roots: [photos.path]))
        let search = try library.search(model: run.modelRecord, kind: .exact)
        #expect(try search.search(SearchRequest(vectors: Array(repeating: 0.1, count: run.modelRecord.dimension))).count == 2)
        try Data().write(to: URL(fileURLWithPath: library.files.indexCacheDirectory + "/notes.txt"))

        let status = try library.status()
        #expect(status.filesByState == ["pending": 0, "indexed": 2, "failed": 1])
        #expect(status.offlineFiles == 0)
        #expect(status.cachedIndexes.count == 1)
        #expect(status.cachedIndexes.first?.kind == .exact && (status.cachedIndexes.first?.bytes ?? 0) > 0)
        #expect(status.cachedIndexes.first?.file.hasPrefix(library.files.indexCacheDirectory + "/") == true)
    }

    @Test func aTextWithNothingToSearchOrABadWeightIsAnInvalidSearch() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let empty = #expect(throws: LibraryError.self) {
            try SearchSubject.text(" \t\u{200B}").request(with: model, limit: 5, minScore: nil)
        }
        #expect(empty?.kind == .invalidSearch)
        let weight = #expect(throws: LibraryError.self) {
            try SearchSubject.text("a cat", negatives: ["a dog"], negativeWeight: -1).request(with: model, limit: 5, minScore: nil)
        }
        #expect(weight?.kind == .invalidSearch)
        let request = try SearchSubject.text("a cat", negatives: ["a dog"], negativeWeight: 0.5).request(with: model, limit: 5, minScore: 0.1)
        let texts = try model.embedTexts(["a cat", "a dog"])
        let expected = zip(texts[0].values, texts[1].values).map { $0 - 0.5 * $1 }
        #expect(maxAbsoluteDifference(request.vectors, expected) < 1e-6 && request.limit == 5 && request.minScore == 0.1)
    }
}
