import Foundation
import Store
import TestSupport
import Testing

/// `imgsearch daemon` as a real process on a temporary folder: every change on disk shows in
/// the catalog within seconds, and a move is never re-embedded (its `embedded` counter stays).
@Suite struct DaemonTests {
    @Test func changesOnDiskReachTheCatalogAndMovesAreNotReembedded() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        let manager = FileManager.default
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        let photo = { (name: String) in Fixtures.root.appendingPathComponent("images/\(name)") }
        try manager.copyItem(at: photo("astronaut.png"), to: folder.appendingPathComponent("astronaut.png"))

        let daemon = try RunningDaemon(folder: folder, directory: directory)
        defer { if daemon.process.isRunning { daemon.process.terminate() } }
        try daemon.waitFor("the first pass") { $0.passes >= 1 && $0.embedded == 1 }

        // Add a photo.
        try manager.copyItem(at: photo("chelsea.png"), to: folder.appendingPathComponent("chelsea.png"))
        try daemon.waitFor("the added photo") { $0.embedded == 2 }

        // A new subfolder with a photo in it.
        let album = folder.appendingPathComponent("album")
        try manager.createDirectory(at: album, withIntermediateDirectories: true)
        try manager.copyItem(at: photo("coffee.png"), to: album.appendingPathComponent("coffee.png"))
        try daemon.waitFor("the photo in the new folder") { $0.embedded == 3 }

        // Rename, then move between folders: found by content, not embedded again.
        try manager.moveItem(at: folder.appendingPathComponent("chelsea.png"), to: folder.appendingPathComponent("cat.png"))
        try daemon.waitFor("the rename") { $0.reused == 1 && $0.removed == 1 }
        try manager.moveItem(at: folder.appendingPathComponent("cat.png"), to: album.appendingPathComponent("cat.png"))
        let afterMoves = try daemon.waitFor("the move") { $0.reused == 2 && $0.removed == 2 }
        #expect(afterMoves.embedded == 3)

        // Modify a photo: new content, embedded.
        var changed = try Data(contentsOf: album.appendingPathComponent("coffee.png"))
        changed.append(Data("edited".utf8))
        try changed.write(to: album.appendingPathComponent("coffee.png"))
        try daemon.waitFor("the modified photo") { $0.embedded == 4 }

        // A photo written slowly, as a copy from a camera is: never indexed half-written.
        let slow = folder.appendingPathComponent("import.png")
        let bytes = try Data(contentsOf: photo("astronaut.png"))
        var variant = bytes
        variant.append(Data("imported".utf8))
        #expect(manager.createFile(atPath: slow.path, contents: variant.prefix(variant.count / 3)))
        Thread.sleep(forTimeInterval: 1.2)
        let writer = try FileHandle(forWritingTo: slow)
        try writer.seekToEnd()
        try writer.write(contentsOf: variant.dropFirst(variant.count / 3))
        try writer.close()
        let afterImport = try daemon.waitFor("the slowly written photo") { $0.embedded == 5 }
        #expect(afterImport.failed == 0)

        // Delete a photo.
        try manager.removeItem(at: folder.appendingPathComponent("astronaut.png"))
        try daemon.waitFor("the deletion") { $0.removed == 3 }

        let catalog = try Catalog(path: daemon.database)
        let indexed = Set(try catalog.files(inRoots: [folder.standardizedFileURL.path]).filter { $0.state == .indexed }.map(\.path))
        #expect(indexed == [album.appendingPathComponent("coffee.png").path, album.appendingPathComponent("cat.png").path,
                            slow.path])

        daemon.process.terminate()  // SIGTERM
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationReason == .exit && daemon.process.terminationStatus == 0)
    }
}
