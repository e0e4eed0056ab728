import Foundation

/// What the daemon has done since it started; written as JSON after every pass, for
/// `imgsearch status`, monitoring and the tests.
public struct DaemonCounters: Codable, Sendable {
    public var startedAt = Date()
    public var passes = 0
    public var embedded = 0
    public var reused = 0
    public var removed = 0
    public var failed = 0
    public var lastPassAt: Date?
    public var watchedFolders = 0
    public var unwatchedFolders: [String] = []
    public var overflows = 0
}

/// `imgsearch daemon`'s loop: one full pass at start, then a pass whenever the watched
/// folders settle after a change, and a full reconcile scan every `rescanInterval` seconds
/// (what inotify cannot see: network file systems, folders past the watch limit, lost events).
public final class LibraryDaemon {
    public let indexRun: IndexRun
    public let crawler: Crawler
    public let statusPath: String
    public let rescanInterval: Double
    public private(set) var counters = DaemonCounters()
    private let watcher: FolderWatcher

    /// Files younger than `settleSeconds` wait for a later pass (see `IndexRun.settleSeconds`).
    public init(indexRun: IndexRun, crawler: Crawler, statusPath: String, rescanInterval: Double = 600,
                settleSeconds: Double = 2) throws {
        var indexRun = indexRun
        indexRun.settleSeconds = settleSeconds
        self.indexRun = indexRun
        self.crawler = crawler
        self.statusPath = statusPath
        self.rescanInterval = rescanInterval
        watcher = try FolderWatcher()
    }

    /// Runs until `shouldStop` answers true (checked every second and between batches).
    public func run(shouldStop: @escaping @Sendable () -> Bool, log: (String) -> Void) throws {
        for root in crawler.roots { watcher.watch(tree: root, includeHidden: crawler.includeHidden) }
        counters.watchedFolders = watcher.watchedFolderCount
        counters.unwatchedFolders = watcher.unwatched.map(\.path)
        for (path, reason) in watcher.unwatched { log("\(path): not watched: \(reason)") }

        var deferred = try pass(shouldStop: shouldStop, log: log)
        var lastPass = Date()
        while !shouldStop() {
            let changes = watcher.waitForChanges(timeout: 1.0, includeHidden: crawler.includeHidden)
            if changes.overflowed {
                counters.overflows += 1
                log("inotify queue overflowed: rescanning everything")
            }
            counters.watchedFolders = watcher.watchedFolderCount
            let settledSince = Date().timeIntervalSince(lastPass) >= indexRun.settleSeconds
            if changes.changed || changes.overflowed || (deferred > 0 && settledSince)
                || Date().timeIntervalSince(lastPass) >= rescanInterval {
                deferred = try pass(shouldStop: shouldStop, log: log)
                lastPass = Date()
            }
        }
    }

    /// One index pass; returns how many files it deferred as still being written.
    private func pass(shouldStop: @escaping @Sendable () -> Bool, log: (String) -> Void) throws -> Int {
        let summary = try indexRun.run(crawler, shouldStop: shouldStop)
        counters.passes += 1
        counters.embedded += summary.embedded
        counters.reused += summary.reused
        counters.removed += summary.removed
        counters.failed += summary.failures.count
        counters.lastPassAt = Date()
        for failure in summary.failures { log("\(failure.path): \(failure.reason)") }
        if summary.embedded + summary.reused + summary.removed + summary.failures.count > 0 {
            log("\(summary.embedded) embedded, \(summary.reused) reused, \(summary.removed) removed, \(summary.failures.count) failed")
        }
        try writeStatus()
        return summary.deferred
    }

    /// Replaces the status file atomically, so a reader never sees half of it.
    private func writeStatus() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(counters).write(to: URL(fileURLWithPath: statusPath), options: .atomic)
    }
}
