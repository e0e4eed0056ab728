import Foundation
import Store
import TestSupport
import Testing

/// `imgsearch index --captions` and `query --mode keyword|hybrid`, end to end on real photos
/// with the tiny retrieval model and a tiny captioning model.
@Suite struct CaptionIndexTests {
    let model = Fixtures.model("tiny-a").path
    let captioner = Fixtures.generationModel("opt-placeholder").path
    let photos = ["astronaut.png", "chelsea.png", "coffee.png"]

    struct Row: Decodable {
        let path: String
        let score: Float
        let caption: String?
    }

    func withLibrary(_ body: (URL, String) throws -> Void) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for photo in photos {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(photo)"),
                                             to: folder.appendingPathComponent(photo))
        }
        try body(folder, directory.appendingPathComponent("catalog.sqlite").path)
    }

    func index(_ folder: URL, _ database: String, captions: Bool = true) throws -> String {
        let run = try CommandRunner.imgsearch(["index", "--db", database, "--model", model, "--device", "cpu", folder.path]
                                              + (captions ? ["--captions", captioner] : []))
        #expect(run.status == 0, "\(run.standardError)")
        return run.standardOutput
    }

    func query(_ database: String, _ arguments: [String]) throws -> [Row] {
        let run = try CommandRunner.imgsearch(["query", "--db", database, "--model", model, "--device", "cpu", "--json"] + arguments)
        #expect(run.status == 0, "\(run.standardError)")
        return try run.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Row.self, from: Data($0.utf8)) }
    }

    /// Captions are kept per content: an already-embedded library is captioned without
    /// re-embedding, a second run captions nothing, a moved photo keeps its caption.
    @Test func captionsAreAddedOnceAndFollowTheContent() throws {
        try withLibrary { folder, database in
            #expect(try index(folder, database, captions: false).contains("3 embedded"))
            let first = try index(folder, database)
            #expect(first.contains("0 embedded") && first.contains("3 captioned"), "\(first)")
            #expect(try index(folder, database).contains("0 captioned"))
            try FileManager.default.moveItem(at: folder.appendingPathComponent("chelsea.png"),
                                             to: folder.appendingPathComponent("cat.png"))
            let moved = try index(folder, database)
            #expect(moved.contains("0 captioned"), "\(moved)")
            let rows = try query(database, ["--limit", "3", "anything"])
            #expect(rows.count == 3 && rows.allSatisfy { $0.caption?.isEmpty == false }, "\(rows)")
            #expect(try Catalog(path: database).integrityCheck() == ["ok"])
            let status = try CommandRunner.imgsearch(["status", "--db", database])
            #expect(status.standardOutput.contains(": 3 photos captioned"), "\(status.standardOutput)")
        }
    }

    /// A word that only one photo's caption holds finds that photo by keyword and in the
    /// hybrid ranking; the semantic ranking is what it was without captions.
    /// A deleted photo's caption leaves with its embedding (`prune`), a copy's caption stays.
    @Test func pruneForgetsTheCaptionsOfVanishedPhotos() throws {
        try withLibrary { folder, database in
            try FileManager.default.copyItem(at: folder.appendingPathComponent("coffee.png"),
                                             to: folder.appendingPathComponent("coffee copy.png"))
            #expect(try index(folder, database).contains("3 embedded"))
            let catalog = try Catalog(path: database)
            #expect(try catalog.captionCounts().values.reduce(0, +) == 3)
            try FileManager.default.removeItem(at: folder.appendingPathComponent("chelsea.png"))
            try FileManager.default.removeItem(at: folder.appendingPathComponent("coffee.png"))
            _ = try index(folder, database)
            #expect(try catalog.captionCounts().values.reduce(0, +) == 3, "kept through the grace period")
            let prune = try CommandRunner.imgsearch(["prune", "--db", database])
            #expect(prune.status == 0, "\(prune.standardError)")
            #expect(try catalog.captionCounts().values.reduce(0, +) == 2)
            #expect(try catalog.captions(ofPaths: [folder.appendingPathComponent("coffee copy.png").path]).count == 1)
            #expect(try catalog.integrityCheck() == ["ok"])
        }
    }

    @Test func keywordAndHybridSearchFindAPhotoByAWordOfItsCaption() throws {
        try withLibrary { folder, database in
            _ = try index(folder, database, captions: false)
            let semanticBefore = try query(database, ["--limit", "3", "a photo"]).map(\.path)
            _ = try index(folder, database)
            #expect(try query(database, ["--limit", "3", "a photo"]).map(\.path) == semanticBefore)

            let rows = try query(database, ["--limit", "3", "anything"])
            func words(_ text: String) -> Set<String> {
                Set(text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init))
            }
            let captionWords = rows.map { words($0.caption ?? "") }
            let unique = try #require(rows.indices.lazy.compactMap { index -> (String, String)? in
                let others = captionWords.indices.filter { $0 != index }.reduce(into: Set<String>()) { $0.formUnion(captionWords[$1]) }
                return captionWords[index].subtracting(others).sorted().first.map { (rows[index].path, $0) }
            }.first, "no caption has a word of its own: \(rows.map(\.caption))")

            let keyword = try query(database, ["--mode", "keyword", unique.1.uppercased()])
            #expect(keyword.map(\.path) == [unique.0], "\(unique.1): \(keyword)")
            #expect(try query(database, ["--mode", "keyword", "zzzznotaword"]).isEmpty)
            let hybrid = try query(database, ["--mode", "hybrid", "--limit", "3", unique.1])
            #expect(hybrid.first?.path == unique.0, "\(hybrid)")
            #expect(Set(hybrid.map(\.path)).count == 3)
        }
    }

    struct CaptionLine: Decodable {
        let path: String
        let caption: String
        let stored: Bool?
    }

    /// `imgsearch caption` prints the stored caption of an indexed photo, computes the others,
    /// and computes every one with --refresh.
    @Test func captionReusesStoredCaptionsUnlessRefreshed() throws {
        try withLibrary { folder, database in
            _ = try index(folder, database)
            let stored = Dictionary(uniqueKeysWithValues: try query(database, ["--limit", "3", "anything"]).map { ($0.path, $0.caption ?? "") })
            let outside = Fixtures.root.appendingPathComponent("images/rgba.png").path
            let paths = [folder.appendingPathComponent("chelsea.png").path, outside, folder.appendingPathComponent("astronaut.png").path]
            func caption(_ extra: [String]) throws -> [CaptionLine] {
                let run = try CommandRunner.imgsearch(["caption", "--db", database, "--model", captioner, "--device", "cpu",
                                                       "--beams", "1", "--json"] + extra + paths)
                #expect(run.status == 0, "\(run.standardError)")
                return try run.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(CaptionLine.self, from: Data($0.utf8)) }
            }
            let lines = try caption([])
            #expect(lines.map(\.path) == paths)
            #expect(lines.map(\.stored) == [true, nil, true])
            #expect(lines[0].caption == stored[paths[0]] && lines[2].caption == stored[paths[2]])
            #expect(try caption(["--refresh"]).allSatisfy { $0.stored == nil })
        }
    }

    @Test func keywordSearchTreatsQuerySyntaxAsWords() throws {
        try withLibrary { folder, database in
            _ = try index(folder, database)
            for text in ["\"", "AND OR NOT", "a* NEAR(b c)", "col:umn", "'); DROP TABLE caption; --"] {
                let run = try CommandRunner.imgsearch(["query", "--db", database, "--mode", "keyword", text])
                #expect(run.status == 0, "\(text): \(run.standardError)")
            }
        }
    }
}

/// A captioning pass killed with SIGKILL between batches, then run again: every content
/// ends with exactly one caption, none lost, none twice.
@Suite struct CaptionCrashTests {
    @Test func killNineDuringCaptioningThenARerunCaptionsEachContentOnce() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let images = Fixtures.root.appendingPathComponent("images")
        for name in try FileManager.default.contentsOfDirectory(atPath: images.path) where name.contains(".") && !name.hasSuffix(".json") {
            try FileManager.default.copyItem(at: images.appendingPathComponent(name), to: folder.appendingPathComponent(name))
        }
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let arguments = ["index", "--db", database, "--model", Fixtures.model("tiny-a").path, "--device", "cpu", "--batch", "1",
                         "--captions", Fixtures.generationModel("t5-gelu").path, "--verbose", folder.path]

        let first = Process()
        first.executableURL = CommandRunner.productsDirectory.appendingPathComponent("imgsearch")
        first.arguments = arguments
        let errors = Pipe()
        first.standardError = errors
        first.standardOutput = FileHandle.nullDevice
        try first.run()
        var log = ""
        while log.components(separatedBy: "captioned ").count - 1 < 4 {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            log += String(decoding: chunk, as: UTF8.self)
        }
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal, "the pass ended before it was killed: \(log)")

        let catalog = try Catalog(path: database)
        #expect(try catalog.integrityCheck() == ["ok"])
        let contents = try catalog.status().filesByState[.indexed] ?? 0
        let captionModels = try catalog.captionCounts()
        let before = captionModels.values.reduce(0, +)
        #expect(before >= 3 && before < contents, "killed after \(before) of \(contents) captions")

        let rerun = try CommandRunner.imgsearch(arguments)
        #expect(rerun.status == 0, "\(rerun.standardError)")
        #expect(rerun.standardOutput.contains("\(contents - before) captioned"), "\(rerun.standardOutput)")
        #expect(try catalog.captionCounts().values.reduce(0, +) == contents)
        #expect(try catalog.integrityCheck() == ["ok"])
    }
}
