import Embeddings
import Foundation
import Indexer
import Library
import Store
import TestSupport
import Testing

/// `DuplicateFinder` on an indexed folder: byte-identical copies and a re-encoded, smaller
/// version of one photo make one group, best first; other photos stay alone; the scene level
/// joins by embeddings; folders limit what is compared.
@Suite struct DuplicateFinderTests {
    let directory: URL
    let photos: URL
    let catalog: Catalog
    let modelId: String

    init() throws {
        (directory, photos) = try Fixtures.photoFolder(copying: ["metadata/colorful-cups.jpg", "images/astronaut.png",
                                                                 "images/coffee.png", "images/chelsea.png"])
        let others = photos.appendingPathComponent("others")
        try FileManager.default.createDirectory(at: others, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: photos.appendingPathComponent("colorful-cups.jpg"), to: others.appendingPathComponent("copy.jpg"))
        try Thumbnailer(maxSide: 300).jpeg(path: photos.appendingPathComponent("colorful-cups.jpg").path)
            .write(to: others.appendingPathComponent("small.jpg"))
        let library = try PhotoLibrary(path: directory.appendingPathComponent("c.sqlite").path, create: true)
        let model = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cpu", parts: .image))
        let run = try library.indexRun(model: model, batchSize: 4)
        _ = try run.run(Crawler(roots: [photos.path]))
        catalog = library.catalog
        modelId = run.modelRecord.id
    }

    func names(_ group: DuplicateGroup) -> [String] {
        group.photos.map { String($0.picture.path.dropFirst(photos.path.count + 1)) }
    }

    @Test func copiesAndVersionsMakeOneGroupBestFirst() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let groups = try DuplicateFinder().groups(in: catalog)
        try #require(groups.count == 1)
        // Full size first (the copy and the original have the same pixels, date and size: by path).
        #expect(names(groups[0]) == ["colorful-cups.jpg", "others/copy.jpg", "others/small.jpg"])
        #expect(groups[0].photos[0].match == .best && groups[0].photos[1].match == .identical)
        guard case .perceptual(let distance) = groups[0].photos[2].match else {
            Issue.record("the smaller version matches by signature: \(groups[0].photos[2].match)")
            return
        }
        #expect(distance <= PerceptualSignature.defaultThreshold)
        #expect(try #require(groups[0].photos[2].picture.width) == 300
                && groups[0].photos[0].picture.width ?? 0 > 300)

        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(groups[0])) as? [String: Any]
        let listed = json?["photos"] as? [[String: Any]] ?? []
        #expect(listed.map { $0["match"] as? String } == ["best", "identical", "perceptual"])

        // A threshold of 0 keeps only the identical copy with the original; a folder only its own files.
        #expect(try DuplicateFinder(threshold: 0).groups(in: catalog).map(names) == [["colorful-cups.jpg", "others/copy.jpg"]])
        #expect(try DuplicateFinder().groups(in: catalog, under: [photos.appendingPathComponent("others").path]).map(names)
                == [["others/copy.jpg", "others/small.jpg"]])
    }

    @Test func theSceneLevelJoinsByEmbeddings() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        // Every cosine is above -1: one group of all six files.
        let everything = try DuplicateFinder(sceneThreshold: -1).groups(in: catalog, modelId: modelId)
        #expect(everything.count == 1 && everything[0].photos.count == 6)
        #expect(everything[0].photos.contains { if case .scene = $0.match { true } else { false } })
        // Above 1 nothing: the perceptual groups only.
        #expect(try DuplicateFinder(sceneThreshold: 1.01).groups(in: catalog, modelId: modelId).map(\.photos.count) == [3])
        #expect(throws: LibraryError.self) { try DuplicateFinder(sceneThreshold: 0.9).groups(in: catalog) }
    }
}
