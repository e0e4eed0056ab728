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
    func index(_ library: Library, _ extra: [String] = [], status: Int32 = 0) throws -> CommandRunner.Outcome {
        let run = try CommandRunner.imgsearch(["index", "--db", library.database, "--model", model, "--device", "cpu",
                                               library.folder.path] + extra)
        #expect(run.status == status, "\(run.standardError)")
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

    /// Issue 16.8 and 16.10: every file that should be a photo and is not gets a line naming
    /// it and the cause, and the exit status is 1, also on later runs while it still fails;
    /// other files (a video, notes) are counted as skipped.
    @Test func corruptEmptyAndMislabelledFilesAreReportedOthersSkipped() throws {
        try withLibrary { library in
            let png = try Data(contentsOf: library.folder.appendingPathComponent("coffee.png"))
            try png.prefix(2000).write(to: library.folder.appendingPathComponent("truncated.png"))
            try Data("shopping list".utf8).write(to: library.folder.appendingPathComponent("notes.jpg"))
            try Data().write(to: library.folder.appendingPathComponent("empty.jpeg"))
            try Data("shopping list".utf8).write(to: library.folder.appendingPathComponent("notes.txt"))
            try Data().write(to: library.folder.appendingPathComponent("zero.bin"))
            let run = try index(library, status: 1)
            #expect(run.standardOutput.hasPrefix("3 embedded, 0 reused (moved or copied), 0 unchanged, 0 removed, 4 failed, 1 skipped (not images)"),
                    "\(run.standardOutput)")
            #expect(run.standardError.contains("truncated.png: truncated PNG"))
            #expect(run.standardError.contains("notes.jpg: not an image"))
            #expect(run.standardError.contains("empty.jpeg: empty file (0 bytes)"))
            #expect(run.standardError.contains("zero.bin: empty file (0 bytes)"))
            let status = try Catalog(path: library.database).status()
            #expect(status.filesByState[.indexed] == 3)
            #expect(Set(status.recentFailures.map(\.path)) == Set(["truncated.png", "notes.jpg", "empty.jpeg", "zero.bin"].map {
                library.folder.appendingPathComponent($0).path
            }))
            let again = try index(library, status: 1)
            #expect(again.standardOutput.contains("4 failed (4 unchanged since an earlier run"), "\(again.standardOutput)")
        }
    }

    /// Issue 16.8: a photo the indexing user may not read is a failure naming it (run as an
    /// unprivileged user: root reads everything), retried on every run, and indexed once
    /// it can be read.
    @Test func anUnreadablePhotoIsAFailureNamingIt() throws {
        try withLibrary { library in
            let user = try UnprivilegedUser(sharing: library.directory)
            let locked = library.folder.appendingPathComponent("locked.png")
            try FileManager.default.copyItem(at: Fixtures.root.appendingPathComponent("images/rgba.png"), to: locked)
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: locked.path)
            let command = user.prefix + [user.binary, "index", "--db", library.database, "--model", user.model,
                                         "--device", "cpu", library.folder.path]
            let run = try CommandRunner.run(command)
            #expect(run.status == 1, "\(run.standardError)")
            #expect(run.standardError.contains("\(locked.path): cannot read: Permission denied"), "\(run.standardError)")
            #expect(run.standardOutput.hasPrefix("3 embedded, 0 reused (moved or copied), 0 unchanged, 0 removed, 1 failed"))
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: locked.path)
            let readable = try CommandRunner.run(command)
            #expect(readable.status == 0, "\(readable.standardError)")
            #expect(readable.standardOutput.hasPrefix("1 embedded"), "\(readable.standardOutput)")
        }
    }

    /// Issue 16.10: a root that does not exist is an error line and exit status 1.
    @Test func aMissingRootIsReportedWithExitStatusOne() throws {
        try withLibrary { library in
            let missing = library.directory.appendingPathComponent("no-such-folder").path
            let run = try index(library, [missing], status: 1)
            #expect(run.standardError.contains("\(missing): No such file or directory"), "\(run.standardError)")
            #expect(run.standardOutput.hasPrefix("3 embedded"))
        }
    }

    /// Issue 16.9: an emptied root (the mount point of an unplugged drive), a missing one, or
    /// a root on another file system keeps its files offline: not searched, not deleted, back
    /// without re-embedding; `imgsearch prune` forgets them.
    @Test func anEmptiedOrMissingRootKeepsItsFilesOffline() throws {
        try withLibrary { library in
            try index(library)
            let away = library.directory.appendingPathComponent("away")
            try FileManager.default.moveItem(at: library.folder, to: away)
            try FileManager.default.createDirectory(at: library.folder, withIntermediateDirectories: true)
            let emptied = try index(library)
            #expect(emptied.standardOutput.contains("0 removed") && emptied.standardOutput.contains("3 offline"),
                    "\(emptied.standardOutput)")
            #expect(emptied.standardError.contains("is empty, where 3 indexed files were"))
            var catalog = try Catalog(path: library.database)
            #expect(try catalog.status().offlineFilesByRoot == [library.folder.path: 3])
            #expect(try catalog.status().imagesByModel.values.first == 3)
            #expect(try queryPaths(library, "a photo").isEmpty)
            let status = try CommandRunner.imgsearch(["status", "--db", library.database])
            #expect(status.standardOutput.contains("offline  \(library.folder.path): 3 files"))

            // Missing altogether: still kept.
            try FileManager.default.removeItem(at: library.folder)
            let missing = try index(library, status: 1)
            #expect(missing.standardOutput.contains("0 removed"))

            // Back: online again, nothing embedded.
            try FileManager.default.moveItem(at: away, to: library.folder)
            let back = try index(library)
            #expect(back.standardOutput.hasPrefix("0 embedded, 0 reused (moved or copied), 3 unchanged, 0 removed, 0 failed, 3 back online"),
                    "\(back.standardOutput)")
            #expect(try queryPaths(library, "a photo").count == 3)

            // Gone for good: prune forgets the files and their embeddings.
            try FileManager.default.moveItem(at: library.folder, to: away)
            try FileManager.default.createDirectory(at: library.folder, withIntermediateDirectories: true)
            try index(library)
            let pruned = try CommandRunner.imgsearch(["prune", "--db", library.database])
            #expect(pruned.standardOutput == "3 offline files and 3 unused embeddings removed\n", "\(pruned.standardOutput)")
            catalog = try Catalog(path: library.database)
            #expect(try catalog.status().imagesByModel.isEmpty)
        }
    }

    /// Issue 16.9: a root found on another file system than when it was indexed (another
    /// drive mounted there) is indexed, but what is missing there goes offline, not away.
    @Test func aRootOnAnotherFileSystemKeepsWhatIsMissingOffline() throws {
        try withLibrary { library in
            try index(library)
            let catalog = try Catalog(path: library.database)
            let recorded = try #require(try catalog.indexedRoots()[library.folder.path])
            try catalog.write { tx in try tx.recordRoot(IndexedRoot(path: recorded.path, device: recorded.device + 1)) }
            try FileManager.default.removeItem(at: library.folder.appendingPathComponent("coffee.png"))
            let run = try index(library)
            #expect(run.standardOutput.contains("0 removed") && run.standardOutput.contains("1 offline"), "\(run.standardOutput)")
            #expect(try catalog.status().offlineFilesByRoot == [library.folder.path: 1])
            #expect(try catalog.indexedRoots()[library.folder.path]?.device == recorded.device)
        }
    }

    /// Issue 16.9: the embedding of a file that vanished is kept for keep_vanished_days, so a
    /// file moved out of the library and back is not embedded again; past the grace period
    /// it is deleted.
    @Test func aVanishedFilesEmbeddingIsKeptForItsGracePeriod() throws {
        try withLibrary { library in
            try index(library)
            let photo = library.folder.appendingPathComponent("coffee.png")
            let outside = library.directory.appendingPathComponent("coffee.png")
            try FileManager.default.moveItem(at: photo, to: outside)
            #expect(try index(library).standardOutput.contains("1 removed"))
            #expect(try Catalog(path: library.database).status().keptEmbeddings == 1)
            #expect(try queryPaths(library, "a photo").count == 2)
            try FileManager.default.moveItem(at: outside, to: photo)
            #expect(try index(library).standardOutput.hasPrefix("0 embedded, 1 reused"))

            let config = library.directory.appendingPathComponent("config.yaml")
            try Data("keep_vanished_days: 0\n".utf8).write(to: config)
            try FileManager.default.removeItem(at: photo)
            #expect(try index(library, ["--config", config.path]).standardOutput.contains("1 removed"))
            let status = try Catalog(path: library.database).status()
            #expect(status.keptEmbeddings == 0 && status.imagesByModel.values.first == 2)
        }
    }

    /// The attack run's file-system cases: a symlink loop, a FIFO (never opened: it would
    /// block) and a sparse 2 GB file named like a photo (refused from its first bytes).
    @Test func symlinkLoopsFifosAndSparseGiantsDoNotStopTheRun() throws {
        try withLibrary { library in
            let loop = library.folder.appendingPathComponent("loop")
            try FileManager.default.createDirectory(at: loop, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: loop.appendingPathComponent("again").path, withDestinationPath: loop.path)
            #expect(mkfifo(library.folder.appendingPathComponent("pipe.jpg").path, 0o644) == 0)
            let sparse = library.folder.appendingPathComponent("huge.jpg")
            FileManager.default.createFile(atPath: sparse.path, contents: nil)
            let handle = try FileHandle(forWritingTo: sparse)
            try handle.truncate(atOffset: 2 << 30)
            try handle.close()
            let started = Date()
            let run = try index(library, status: 1)
            #expect(run.standardOutput.hasPrefix("3 embedded, 0 reused (moved or copied), 0 unchanged, 0 removed, 1 failed"))
            #expect(run.standardError.contains("huge.jpg: not an image"))
            #expect(Date().timeIntervalSince(started) < 60)
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
