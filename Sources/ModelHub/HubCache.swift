import Foundation

/// The Hugging Face hub cache on disk, in huggingface_hub's own layout, so that a model
/// downloaded by `huggingface-cli` is used as is and one pulled by imgsearch is visible to
/// Python:
///
///     <cache>/models--ORG--NAME/blobs/<sha256 or git blob id>
///     <cache>/models--ORG--NAME/snapshots/<commit>/<file>  -> ../../blobs/<id>
///     <cache>/models--ORG--NAME/refs/<revision>             (holds the commit)
public struct HubCache: Sendable {
    public let root: URL

    public init(root: URL) {
        self.root = root
    }

    /// `HF_HUB_CACHE`, else `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else
    /// `~/.cache/huggingface/hub`, as huggingface_hub resolves it.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> HubCache {
        func nonEmpty(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        if let hubCache = nonEmpty("HF_HUB_CACHE") { return HubCache(root: URL(fileURLWithPath: hubCache)) }
        let home = nonEmpty("HF_HOME").map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: nonEmpty("XDG_CACHE_HOME") ?? NSHomeDirectory() + "/.cache").appendingPathComponent("huggingface")
        return HubCache(root: home.appendingPathComponent("hub"))
    }

    public func repositoryFolder(_ repo: String) -> URL {
        root.appendingPathComponent("models--" + repo.replacingOccurrences(of: "/", with: "--"))
    }

    func blobsFolder(_ repo: String) -> URL { repositoryFolder(repo).appendingPathComponent("blobs") }

    func snapshotFolder(_ repo: String, commit: String) -> URL {
        repositoryFolder(repo).appendingPathComponent("snapshots/\(commit)")
    }

    /// The snapshot folder `revision` (a branch, tag or commit) points to, if it is here.
    public func snapshot(repo: String, revision: String = "main") -> URL? {
        let refFile = repositoryFolder(repo).appendingPathComponent("refs/\(revision)")
        let commit = (try? String(contentsOf: refFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            ?? revision
        let folder = snapshotFolder(repo, commit: commit)
        return FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) ? folder : nil
    }

    /// One cached snapshot: repository, commit, the refs naming it, its folder.
    public struct Snapshot: Sendable {
        public let repo: String
        public let commit: String
        public let refs: [String]
        public let folder: URL
    }

    /// Every snapshot in the cache, by repository then commit.
    public func snapshots() -> [Snapshot] {
        let manager = FileManager.default
        let repositories = ((try? manager.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix("models--") }.sorted()
        return repositories.flatMap { name -> [Snapshot] in
            let repo = name.dropFirst("models--".count).replacingOccurrences(of: "--", with: "/")
            let folder = root.appendingPathComponent(name)
            let refsFolder = folder.appendingPathComponent("refs")
            let refs = ((try? manager.contentsOfDirectory(atPath: refsFolder.path)) ?? []).compactMap { ref -> (String, String)? in
                guard let commit = try? String(contentsOf: refsFolder.appendingPathComponent(ref), encoding: .utf8) else { return nil }
                return (ref, commit.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let commits = ((try? manager.contentsOfDirectory(atPath: folder.appendingPathComponent("snapshots").path)) ?? []).sorted()
            return commits.map { commit in
                Snapshot(repo: repo, commit: commit, refs: refs.filter { $0.1 == commit }.map(\.0).sorted(),
                         folder: snapshotFolder(repo, commit: commit))
            }
        }
    }
}
