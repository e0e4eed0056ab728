import Foundation
import Store
import TestSupport
import Testing

/// `imgsearch index` end to end, as real processes on temporary folders of real photos.
@Suite struct IndexCommandTests {
    let model = Fixtures.model("tiny-a").path
    let photos = ["astronaut.png", "chelsea.png", "coffee.png"]

    struct Library {
        let directory: URL
        var folder: URL { directory.appendingPathComponent("photos") }
        var database: String { directory.appendingPathComponent("catalog.sqlite").path }
    }

    func withLibrary(_ body: (Library) throws -> Void) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let library = Library(directory: directory)
        try FileManager.default.createDirectory(at: library.folder, withIntermediateDirectories: true)
        for photo in photos {
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/\(photo)"),
                                             to: library.folder.appendingPathComponent(photo))
        }
        try body(library)
    }

    @discardableResult
    func index(_ library: Library, _ extra: [String] = []) throws -> CommandRunner.Outcome {
        let run = try CommandRunner.imgsearch(["index", "--db", library.database, "--model", model, "--device", "cpu",
                                               library.folder.path] + extra)
        #expect(run.status == 0, "\(run.standardError)")
        return run
    }

    func queryPaths(_ library: Library, _ text: String) throws -> [String] {
        let run = try CommandRunner.imgsearch(["query", "--db", library.database, "--model", model, "--device", "cpu",
                                               "--json", text])
        #expect(run.status == 0, "\(run.standardError)")
        return run.standardOutput.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["path"] as? String
        }
    }

    @Test func indexedPhotosAreFoundAndASecondRunDoesNothing() throws {
        try withLibrary { library in
            let first = try index(library)
            #expect(first.standardOutput.hasPrefix("3 embedded, 0 reused"))
            #expect(Set(try queryPaths(library, "a photo of an astronaut")) == Set(photos.map { library.folder.appendingPathComponent($0).path }))
            let second = try index(library)
            #expect(second.standardOutput.hasPrefix("0 embedded, 0 reused (moved or copied), 3 unchanged, 0 removed, 0 failed"))
        }
    }

    @Test func movedRenamedAndCopiedPhotosAreNeverEmbeddedAgain() throws {
        try withLibrary { library in
            try index(library)
            let manager = FileManager.default
            let album = library.folder.appendingPathComponent("2024/holidays")
            try manager.createDirectory(at: album, withIntermediateDirectories: true)
            try manager.moveItem(at: library.folder.appendingPathComponent("chelsea.png"), to: album.appendingPathComponent("cat.png"))
            try manager.copyItem(at: library.folder.appendingPathComponent("coffee.png"), to: album.appendingPathComponent("coffee copy.png"))
            let run = try index(library)
            #expect(run.standardOutput.hasPrefix("0 embedded, 2 reused (moved or copied), 2 unchanged, 1 removed, 0 failed"))
            let catalog = try Catalog(path: library.database)
            #expect(try catalog.file(path: library.folder.appendingPathComponent("chelsea.png").path) == nil)
            #expect(try catalog.file(path: album.appendingPathComponent("cat.png").path)?.state == .indexed)
            #expect(try catalog.status().imagesByModel.values.first == 3)
        }
    }

    @Test func deletedPhotosLeaveTheCatalogAndTheResults() throws {
        try withLibrary { library in
            try index(library)
            try FileManager.default.removeItem(at: library.folder.appendingPathComponent("coffee.png"))
            let run = try index(library)
            #expect(run.standardOutput.contains("1 removed"))
            #expect(try queryPaths(library, "coffee").count == 2)
            #expect(try Catalog(path: library.database).status().imagesByModel.values.first == 2)
        }
    }

    @Test func corruptAndNonImageFilesAreReportedOrSkipped() throws {
        try withLibrary { library in
            let png = try Data(contentsOf: library.folder.appendingPathComponent("coffee.png"))
            try png.prefix(2000).write(to: library.folder.appendingPathComponent("truncated.png"))
            try Data("shopping list".utf8).write(to: library.folder.appendingPathComponent("notes.jpg"))
            let run = try index(library)
            #expect(run.standardOutput.hasPrefix("3 embedded, 0 reused (moved or copied), 0 unchanged, 0 removed, 1 failed"))
            #expect(run.standardError.contains("truncated.png: truncated PNG"))
            let status = try Catalog(path: library.database).status()
            #expect(status.filesByState[.indexed] == 3)
            #expect(status.recentFailures.map(\.path) == [library.folder.appendingPathComponent("truncated.png").path])
        }
    }

    @Test func excludedAndHiddenPathsAreSkipped() throws {
        try withLibrary { library in
            let hidden = library.folder.appendingPathComponent(".thumbnails")
            try FileManager.default.createDirectory(at: hidden, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: library.folder.appendingPathComponent("coffee.png"), to: hidden.appendingPathComponent("t.png"))
            let run = try index(library, ["--exclude", "*/astronaut.png"])
            #expect(run.standardOutput.hasPrefix("2 embedded"))
        }
    }

    @Test func killNineDuringIndexThenRerunLosesNothingAndDuplicatesNothing() throws {
        try withLibrary { library in
            // 150 distinct contents: the photos with different trailing bytes (ignored by decoders).
            for n in 0..<150 {
                var data = try Data(contentsOf: library.folder.appendingPathComponent(photos[n % 3]))
                data.append(Data("variant \(n)".utf8))
                try data.write(to: library.folder.appendingPathComponent("variant-\(n).png"))
            }
            let process = Process()
            process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("imgsearch")
            process.arguments = ["index", "--db", library.database, "--model", model, "--device", "cpu", "--batch", "1",
                                 "--verbose", library.folder.path]
            let log = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = log
            try process.run()
            // Kill it once five batches are committed (it logs each), while it is still working.
            var logged = ""
            while logged.components(separatedBy: "] indexed ").count - 1 < 5 {
                let chunk = log.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                logged += String(decoding: chunk, as: UTF8.self)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed: \(logged)")

            let rerun = try index(library)
            #expect(rerun.standardOutput.contains("0 failed"))
            let catalog = try Catalog(path: library.database)
            #expect(try catalog.integrityCheck() == ["ok"])
            let status = try catalog.status()
            #expect(status.filesByState[.indexed] == 153)
            #expect(status.imagesByModel.values.first == 153)
            let third = try index(library)
            #expect(third.standardOutput.hasPrefix("0 embedded, 0 reused (moved or copied), 153 unchanged"))
        }
    }
}
