import Foundation
import Synchronization

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
    /// Photos captioned (with `--captions`).
    public var captioned = 0
    /// The index pass under way: files done of those that need work; nil between passes.
    public var currentPass: IndexProgress?
    /// Where the daemon's HTTP API listens, once it does (`imgsearch query` uses it).
    public var serverURL: String?
    /// The catalog the daemon keeps (a client checks it is the one it means).
    public var catalogPath: String?
}

/// The daemon's counters, shared between its indexing loop (the writer) and its HTTP
/// server (a reader).
public final class DaemonActivity: Sendable {
    private let state: Mutex<DaemonCounters>

    /// `catalogPath`: the SQLite catalog's path, or a PostgreSQL store's URL (kept as it is).
    public init(catalogPath: String) {
        var counters = DaemonCounters()
        counters.catalogPath = catalogPath.contains("://") ? catalogPath : URL(fileURLWithPath: catalogPath).standardizedFileURL.path
        state = Mutex(counters)
    }

    public var counters: DaemonCounters { state.withLock { $0 } }

    public func update(_ change: (inout DaemonCounters) -> Void) {
        state.withLock { change(&$0) }
    }

    /// Replaces the status file at `path` atomically, so a reader never sees half of it.
    /// Encoding and writing happen under the lock: two threads writing at once (the index
    /// loop after a pass, the server once it listens) must not let the older state land last.
    public func write(to path: String) throws {
        try update({ _ in }, writingTo: path)
    }

    /// Applies `change`, then writes the status file, as one step.
    public func update(_ change: (inout DaemonCounters) -> Void, writingTo path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try state.withLock { counters in
            change(&counters)
            try encoder.encode(counters).write(to: URL(fileURLWithPath: path), options: .atomic)
        }
    }
}

/// `imgsearch daemon`'s loop: one full pass at start, then a pass whenever the watched
/// folders settle after a change, and a full reconcile scan every `rescanInterval` seconds
/// (what inotify cannot see: network file systems, folders past the watch limit, lost events).
public final class LibraryDaemon: Sendable {
    public let indexRun: IndexRun
    public let crawler: Crawler
    public let statusPath: String
    public let rescanInterval: Double
    public let activity: DaemonActivity
    /// Called after every pass, every `changeInterval` seconds during a long one, and every
    /// second while idle, so that the daemon's search index follows the catalog whoever
    /// writes it (this loop, or an `imgsearch index` in another process); it must be cheap
    /// when nothing changed.
    public let followCatalog: @Sendable () throws -> Void
    public let changeInterval: Double
    /// Captions what each pass indexed (`daemon --captions`), after the pass, unless the
    /// index run captioned it from the same vision pass (`IndexRun.sharedCaptions`). It
    /// yields between batches to changes in the watched folders: indexing goes first.
    public let captionRun: CaptionRun?

    /// Files younger than `settleSeconds` wait for a later pass (see `IndexRun.settleSeconds`).
    public init(indexRun: IndexRun, crawler: Crawler, statusPath: String, rescanInterval: Double = 600,
                settleSeconds: Double = 2, captionRun: CaptionRun? = nil, changeInterval: Double = 10,
                followCatalog: @escaping @Sendable () throws -> Void = {}) {
        var indexRun = indexRun
        indexRun.settleSeconds = settleSeconds
        self.indexRun = indexRun
        self.crawler = crawler
        self.statusPath = statusPath
        self.rescanInterval = rescanInterval
        self.captionRun = captionRun
        self.changeInterval = changeInterval
        self.followCatalog = followCatalog
        activity = DaemonActivity(catalogPath: indexRun.catalog.location)
    }

    /// Runs until `shouldStop` answers true (checked every second and between batches).
    public func run(shouldStop: @escaping @Sendable () -> Bool, log: @escaping (String) -> Void) throws {
        var loop = DaemonLoop(daemon: self, watcher: try FolderWatcher(), shouldStop: shouldStop, log: log)
        try loop.run()
    }
}

/// One run of a `LibraryDaemon`: its folder watcher and what waits for a caption.
private struct DaemonLoop {
    let daemon: LibraryDaemon
    let watcher: FolderWatcher
    let shouldStop: @Sendable () -> Bool
    let log: (String) -> Void
    /// Whether contents may wait for a caption (a caption pass stopped for a change).
    var captionsPending = false

    init(daemon: LibraryDaemon, watcher: FolderWatcher, shouldStop: @escaping @Sendable () -> Bool, log: @escaping (String) -> Void) {
        self.daemon = daemon
        self.watcher = watcher
        self.shouldStop = shouldStop
        self.log = log
    }

    mutating func run() throws {
        let crawler = daemon.crawler, activity = daemon.activity
        for root in crawler.roots { watcher.watch(tree: root, includeHidden: crawler.includeHidden) }
        activity.update { [watcher] in
            $0.watchedFolders = watcher.watchedFolderCount
            $0.unwatchedFolders = watcher.unwatched.map(\.path)
        }
        for (path, reason) in watcher.unwatched { log("\(path): not watched: \(reason)") }

        var deferred = try pass()
        var lastPass = Date()
        while !shouldStop() {
            let changes = watcher.waitForChanges(timeout: 1.0, includeHidden: crawler.includeHidden)
            do { try daemon.followCatalog() } catch { log("\(error)") }
            if changes.overflowed {
                activity.update { $0.overflows += 1 }
                log("inotify queue overflowed: rescanning everything")
            }
            activity.update { [watcher] in $0.watchedFolders = watcher.watchedFolderCount }
            let settledSince = Date().timeIntervalSince(lastPass) >= daemon.indexRun.settleSeconds
            if changes.changed || changes.overflowed || (deferred > 0 && settledSince)
                || Date().timeIntervalSince(lastPass) >= daemon.rescanInterval {
                deferred = try pass()
                lastPass = Date()
            } else if captionsPending {
                try captionBacklog()
            }
        }
    }

    /// One index pass; returns how many files it deferred as still being written.
    private mutating func pass() throws -> Int {
        var lastChange = Date()
        let daemon = self.daemon, log = self.log
        let summary = try daemon.indexRun.run(daemon.crawler, shouldStop: shouldStop) { progress in
            daemon.activity.update { $0.currentPass = progress }
            if Date().timeIntervalSince(lastChange) >= daemon.changeInterval {
                lastChange = Date()
                do { try daemon.followCatalog() } catch { log("\(error)") }
            }
        }
        daemon.activity.update {
            $0.passes += 1
            $0.embedded += summary.embedded
            $0.captioned += summary.captioned
            $0.reused += summary.reused
            $0.removed += summary.removed
            $0.failed += summary.failures.count
            $0.lastPassAt = Date()
            $0.currentPass = nil
        }
        try daemon.followCatalog()
        for (root, reason) in summary.offlineRoots { log("\(root) \(reason): its files are kept offline") }
        for failure in summary.failures { log("\(failure.path): \(failure.reason)") }
        if summary.embedded + summary.reused + summary.removed + summary.failures.count > 0 {
            log("\(summary.embedded) embedded (\(summary.captioned) captioned), \(summary.reused) reused, \(summary.removed) removed, \(summary.failures.count) failed")
        }
        captionsPending = true
        try captionBacklog()
        return summary.deferred
    }

    /// Captions what has no caption yet, until done or a change waits in the watched folders.
    private mutating func captionBacklog() throws {
        if let captionRun = daemon.captionRun, captionsPending, !shouldStop() {
            let captions = try captionRun.run(shouldStop: { [watcher, shouldStop] in shouldStop() || watcher.hasPendingEvents })
            captionsPending = captions.stoppedEarly
            daemon.activity.update { $0.captioned += captions.captioned }
            for failure in captions.failures { log("\(failure.path): cannot caption: \(failure.reason)") }
            if captions.captioned > 0 { log("\(captions.captioned) captioned") }
        }
        try daemon.activity.write(to: daemon.statusPath)
    }
}
