import Foundation
import Store

/// Which roots of a crawl must not be pruned, decided before anything is removed: a root
/// that is missing, or empty where indexed files were (the mount point of an unplugged
/// drive), goes offline; a root found on another file system than when it was indexed is
/// indexed, but what is missing there goes offline rather than away.
struct RootCheck {
    /// Offline roots, with why.
    private(set) var offline: [String: String] = [:]
    /// Roots on another file system than the one recorded.
    private(set) var movedDevice: Set<String> = []
    /// The file systems to record: roots crawled with at least one file.
    private(set) var devicesToRecord: [String: Int64] = [:]

    init(crawler: Crawler, crawl: Crawler.Crawl, known: [String: CatalogFile], recorded: [String: IndexedRoot]) {
        var indexedPerRoot: [String: Int] = [:]
        for record in known.values where record.state == .indexed { indexedPerRoot[record.root, default: 0] += 1 }
        var foundPerRoot: [String: Int] = [:]
        for file in crawl.files { foundPerRoot[file.root, default: 0] += 1 }

        for root in crawler.roots {
            let indexed = indexedPerRoot[root] ?? 0
            let found = foundPerRoot[root] ?? 0
            if let problem = crawl.problems.first(where: { $0.path == root }) {
                if indexed > 0 { offline[root] = "cannot be read (\(problem.reason))" }
                continue
            }
            if found == 0 && indexed > 0 {
                offline[root] = "is empty, where \(indexed) indexed files were (an unplugged drive?)"
                continue
            }
            guard let device = crawl.rootDevices[root], found > 0 else { continue }
            if let before = recorded[root], before.device != device, indexed > 0 { movedDevice.insert(root) }
            devicesToRecord[root] = device
        }
    }
}
