import ArgumentParser
import Embeddings
import Foundation
import ModelHub

/// `imgsearch model pull|list|verify`: BLIP-2 snapshots in the Hugging Face hub cache.
struct Model: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download, list and check BLIP-2 snapshots in the Hugging Face cache.",
        discussion: """
            Snapshots live in the Hugging Face hub cache (HF_HUB_CACHE, else HF_HOME/hub, else
            ~/.cache/huggingface/hub), in huggingface_hub's layout: a model downloaded with
            huggingface-cli is used without downloading, and --model ORG/NAME finds it.
            """,
        subcommands: [Pull.self, List.self, Verify.self])

    static let defaultRepository = "Salesforce/blip2-itm-vit-g"

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a BLIP-2 model (retrieval or captioning) from the Hugging Face hub.",
            discussion: """
                Fetches config.json, the safetensors weights, the processor configs and the
                tokenizer files (vocab.txt; OPT's vocab.json and merges.txt; T5's spiece.model):
                about 4.7 GB for blip2-itm-vit-g, 15 GB for blip2-opt-2.7b. Over HTTPS from HF_ENDPOINT (default
                https://huggingface.co; HF_TOKEN for gated models). An interrupted download
                resumes where it stopped, in this run (up to 5 attempts per file) or the next.
                Every file is checked against the hub's published sha256 (git blob id for small
                files) before it is moved into place; a mismatch discards it. Prints the
                snapshot folder.
                """)

        @Argument(help: "Repository id.")
        var repository = Model.defaultRepository

        @Option(help: "Branch, tag or commit.")
        var revision = "main"

        @Option(help: ArgumentHelp("Hub server (default: HF_ENDPOINT or https://huggingface.co).", valueName: "url"))
        var endpoint: String?

        func run() async throws {
            let cache = HubCache.standard()
            var client = HubClient.standard(cache: cache)
            if let endpoint {
                guard let url = URL(string: endpoint), url.scheme != nil else { throw CommandError("--endpoint \(endpoint) is not a URL") }
                client = HubClient(endpoint: url, cache: cache, token: client.token)
            }
            let meter = TransferMeter()
            do {
                let snapshot = try await client.pull(repo: repository, revision: revision) { file, done, total in
                    meter.show(file: file, done: done, total: total)
                }
                meter.finish()
                print(snapshot.path)
                log.info("use it with --model \(repository) (or --model \(snapshot.path))")
            } catch let error as HubError {
                meter.finish()
                let cached = cache.snapshot(repo: repository, revision: revision).map { "; a cached snapshot is at \($0.path)" } ?? ""
                throw CommandError(error.description + cached)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the snapshots in the Hugging Face cache.")

        func run() async throws {
            let snapshots = HubCache.standard().snapshots()
            if snapshots.isEmpty { log.info("no snapshots in \(HubCache.standard().root.path)") }
            for snapshot in snapshots {
                let refs = snapshot.refs.isEmpty ? "" : " (\(snapshot.refs.joined(separator: ", ")))"
                let kind = SnapshotKind(folder: snapshot.folder).description
                print("\(snapshot.repo)@\(snapshot.commit.prefix(12))\(refs)  \(kind)  \(snapshot.folder.path)")
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check cached snapshots: every file present and matching its checksum, and loadable.")

        @Argument(help: "Repository ids (default: every snapshot in the cache).")
        var repositories: [String] = []

        func run() async throws {
            let snapshots = HubCache.standard().snapshots().filter { repositories.isEmpty || repositories.contains($0.repo) }
            guard !snapshots.isEmpty else { throw CommandError("no cached snapshot of \(repositories.joined(separator: ", "))") }
            var failures = 0
            for snapshot in snapshots {
                let problems = SnapshotCheck.problems(in: snapshot.folder)
                    + (SnapshotKind(folder: snapshot.folder) == .other ? ["does not load as a BLIP-2 snapshot"] : [])
                if problems.isEmpty {
                    print("ok     \(snapshot.repo)@\(snapshot.commit.prefix(12))")
                } else {
                    failures += 1
                    for problem in problems { print("FAILED \(snapshot.repo)@\(snapshot.commit.prefix(12)): \(problem)") }
                }
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }
}

/// What a cached snapshot is, by loading its config and tokenizer.
enum SnapshotKind: Equatable, CustomStringConvertible {
    case retrieval, captioning, other

    init(folder: URL) {
        if (try? ModelSnapshot(directory: folder)) != nil {
            self = .retrieval
        } else if (try? CaptionModelSnapshot(directory: folder)) != nil {
            self = .captioning
        } else {
            self = .other
        }
    }

    var description: String {
        switch self {
        case .retrieval: "BLIP-2 retrieval (search, embed, match)"
        case .captioning: "BLIP-2 captioning (caption, ask)"
        case .other: "not a BLIP-2 snapshot imgsearch loads"
        }
    }
}

/// A one-line transfer display on a terminal (file, bytes, rate), a log line per file otherwise.
final class TransferMeter: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(STDERR_FILENO) == 1
    private var current = ""
    private var started = Date()
    private var lastDraw = Date.distantPast

    func show(file: String, done: Int64, total: Int64) {
        lock.withLock {
            if file != current {
                if !current.isEmpty && interactive { FileHandle.standardError.write(Data("\n".utf8)) }
                current = file
                started = Date()
                if !interactive { log.info("downloading \(file) (\(Self.format(total)))") }
            }
            guard interactive, Date().timeIntervalSince(lastDraw) > 0.2 || done == total else { return }
            lastDraw = Date()
            let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001)
            let line = "\r\(file)  \(Self.format(done)) / \(Self.format(total))  \(Self.format(Int64(rate)))/s   "
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func finish() {
        lock.withLock { if interactive && !current.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) } }
    }

    static func format(_ bytes: Int64) -> String {
        ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file)
    }
}
