import Foundation
import TestSupport
import Testing

/// `index` reads each photo's metadata and `query`'s filters keep exactly the photos they
/// describe, on real files with EXIF (tools/make_metadata_fixtures.sh) and one without.
@Suite struct QueryFilterTests {
    struct Line: Decodable {
        let path: String
        let score: Float
        let taken: String?
    }

    let directory: URL
    let folder: URL
    let database: String
    /// The photo without EXIF, dated by its file's time.
    let undated: URL

    init() throws {
        (directory, folder) = try Fixtures.photoFolder(copying: ["exif.jpg", "exif.png", "exif.tiff", "exif.webp", "exif.heic",
                                                                 "colorful-cups.jpg"].map { "metadata/\($0)" })
        let cats = folder.appendingPathComponent("cats")
        try FileManager.default.createDirectory(at: cats, withIntermediateDirectories: true)
        undated = cats.appendingPathComponent("chelsea.png")
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/chelsea.png"), to: undated)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_588_680_000)],  // 2020-05-05
                                              ofItemAtPath: undated.path)
        database = directory.appendingPathComponent("catalog.sqlite").path
        let index = try CommandRunner.imgsearch(["index", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                                 "--device", "cpu", folder.path])
        #expect(index.status == 0, "\(index.standardError)")
    }

    func names(_ arguments: [String]) throws -> [String] {
        try lines(arguments).map { ($0.path as NSString).lastPathComponent }
    }

    func lines(_ arguments: [String]) throws -> [Line] {
        let run = try CommandRunner.imgsearch(["query", "a photo", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                               "--device", "cpu", "--json", "--no-daemon", "--limit", "20"] + arguments)
        #expect(run.status == 0, "\(run.standardError)")
        return try run.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }

    @Test func eachFilterKeepsExactlyThePhotosItDescribes() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let paris = ["exif.jpg", "exif.png", "exif.tiff"]
        #expect(try Set(names([])) == Set(paris + ["exif.webp", "exif.heic", "colorful-cups.jpg", "chelsea.png"]))
        #expect(try Set(names(["--after", "2023"])) == Set(paris + ["exif.heic"]))
        #expect(try Set(names(["--after", "2014-04-29", "--before", "2023"])) == ["exif.webp", "colorful-cups.jpg", "chelsea.png"])
        #expect(try Set(names(["--after", "2014-04-29 14:25:27", "--before", "2020-06"])) == ["chelsea.png"])
        #expect(try Set(names(["--camera", "canon"])) == Set(paris))
        #expect(try names(["--camera", "PIXEL 7"]) == ["exif.webp"])
        #expect(try names(["--format", "heic"]) == ["exif.heic"])
        #expect(try Set(names(["--format", "png", "--format", "tiff"])) == ["exif.png", "exif.tiff", "chelsea.png"])
        #expect(try Set(names(["--near", "48.85,2.29", "--within", "5"])) == Set(paris))
        #expect(try names(["--near", "40.7,-74.0", "--within", "10"]) == ["exif.heic"])
        #expect(try names(["--near=-33.86,151.21", "--within", "1"]) == ["exif.webp"])
        #expect(try names(["--near", "0,0", "--within", "100"]).isEmpty)
        #expect(try names(["--under", folder.appendingPathComponent("cats").path]) == ["chelsea.png"])
        #expect(try names(["--camera", "canon", "--format", "png"]) == ["exif.png"])
        // Keyword search needs captions: none here, so nothing, with or without a filter.
        #expect(try names(["--mode", "keyword", "--camera", "canon"]).isEmpty)
    }

    @Test func sortByDateAndTheDatesPrinted() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let sorted = try lines(["--sort", "date"])
        let taken = sorted.compactMap(\.taken)
        #expect(taken.count == 7 && taken == taken.sorted(by: >))
        #expect(("\(sorted[0].path)" as NSString).lastPathComponent == "exif.heic" && sorted[0].taken == "2024-01-02 03:04:05")
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.dateFormat = "yyyy-MM-dd HH:mm:ss"
        #expect(sorted.first { $0.path.hasSuffix("chelsea.png") }?.taken == local.string(from: Date(timeIntervalSince1970: 1_588_680_000)))
        // By score, the same photos.
        #expect(try Set(lines([]).map(\.path)) == Set(sorted.map(\.path)))
    }

    @Test func statusShowsTheDateRangeAndCameras() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let status = try CommandRunner.imgsearch(["status", "--db", database])
        #expect(status.status == 0)
        #expect(status.standardOutput.contains("taken    2014-04-29 14:25:26 to 2024-01-02 03:04:05 (1 dated by their file's time: no EXIF date)"))
        #expect(status.standardOutput.contains("camera   Canon EOS R6: 3 photos"))
        #expect(status.standardOutput.contains("camera   SONY NEX-3N: 1 photos"))
    }

    @Test func badFiltersAreRefusedWithTheReason() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        for (arguments, message) in [(["--after", "yesterday"], "--after yesterday: not a date"),
                                     (["--after", "2024", "--before", "2023"], "--after 2024 is not before 2023"),
                                     (["--format", "bmp"], "--format bmp: one of"),
                                     (["--near", "91,0"], "--near 91,0"),
                                     (["--within", "3"], "--within is the radius of near")] {
            let run = try CommandRunner.imgsearch(["query", "x", "--db", database] + arguments)
            #expect(run.status != 0 && run.standardError.contains(message), "\(arguments): \(run.standardError)")
        }
    }
}
