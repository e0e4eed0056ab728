import ArgumentParser
import Foundation
import Embeddings
import Indexer
import Library
import Store

/// `imgsearch index`: bring the catalog in step with folders of photos.
struct Index: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index the images under folders: embed what is new or changed, forget what is gone.",
        discussion: """
            Files are recognised by content (JPEG, PNG, WebP, HEIC, TIFF, GIF), whatever their names.
            A file whose size, mtime and inode are unchanged is skipped; a changed one is hashed,
            and content the model has embedded before (a move, a rename, a copy) is never
            embedded again. Each batch is committed on its own: Ctrl-C (or a crash) loses at
            most the batch in flight, and the next run resumes. Files that cannot be read, are
            empty, cannot be decoded, or are named like images without being one are reported
            (`path: reason`) and recorded as failed; they are retried when they change (files
            that could not be read, on every run). Other files that are not images (videos,
            sidecars) are counted as skipped; --verbose names them.

            A root that is missing, or empty where photos were indexed (an unplugged drive), is
            not pruned: its files are kept offline (not searched) until the drive is back, or
            until `imgsearch prune`. Embeddings of files that vanished are kept for
            keep_vanished_days (config, default 30), so a file moved away and back is not
            embedded again.

            Exit status: 0 when every image is indexed; 1 when some files failed (in this run or
            an earlier one, unchanged since) or a root, a folder or a name could not be read; 130
            when interrupted.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup(title: "PostgreSQL store") var storeOptions: StoreOptions
    @OptionGroup var library: LibraryOptions
    @OptionGroup var configOption: ConfigOption

    @Option(help: ArgumentHelp("Also caption every photo with this BLIP-2 captioning model (a folder or hub id; default: `captions` in the config file). Captions are kept per content and model, and searched by `query --mode keyword|hybrid`.", valueName: "model"))
    var captions: String?

    @Option(name: .customLong("caption-beams"), help: "Beams for captions while indexing (default 1, greedy: about 6× cheaper on a CPU than LAVIS's 5).")
    var captionBeams = 1

    @Option(name: .customLong("caption-max-tokens"), help: "At most this many tokens per caption while indexing (default 30).")
    var captionMaxTokens = 30

    @Option(name: .customLong("caption-prompt"), help: "Text the captions continue, e.g. \"a photo of\" for the COCO-finetuned models (default none).")
    var captionPrompt = ""

    @Flag(help: "With --store: drop the store's vector index while indexing and build it once at the end, for a first load or many new photos (building once is ~5× faster than keeping it up to date; approximate searches of the store are exhaustive meanwhile).")
    var bulkLoad = false

    @Flag(help: "Print the seconds spent in each stage (crawl, prepare, embed, caption, commit) and in the caption pass.")
    var timings = false

    @Flag(help: "Log every committed batch (when standard error is not a terminal).")
    var verbose = false

    func run() async throws {
        let config = try configOption.load()
        let store = try storeOptions.postgres(config, besides: catalogOptions, create: true)
        if bulkLoad, store == nil { throw ValidationError("--bulk-load applies to a PostgreSQL store (--store)") }
        var indexRun = try store.map { try library.indexRun(in: $0, model: modelOptions, config: config) }
            ?? library.indexRun(in: catalogOptions.library(config, create: true), model: modelOptions, config: config)
        let crawler = try library.crawler(config)
        let captionModel = captions ?? config.captions
        let captionRun = try captionModel.map {
            try library.captionRun(named: $0, sharingWith: &indexRun, modelOptions: modelOptions, config: config,
                                   adjust: applyCaptionOptions)
        }
        if bulkLoad, let store { try store.dropSearchIndexes(modelId: indexRun.modelRecord.id) }
        StopSignals.install([SIGINT, SIGTERM], secondSignalStopsAtOnce: true)
        let progressBar = ProgressBar(noun: "indexed", logEveryBatch: verbose)
        let run = Result {
            try indexRun.run(crawler, shouldStop: { stopRequested.load(ordering: .relaxed) }) { progress in
                progressBar.show(done: progress.done, total: progress.total, perSecond: progress.imagesPerSecond,
                                 detail: (indexRun.sharedCaptions == nil ? "" : "  \(progress.captioned) captioned")
                                     + (progress.failed > 0 ? "  \(progress.failed) failed" : ""))
            }
        }
        progressBar.finish()
        // Whatever the run did: a store left without its index would search every vector.
        // (A killed run leaves it so until the next index run, whose model registration makes it.)
        if bulkLoad, let store {
            let started = Date()
            log.info("building the store's vector index")
            try store.makeSearchIndexes(modelId: indexRun.modelRecord.id)
            log.info("vector index built in \(Self.duration(Date().timeIntervalSince(started)))")
        }
        let summary = try run.get()

        for problem in summary.crawlProblems { log.warning("\(problem)") }
        for (root, reason) in summary.offlineRoots {
            log.warning("\(root) \(reason): its files are kept offline; `imgsearch prune` forgets them")
        }
        for failure in summary.failures { log.error("\(failure.path): \(failure.reason)") }
        if verbose { for path in summary.skipped { log.info("\(path): skipped, not an image") } }
        print(Self.summaryLine(summary))
        if timings {
            print("stages: " + summary.stageSeconds.sorted { $0.key < $1.key }
                .map { String(format: "%@ %.2f s", $0.key, $0.value) }.joined(separator: ", "))
        }
        if summary.stoppedEarly { throw ExitCode(130) }
        var captionFailures = 0
        if let captionRun, let captionModel {
            let captioned = try caption(captionRun, model: captionModel)
            if captioned.stoppedEarly { throw ExitCode(130) }
            captionFailures = captioned.failures.count
        }
        if !summary.failures.isEmpty || summary.stillFailing > 0 || !summary.crawlProblems.isEmpty || captionFailures > 0 {
            throw ExitCode(1)
        }
    }

    /// --caption-prompt, --caption-beams and --caption-max-tokens.
    private func applyCaptionOptions(to run: inout CaptionRun) throws {
        guard captionBeams >= 1, captionMaxTokens >= 1 else { throw CommandError("--caption-beams and --caption-max-tokens must be at least 1") }
        run.prompt = captionPrompt
        var options = captionBeams == 1 ? GenerationOptions.greedy(maxNewTokens: captionMaxTokens) : GenerationOptions.caption
        options.beams = captionBeams
        options.maxNewTokens = captionMaxTokens
        run.options = options
    }

    /// Captions what the catalog holds without a caption by the run's model; prints what it did.
    private func caption(_ run: CaptionRun, model: String) throws -> CaptionSummary {
        var announced = false
        let started = Date()
        let progressBar = ProgressBar(noun: "captioned", logEveryBatch: verbose)
        let summary = try run.run(shouldStop: { stopRequested.load(ordering: .relaxed) }) { progress in
            if !announced {
                announced = true
                let remaining = Double(progress.total - progress.done) * progress.secondsPerImage
                log.info("captioning \(progress.total) photos with \(model): \(String(format: "%.1f", progress.secondsPerImage)) s each on \(run.generator.device), about \(Self.duration(remaining)) left")
            }
            progressBar.show(done: progress.done, total: progress.total, perSecond: progress.imagesPerSecond, detail: "")
        }
        progressBar.finish()
        for failure in summary.failures { log.error("\(failure.path): \(failure.reason)") }
        print("\(summary.captioned) captioned" + (summary.failures.isEmpty ? "" : ", \(summary.failures.count) failed")
              + (summary.stoppedEarly ? "; stopped early, run again to resume" : ""))
        if timings { print(String(format: "caption pass %.2f s", Date().timeIntervalSince(started))) }
        return summary
    }

    static func duration(_ seconds: Double) -> String {
        seconds < 90 ? String(format: "%.0f s", seconds) : seconds < 5400 ? String(format: "%.0f min", seconds / 60)
            : String(format: "%.1f h", seconds / 3600)
    }

    static func summaryLine(_ summary: IndexSummary) -> String {
        var parts = ["\(summary.embedded) embedded" + (summary.captioned > 0 ? " (\(summary.captioned) captioned)" : ""),
                     "\(summary.reused) reused (moved or copied)",
                     "\(summary.unchanged) unchanged", "\(summary.removed) removed",
                     "\(summary.failures.count + summary.stillFailing) failed"
                         + (summary.stillFailing > 0 ? " (\(summary.stillFailing) unchanged since an earlier run; see `imgsearch status`)" : "")]
        if summary.embeddedElsewhere > 0 { parts.append("\(summary.embeddedElsewhere) embedded by another indexer") }
        if !summary.skipped.isEmpty { parts.append("\(summary.skipped.count) skipped (not images)") }
        if summary.wentOffline > 0 { parts.append("\(summary.wentOffline) offline") }
        if summary.backOnline > 0 { parts.append("\(summary.backOnline) back online") }
        return parts.joined(separator: ", ") + (summary.stoppedEarly ? "; stopped early, run again to resume" : "")
    }
}

/// A one-line progress bar on a terminal; a log line every 10 seconds (or every batch) otherwise.
final class ProgressBar {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    /// What is counted ("indexed", "captioned").
    private let noun: String
    private let logEveryBatch: Bool
    private var lastLine = Date.distantPast
    private var drawn = false

    init(noun: String, logEveryBatch: Bool) {
        self.noun = noun
        self.logEveryBatch = logEveryBatch
    }

    func show(done: Int, total: Int, perSecond: Double, detail: String) {
        let remaining = perSecond > 0 ? Double(total - done) / perSecond : 0
        let eta = String(format: "%d:%02d:%02d", Int(remaining) / 3600, Int(remaining) / 60 % 60, Int(remaining) % 60)
        let counts = "\(done)/\(total)  \(String(format: "%.2f", perSecond)) img/s  ETA \(eta)" + detail
        if isTerminal {
            let width = 30
            let filled = total > 0 ? width * done / total : width
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(Data("\r\(noun) [\(bar)] \(counts)\u{1B}[K".utf8))
            drawn = true
        } else if logEveryBatch || Date().timeIntervalSince(lastLine) >= 10 || done == total {
            lastLine = Date()
            log.info("\(noun) \(counts)")
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
