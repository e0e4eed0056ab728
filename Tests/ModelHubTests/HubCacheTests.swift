import Foundation
import Testing
import TestSupport
@testable import ModelHub

/// The Hugging Face cache layout in process: where it is, and what it holds.
@Suite struct HubCacheTests {
    @Test func theCacheFolderIsResolvedAsHuggingfaceHubDoes() {
        #expect(HubCache.standard(environment: ["HF_HUB_CACHE": "/a", "HF_HOME": "/b"]).root.path == "/a")
        #expect(HubCache.standard(environment: ["HF_HOME": "/b", "XDG_CACHE_HOME": "/c"]).root.path == "/b/hub")
        #expect(HubCache.standard(environment: ["XDG_CACHE_HOME": "/c", "HF_HUB_CACHE": ""]).root.path == "/c/huggingface/hub")
        #expect(HubCache.standard(environment: [:]).root.path.hasSuffix("/.cache/huggingface/hub"))
    }

    @Test func snapshotsAreFoundByRefOrCommitAndListed() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = HubCache(root: directory)
        #expect(cache.repositoryFolder("Salesforce/blip2-itm-vit-g").lastPathComponent == "models--Salesforce--blip2-itm-vit-g")
        let commit = "0123456789abcdef0123456789abcdef01234567"
        let folder = cache.snapshotFolder("org/model", commit: commit)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        #expect(cache.snapshot(repo: "org/model") == nil)  // no ref yet
        try Data("{}".utf8).write(to: folder.appendingPathComponent("config.json"))
        #expect(cache.snapshot(repo: "org/model", revision: commit)?.path == folder.path)
        let refs = cache.repositoryFolder("org/model").appendingPathComponent("refs")
        try FileManager.default.createDirectory(at: refs, withIntermediateDirectories: true)
        try Data("\(commit)\n".utf8).write(to: refs.appendingPathComponent("main"))
        #expect(cache.snapshot(repo: "org/model")?.path == folder.path)
        #expect(cache.snapshot(repo: "org/other") == nil)
        let listed = cache.snapshots()
        #expect(listed.map(\.repo) == ["org/model"] && listed.map(\.commit) == [commit] && listed.map(\.refs) == [["main"]])
    }
}
