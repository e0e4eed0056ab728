import Foundation
import Testing
import TestSupport
@testable import Indexer

/// The crawler and the folder watcher in process, on temporary folders.
@Suite struct CrawlerTests {
    func withFolder(_ body: (URL) throws -> Void) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    func write(_ text: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    @Test func findsRegularFilesSkipsHiddenExcludedLinksAndSpecialFiles() throws {
        try withFolder { root in
            try write("a", to: root.appendingPathComponent("b/a.jpg"))
            try write("c", to: root.appendingPathComponent("c.png"))
            try write("h", to: root.appendingPathComponent(".hidden/h.jpg"))
            try write("x", to: root.appendingPathComponent("cache/x.jpg"))
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("link.jpg").path,
                                                       withDestinationPath: root.appendingPathComponent("c.png").path)
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("b/loop").path,
                                                       withDestinationPath: root.path)
            #expect(mkfifo(root.appendingPathComponent("fifo.jpg").path, 0o644) == 0)

            let crawl = Crawler(roots: [root.path + "/"], excludes: ["*/cache/*"]).scan()
            #expect(crawl.files.map(\.path) == [root.appendingPathComponent("b/a.jpg").path, root.appendingPathComponent("c.png").path])
            #expect(crawl.files.allSatisfy { $0.root == root.path })
            #expect(crawl.problems.isEmpty)
            var info = stat()
            #expect(stat(root.path, &info) == 0 && crawl.rootDevices == [root.path: Int64(info.st_dev)])
            #expect(crawl.files.first?.size == 1)

            let withHidden = Crawler(roots: [root.path], includeHidden: true).scan()
            #expect(withHidden.files.map(\.path).contains(root.appendingPathComponent(".hidden/h.jpg").path))
        }
    }

    @Test func missingRootsAndFilesAsRootsAreProblemsNotFiles() throws {
        try withFolder { root in
            try write("f", to: root.appendingPathComponent("file.jpg"))
            let missing = root.appendingPathComponent("missing").path
            let crawl = Crawler(roots: [missing, root.appendingPathComponent("file.jpg").path]).scan()
            #expect(crawl.files.isEmpty)
            #expect(crawl.problems.map(\.description) == ["\(missing): No such file or directory",
                                                          "\(root.appendingPathComponent("file.jpg").path): not a folder"])
            #expect(crawl.rootDevices.isEmpty)
        }
    }

    @Test func theWatcherSeesChangesInNewFoldersAndReportsQuiet() throws {
        try withFolder { root in
            let watcher = try FolderWatcher()
            watcher.watch(tree: root.path, includeHidden: false)
            #expect(watcher.watchedFolderCount == 1)
            #expect(!watcher.waitForChanges(timeout: 0.2, quiet: 0.1, includeHidden: false).changed)
            try FileManager.default.createDirectory(at: root.appendingPathComponent("new"), withIntermediateDirectories: true)
            #expect(watcher.waitForChanges(timeout: 2, quiet: 0.1, includeHidden: false).changed)
            #expect(watcher.watchedFolderCount == 2)
            try write("n", to: root.appendingPathComponent("new/n.jpg"))
            #expect(watcher.waitForChanges(timeout: 2, quiet: 0.1, includeHidden: false).changed)
            #expect(!watcher.waitForChanges(timeout: 0.3, quiet: 0.1, includeHidden: false).changed)
        }
    }
}
