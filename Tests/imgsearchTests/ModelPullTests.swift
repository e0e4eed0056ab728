import Foundation
import TestSupport
import Testing

/// `imgsearch model pull|list|verify` against a local stand-in for the Hugging Face hub
/// (Tests/HubServer/hub_server.py: the hub's URL layout, redirects to a "CDN", ranges).
@Suite struct ModelPullTests {
    static let commit = "0123456789abcdef0123456789abcdef01234567"

    /// The hub server on a free port, serving a copy of the tiny-a fixture as test/tiny-a.
    final class Hub {
        let process = Process()
        let directory: URL
        let port: Int
        var log: String { (try? String(contentsOf: directory.appendingPathComponent("requests.log"), encoding: .utf8)) ?? "" }
        var cache: URL { directory.appendingPathComponent("cache") }
        var environment: [String: String] { ["HF_HUB_CACHE": cache.path, "HF_ENDPOINT": "http://127.0.0.1:\(port)"] }
        var snapshot: URL { cache.appendingPathComponent("models--test--tiny-a/snapshots/\(ModelPullTests.commit)") }

        /// Serves `files` of `source` (every file when nil) as test/tiny-a.
        init(_ options: [String] = [], source: URL = Fixtures.model("tiny-a"),
             files: [String]? = ["config.json", "model.safetensors", "vocab.txt"]) throws {
            directory = try Fixtures.temporaryDirectory()
            let repository = directory.appendingPathComponent("root/test/tiny-a")
            try FileManager.default.createDirectory(at: repository, withIntermediateDirectories: true)
            for name in try files ?? FileManager.default.contentsOfDirectory(atPath: source.path) {
                let from = source.appendingPathComponent(name).resolvingSymlinksInPath()
                try FileManager.default.copyItem(at: from, to: repository.appendingPathComponent(name))
            }
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [Fixtures.root.deletingLastPathComponent().appendingPathComponent("HubServer/hub_server.py").path,
                                 directory.appendingPathComponent("root").path,
                                 directory.appendingPathComponent("requests.log").path] + options
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            var line = Data()
            while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) {
                line.append(byte)
            }
            port = Int(String(decoding: line, as: UTF8.self)) ?? 0
        }

        deinit {
            // SIGKILL: the test runner blocks SIGTERM, and its children inherit the mask.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            try? FileManager.default.removeItem(at: directory)
        }

        func original(_ name: String) throws -> Data {
            try Data(contentsOf: directory.appendingPathComponent("root/test/tiny-a/\(name)"))
        }
    }

    /// A captioning snapshot comes with its tokenizer files and shards, and is listed as such.
    @Test func aCaptioningSnapshotIsPulledWithItsTokenizer() throws {
        let source = Fixtures.generationModel("opt-placeholder")
        let hub = try Hub(source: source, files: nil)
        let pull = try CommandRunner.imgsearch(["model", "pull", "test/tiny-a"], environment: hub.environment)
        #expect(pull.status == 0, "\(pull.standardError)")
        let pulled = Set(try FileManager.default.contentsOfDirectory(atPath: hub.snapshot.path))
        for name in ["vocab.json", "merges.txt", "tokenizer_config.json", "processor_config.json", "config.json",
                     "model.safetensors.index.json", "model-00004-of-00004.safetensors"] {
            #expect(pulled.contains(name), "\(name) not pulled: \(pulled.sorted())")
        }
        #expect(!pulled.contains("expected.json") && !pulled.contains("pixels.f32"))
        let list = try CommandRunner.imgsearch(["model", "list"], environment: hub.environment)
        #expect(list.standardOutput.contains("BLIP-2 captioning (caption, ask)"), "\(list.standardOutput)")
        let caption = try CommandRunner.imgsearch(["caption", "--model", "test/tiny-a", "--device", "cpu", "--max-tokens", "4",
                                                   Fixtures.root.appendingPathComponent("images/astronaut.png").path],
                                                  environment: hub.environment)
        #expect(caption.status == 0, "\(caption.standardError)")
    }

    @Test func aCutConnectionIsResumedAndTheSnapshotIsUsedFromTheCache() throws {
        let hub = try Hub(["--cut-after", "100000"])
        let pull = try CommandRunner.imgsearch(["model", "pull", "test/tiny-a"], environment: hub.environment)
        #expect(pull.status == 0, "\(pull.standardError)")
        #expect(pull.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == hub.snapshot.path)
        #expect(hub.log.contains("GET /cdn/test/tiny-a/model.safetensors bytes=100000-"), "\(hub.log)")
        for name in ["config.json", "model.safetensors", "vocab.txt"] {
            #expect(try Data(contentsOf: hub.snapshot.appendingPathComponent(name)) == hub.original(name), "\(name)")
        }
        #expect(!hub.log.contains("pytorch_model.bin"))

        // Found in the cache by its id, with the hub unreachable.
        var offline = hub.environment
        offline["HF_ENDPOINT"] = "http://127.0.0.1:1"
        let embed = try CommandRunner.imgsearch(["embed", "--model", "test/tiny-a", "--text", "a cat", "--json"], environment: offline)
        #expect(embed.status == 0, "\(embed.standardError)")
        #expect(embed.standardOutput.contains("\"text\""))
        let list = try CommandRunner.imgsearch(["model", "list"], environment: offline)
        #expect(list.standardOutput.contains("test/tiny-a@0123456789ab (main)  BLIP-2"), "\(list.standardOutput)")
        let verify = try CommandRunner.imgsearch(["model", "verify"], environment: offline)
        #expect(verify.status == 0, "\(verify.standardOutput)")

        // A second pull downloads nothing but the metadata.
        let before = hub.log.split(separator: "\n").count
        #expect(try CommandRunner.imgsearch(["model", "pull", "test/tiny-a"], environment: hub.environment).status == 0)
        #expect(hub.log.split(separator: "\n").dropFirst(before).allSatisfy { $0.contains("/api/models/") })

        // A blob damaged on disk is caught.
        let weights = hub.snapshot.appendingPathComponent("model.safetensors").resolvingSymlinksInPath()
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: weights)
        let damaged = try CommandRunner.imgsearch(["model", "verify", "test/tiny-a"], environment: offline)
        #expect(damaged.status == 1)
        #expect(damaged.standardOutput.contains("model.safetensors: checksum mismatch"), "\(damaged.standardOutput)")
    }

    @Test func aDownloadInterruptedInAnEarlierRunResumes() throws {
        let hub = try Hub()
        let weights = try hub.original("model.safetensors")
        let blobs = hub.cache.appendingPathComponent("models--test--tiny-a/blobs")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        let sha256 = try #require(sha256Hex(of: hub.directory.appendingPathComponent("root/test/tiny-a/model.safetensors")))
        try weights.prefix(1_234_567).write(to: blobs.appendingPathComponent("\(sha256).incomplete"))

        let pull = try CommandRunner.imgsearch(["model", "pull", "test/tiny-a", "--revision", "main"], environment: hub.environment)
        #expect(pull.status == 0, "\(pull.standardError)")
        #expect(hub.log.contains("GET /cdn/test/tiny-a/model.safetensors bytes=1234567-"), "\(hub.log)")
        #expect(try Data(contentsOf: hub.snapshot.appendingPathComponent("model.safetensors")) == weights)
        #expect(!FileManager.default.fileExists(atPath: blobs.appendingPathComponent("\(sha256).incomplete").path))
    }

    @Test func aChecksumMismatchIsRejected() throws {
        let hub = try Hub(["--corrupt", "model.safetensors"])
        let pull = try CommandRunner.imgsearch(["model", "pull", "test/tiny-a"], environment: hub.environment)
        #expect(pull.status != 0)
        #expect(pull.standardError.contains("model.safetensors: checksum mismatch"), "\(pull.standardError)")
        #expect(pull.standardError.split(separator: "\n").filter { $0.hasPrefix("Error:") }.count == 1, "\(pull.standardError)")
        #expect(!FileManager.default.fileExists(atPath: hub.snapshot.appendingPathComponent("model.safetensors").path))
        let blobs = (try? FileManager.default.contentsOfDirectory(
            atPath: hub.cache.appendingPathComponent("models--test--tiny-a/blobs").path)) ?? []
        #expect(!blobs.contains { $0.count == 64 || $0.hasSuffix(".incomplete") }, "\(blobs)")
    }

    @Test func unknownRepositoriesAndAnUnreachableHubGiveClearErrors() throws {
        let hub = try Hub()
        let missing = try CommandRunner.imgsearch(["model", "pull", "test/no-such-model"], environment: hub.environment)
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("test/no-such-model@main: not found"), "\(missing.standardError)")

        let badRevision = try CommandRunner.imgsearch(["model", "pull", "test/tiny-a", "--revision", "v9"], environment: hub.environment)
        #expect(badRevision.standardError.contains("test/tiny-a@v9: not found"), "\(badRevision.standardError)")

        let invalid = try CommandRunner.imgsearch(["model", "pull", "../etc"], environment: hub.environment)
        #expect(invalid.standardError.contains("is not a repository id"), "\(invalid.standardError)")

        var offline = hub.environment
        offline["HF_ENDPOINT"] = "http://127.0.0.1:1"
        let unreachable = try CommandRunner.imgsearch(["model", "pull", "test/tiny-a"], environment: offline)
        #expect(unreachable.status != 0)
        #expect(unreachable.standardError.contains("cannot reach 127.0.0.1"), "\(unreachable.standardError)")
        #expect(unreachable.standardError.split(separator: "\n").count == 1, "\(unreachable.standardError)")

        let notCached = try CommandRunner.imgsearch(["embed", "--model", "test/other", "--text", "x", "--json"], environment: offline)
        #expect(notCached.standardError.contains("imgsearch model pull test/other"), "\(notCached.standardError)")
    }
}

/// sha256 of a file, as hex, through the system's sha256sum.
func sha256Hex(of file: URL) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [file.path]
    let output = Pipe()
    process.standardOutput = output
    guard (try? process.run()) != nil else { return nil }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return text.split(separator: " ").first.map(String.init)
}
