import Foundation

/// Watches folders recursively with inotify and tells, after a quiet period, that something
/// under them changed. It does not say what: the daemon's next pass compares the disk with
/// the catalog, which is cheap and never misses a change that events described badly.
///
/// New folders are watched as they appear. When the kernel's event queue overflows, or a
/// folder cannot be watched (the per-user limit, fs.inotify.max_user_watches, is reached),
/// it says so: the daemon then relies on its periodic full scan for what it cannot watch.
public final class FolderWatcher {
    private let descriptor: Int32
    private var folders: [Int32: String] = [:]
    /// Folders that could not be watched, with the reason.
    public private(set) var unwatched: [(path: String, reason: String)] = []

    private static let mask = UInt32(IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE
        | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR)

    public init() throws {
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else {
            throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "inotify: \(String(cString: strerror(errno)))"])
        }
    }

    deinit {
        close(descriptor)
    }

    public var watchedFolderCount: Int { folders.count }

    /// Watches `root` and every folder below it (hidden ones only if `includeHidden`).
    public func watch(tree root: String, includeHidden: Bool) {
        var pending = [root]
        while let folder = pending.popLast() {
            guard add(folder) else { continue }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for name in names where includeHidden || !name.hasPrefix(".") {
                let path = folder + "/" + name
                var info = stat()
                if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { pending.append(path) }
            }
        }
    }

    private func add(_ folder: String) -> Bool {
        let watch = inotify_add_watch(descriptor, folder, Self.mask)
        guard watch >= 0 else {
            let reason = errno == ENOSPC
                ? "the inotify watch limit is reached (raise fs.inotify.max_user_watches); covered by the periodic scan"
                : String(cString: strerror(errno))
            unwatched.append((folder, reason))
            return false
        }
        folders[watch] = folder
        return true
    }

    /// What a wait observed.
    public struct Changes: Sendable {
        /// Something changed under the watched folders.
        public var changed = false
        /// Events were lost: only a full scan can tell what changed.
        public var overflowed = false
    }

    /// Waits up to `timeout` seconds for a first event, then until `quiet` seconds pass
    /// without one (a burst of copies settles into one pass), at most `longest` seconds.
    public func waitForChanges(timeout: Double, quiet: Double = 1.0, longest: Double = 10.0,
                               includeHidden: Bool) -> Changes {
        var changes = Changes()
        guard poll(timeout: timeout) else { return changes }
        let started = Date()
        repeat {
            drain(into: &changes, includeHidden: includeHidden)
        } while Date().timeIntervalSince(started) < longest && poll(timeout: quiet)
        return changes
    }

    /// Whether events wait to be read (they stay queued for `waitForChanges`).
    public var hasPendingEvents: Bool { poll(timeout: 0) }

    private func poll(timeout: Double) -> Bool {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&request, 1, Int32(max(0, timeout * 1000))) > 0
    }

    private func drain(into changes: inout Changes, includeHidden: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            var offset = 0
            while offset < count {
                let (watchID, mask, nameLength, name) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int, String) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    let nameStart = offset + MemoryLayout<inotify_event>.size
                    let nameBytes = raw[nameStart..<(nameStart + Int(event.len))].prefix { $0 != 0 }
                    return (event.wd, event.mask, Int(event.len), String(decoding: nameBytes, as: UTF8.self))
                }
                offset += MemoryLayout<inotify_event>.size + nameLength
                if mask & UInt32(IN_Q_OVERFLOW) != 0 { changes.overflowed = true }
                if mask & UInt32(IN_IGNORED) != 0 { folders[watchID] = nil; continue }
                changes.changed = true
                // A folder created or moved in: watch it and what it already holds.
                if mask & UInt32(IN_ISDIR) != 0, mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0,
                   let parent = folders[watchID], includeHidden || !name.hasPrefix(".") {
                    watch(tree: parent + "/" + name, includeHidden: includeHidden)
                }
            }
        }
    }
}
