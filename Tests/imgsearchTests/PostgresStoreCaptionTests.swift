import Foundation
import TestSupport
import Testing

/// Captions, keyword and hybrid search, photo filters and duplicates on a PostgreSQL store
/// (`--store`), with the toy model and captioner: the store answers as the SQLite catalog
/// indexed from the same folder, and processes captioning one store at once caption each
/// content once.
@Suite(.serialized) struct PostgresStoreCaptionTests {
    static let captioner = PostgresStoreCommandTests.resources.appendingPathComponent("toy-captioner").path
    static let model = PostgresStoreCommandTests.model

    /// A `query --json` line.
    struct Line: Decodable, Equatable {
        let path: String
        let score: Float
        let caption: String?
        let taken: String?
    }

    static func lines(_ arguments: [String]) throws -> [Line] {
        let run = try CommandRunner.imgsearch(["query", "--model", model, "--json", "--no-daemon"] + arguments)
        #expect(run.status == 0, "\(arguments): \(run.standardError)")
        return try run.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Line.self, from: Data($0.utf8)) }
    }

    /// Photos with EXIF (dates, cameras, places, formats), one without in a subfolder, and
    /// demo pictures of coloured shapes, which the toy captioner describes.
    static func mixedFolder() throws -> (directory: URL, photos: URL) {
        let (directory, photos) = try Fixtures.photoFolder(copying: ["exif.jpg", "exif.png", "exif.tiff", "exif.webp", "exif.heic",
                                                                     "colorful-cups.jpg"].map { "metadata/\($0)" })
        let cats = photos.appendingPathComponent("cats")
        try FileManager.default.createDirectory(at: cats, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/chelsea.png"),
                                         to: cats.appendingPathComponent("chelsea.png"))
        let demo = PostgresStoreCommandTests.resources.appendingPathComponent("demo-images")
        for picture in try FileManager.default.contentsOfDirectory(atPath: demo.path).filter({ $0.hasSuffix("-1.jpg") }) {
            try FileManager.default.copyItem(at: demo.appendingPathComponent(picture), to: photos.appendingPathComponent(picture))
        }
        return (directory, photos)
    }

    @Test func captionsKeywordsAndFiltersOnAStoreAnswerAsSQLite() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos) = try Self.mixedFolder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = directory.appendingPathComponent("catalog.sqlite").path
        for target in [["--db", database], ["--store", store]] {
            let index = try CommandRunner.imgsearch(["index", "--model", Self.model, "--captions", Self.captioner] + target + [photos.path])
            #expect(index.status == 0, "\(target): \(index.standardError)")
        }
        let contents = 7 + 32
        #expect(try PostgresStoreCommandTests.count("SELECT count(*) FROM caption", in: store) == contents)
        #expect(try PostgresStoreCommandTests.count("SELECT count(*) FROM embedding_claim", in: store) == 0)

        let filters: [[String]] = [
            [], ["--after", "2023"], ["--after", "2014-04-29", "--before", "2023"], ["--camera", "canon"], ["--camera", "PIXEL 7"],
            ["--format", "png", "--format", "tiff"], ["--near", "48.85,2.29", "--within", "5"], ["--near", "0,0", "--within", "100"],
            ["--under", photos.appendingPathComponent("cats").path], ["--camera", "canon", "--format", "png"],
        ]
        var keywordHits = 0
        for (number, filter) in filters.enumerated() {
            // Semantic: the same photos, scores, captions and dates, best first (photos with the
            // same pixels tie, in either order).
            let example = photos.appendingPathComponent("blue-star-1.jpg").path
            let exact = number % 3 == 0 ? [(["a red circle"], ["--store-search", "exact"])] : []
            for (search, storeOnly) in [(["a red circle"], [String]()), (["--image", example], [])] + exact {
                let sqlite = try Self.lines(search + ["--db", database, "--limit", "12"] + filter)
                let stored = try Self.lines(search + storeOnly + ["--store", store, "--limit", "12"] + filter)
                let byPath = Dictionary(uniqueKeysWithValues: sqlite.map { ($0.path, $0) })
                #expect(Set(sqlite.map(\.path)) == Set(stored.map(\.path)) && sqlite.count == stored.count, "\(search) \(filter)")
                #expect(stored.allSatisfy { line in
                    byPath[line.path].map { abs($0.score - line.score) < 1e-5 && $0.caption == line.caption && $0.taken == line.taken } == true
                }, "\(search) \(filter): \(sqlite) vs \(stored)")
                #expect(zip(stored, stored.dropFirst()).allSatisfy { $0.score >= $1.score })
            }
            // Keyword and hybrid: the same photos (PostgreSQL ranks with ts_rank, SQLite with BM25).
            for words in number == 0 ? ["red", "blue Star", "no such words"] : ["circle", "blue star"] {
                let sqlite = try Self.lines(["--mode", "keyword", words, "--db", database, "--limit", "100"] + filter)
                let stored = try Self.lines(["--mode", "keyword", words, "--store", store, "--limit", "100"] + filter)
                #expect(Set(sqlite.map(\.path)) == Set(stored.map(\.path)), "\(words) \(filter)")
                #expect(stored.allSatisfy { line in
                    words == "no such words" || words.lowercased().split(separator: " ").allSatisfy { line.caption?.lowercased().contains($0) == true }
                }, "\(stored)")
                keywordHits += stored.count
                guard number % 3 == 0 else { continue }
                let hybridSQLite = try Self.lines(["--mode", "hybrid", words, "--db", database, "--limit", "100"] + filter)
                let hybridStored = try Self.lines(["--mode", "hybrid", words, "--store", store, "--limit", "100"] + filter)
                #expect(Set(hybridSQLite.map(\.path)) == Set(hybridStored.map(\.path)), "hybrid \(words) \(filter)")
            }
        }
        #expect(keywordHits > 0)
        // Dates and filters as in the SQLite tests, on the store alone.
        let canon = try Self.lines(["a photo", "--store", store, "--camera", "canon"]).map { ($0.path as NSString).lastPathComponent }
        #expect(Set(canon) == ["exif.jpg", "exif.png", "exif.tiff"])
        let sorted = try Self.lines(["a photo", "--store", store, "--sort", "date", "--limit", "50"])
        let taken = sorted.compactMap(\.taken)
        #expect(taken.count == contents && taken == taken.sorted(by: >))
    }

    @Test func twoProcessesCaptionEachContentOnce() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos, contents) = try PostgresStoreCommandTests.photoFolder(copies: 2)
        defer { try? FileManager.default.removeItem(at: directory) }
        let embed = try CommandRunner.imgsearch(["index", "--store", store, "--model", Self.model, photos.path])
        #expect(embed.status == 0, "\(embed.standardError)")
        // Both find every content embedded and uncaptioned: each captions what it claims.
        let arguments = ["index", "--store", store, "--model", Self.model, "--captions", Self.captioner, "--batch", "2", photos.path]
        let first = try PostgresStoreCommandTests.Running(arguments, in: directory, name: "first")
        let second = try PostgresStoreCommandTests.Running(arguments, in: directory, name: "second")
        let outputs = [first.finish(), second.finish()]
        for output in outputs { #expect(output.status == 0, "\(output.output)") }
        let captioned = outputs.map { output in
            output.output.split(separator: "\n").compactMap { line in
                line.wholeMatch(of: /(\d+) captioned/).flatMap { Int($0.1) }
            }.reduce(0, +)
        }
        #expect(captioned.reduce(0, +) == contents, "\(captioned)")
        #expect(try PostgresStoreCommandTests.count("SELECT count(*) FROM caption", in: store) == contents)
        #expect(try PostgresStoreCommandTests.count("SELECT count(*) FROM embedding_claim", in: store) == 0)
        // The keyword search finds them: every hit's caption holds both words.
        let red = try Self.lines(["--mode", "keyword", "red circle", "--store", store, "--limit", "100"])
        #expect(red.count >= 2 && red.allSatisfy { $0.caption?.contains("red") == true && $0.caption?.contains("circle") == true },
                "\(red)")
    }

    /// A `duplicates --json` photo.
    struct DuplicatePhoto: Decodable {
        let path: String
        let match: String
        let width: Int?
        let taken: String?
        let distance: Int?
        let similarity: Float?
    }

    @Test func duplicatesOnAStoreAreTheSQLiteCatalogs() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos) = try Fixtures.photoFolder(copying: ["metadata/colorful-cups.jpg", "images/photo.jpg",
                                                                    "images/orient_1.jpg", "images/orient_6.jpg",
                                                                    "images/chelsea.png", "images/coffee.png"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let album = photos.appendingPathComponent("album")
        try FileManager.default.createDirectory(at: album, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: photos.appendingPathComponent("chelsea.png"), to: album.appendingPathComponent("cat.png"))
        let database = directory.appendingPathComponent("catalog.sqlite").path
        for target in [["--db", database], ["--store", store]] {
            let index = try CommandRunner.imgsearch(["index", "--model", Self.model] + target + [photos.path])
            #expect(index.status == 0, "\(target): \(index.standardError)")
        }
        func groups(_ arguments: [String]) throws -> [[DuplicatePhoto]] {
            let run = try CommandRunner.imgsearch(["duplicates", "--json"] + arguments)
            #expect(run.status == 0, "\(arguments): \(run.standardError)")
            return try run.standardOutput.split(separator: "\n").map {
                try JSONDecoder().decode([String: [DuplicatePhoto]].self, from: Data($0.utf8))["photos"] ?? []
            }
        }
        var found = 0
        for options in [[], ["--under", album.path], ["--scene-threshold", "0.8"], ["--scene-threshold=-1"], ["--threshold", "3"]] {
            let sqlite = try groups(["--db", database] + options), stored = try groups(["--store", store] + options)
            #expect(sqlite.map { $0.map(\.path) } == stored.map { $0.map(\.path) }, "\(options)")
            for (a, b) in zip(sqlite.joined(), stored.joined()) {
                #expect(a.match == b.match && a.width == b.width && a.taken == b.taken && a.distance == b.distance
                        && abs((a.similarity ?? 0) - (b.similarity ?? 0)) < 1e-5, "\(options): \(a) vs \(b)")
            }
            found += stored.count
        }
        #expect(found >= 7)
    }
}
