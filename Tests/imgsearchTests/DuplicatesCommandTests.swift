import Foundation
import TestSupport
import Testing

/// `imgsearch duplicates` end to end: after `index`, copies and versions of a photo are
/// printed as groups, best first, as text and as JSON; bad options fail in one line.
@Suite struct DuplicatesCommandTests {
    struct Group: Decodable {
        struct Photo: Decodable {
            let path: String
            let match: String
            let distance: Int?
        }
        let photos: [Photo]
    }

    @Test func groupsCopiesAndVersionsBestFirst() throws {
        let (directory, folder) = try Fixtures.photoFolder(copying: ["metadata/colorful-cups.jpg", "images/photo.jpg",
                                                                     "images/orient_1.jpg", "images/orient_6.jpg",
                                                                     "images/chelsea.png", "images/coffee.png"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let album = folder.appendingPathComponent("album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: folder.appendingPathComponent("chelsea.png"), to: album.appendingPathComponent("cat.png"))
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let index = try CommandRunner.imgsearch(["index", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                                 "--device", "cpu", folder.path])
        try #require(index.status == 0, "\(index.standardError)")

        let json = try CommandRunner.imgsearch(["duplicates", "--db", database, "--json"])
        #expect(json.status == 0, "\(json.standardError)")
        let groups = try json.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Group.self, from: Data($0.utf8)) }
        let names = groups.map { $0.photos.map { String($0.path.dropFirst(folder.path.count + 1)) } }
        // photo.jpg (1280×800) and colorful-cups.jpg (400×250) were both made from one wallpaper.
        #expect(Set(names.map { $0.sorted() }) == [["colorful-cups.jpg", "photo.jpg"], ["orient_1.jpg", "orient_6.jpg"],
                                                   ["album/cat.png", "chelsea.png"]], "\(json.standardOutput)")
        let cups = try #require(groups.first { $0.photos.contains { $0.path.hasSuffix("photo.jpg") } })
        #expect(cups.photos.map(\.match) == ["best", "perceptual"] && cups.photos[0].path.hasSuffix("/photo.jpg"))
        #expect(groups.flatMap(\.photos).filter { $0.match == "identical" }.count == 1)

        let text = try CommandRunner.imgsearch(["duplicates", "--db", database, "--under", album.path])
        #expect(text.status == 0 && text.standardOutput.isEmpty, "one file under album/: no group")
        let all = try CommandRunner.imgsearch(["duplicates", "--db", database])
        #expect(all.standardOutput.split(separator: "\n").filter { $0.hasPrefix("keep  ") }.count == 3)
        #expect(all.standardError.contains("3 groups, 6 photos; 3 could go"), "\(all.standardError)")

        // The scene level with the catalog's only model: every pair above a cosine of -1.
        let scene = try CommandRunner.imgsearch(["duplicates", "--db", database, "--scene-threshold=-1", "--json"])
        #expect(scene.status == 0 && scene.standardOutput.split(separator: "\n").count == 1, "\(scene.standardError)")

        let bad = try CommandRunner.imgsearch(["duplicates", "--db", database, "--threshold", "64"])
        #expect(bad.status != 0 && bad.standardError.contains("--threshold is a number of bits from 0 to 63"))
    }
}
