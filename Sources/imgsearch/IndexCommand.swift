import ArgumentParser
import Foundation
import Indexer

/// `imgsearch index`: bring the catalog in step with folders of photos.
struct Index: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index the images under folders: embed what is new or changed, forget what is gone.",
        discussion: """
            Files are recognised by content (JPEG, PNG, WebP, HEIC, TIFF, GIF), whatever their names.
            A file whose size, mtime and inode are unchanged is skipped; a changed one is hashed,
            and content the model has embedded before (a move, a rename, a copy) is never
            embedded again. Each batch is committed on its own: Ctrl-C (or a crash) loses at
            most the batch in flight, and the next run resumes. Unreadable images are reported
            and recorded as failed; they are retried when the file changes.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var library: LibraryOptions
    @OptionGroup var configOption: ConfigOption

    @Flag(help: "Print the seconds spent in each stage (crawl, prepare, embed, commit).")
    var timings = false

    @Flag(help: "Log every committed batch (when standard error is not a terminal).")
    var verbose = false

    func run() throws {
        let config = try configOption.load()
        let indexRun = try library.indexRun(model: modelOptions, catalog: catalogOptions, config: config)
        let crawler = try library.crawler(config)
        StopSignals.install([SIGINT, SIGTERM], secondSignalStopsAtOnce: true)
        let progressBar = ProgressBar(logEveryBatch: verbose)
        let summary = try indexRun.run(crawler, shouldStop: { stopRequested.load(ordering: .relaxed) },
                                       progress: progressBar.show)
        progressBar.finish()

        for problem in summary.crawlProblems { log.warning("\(problem)") }
        for failure in summary.failures { log.error("\(failure.path): \(failure.reason)") }
        print("\(summary.embedded) embedded, \(summary.reused) reused (moved or copied), \(summary.unchanged) unchanged, "
            + "\(summary.removed) removed, \(summary.failures.count) failed"
            + (summary.stoppedEarly ? "; stopped early, run again to resume" : ""))
        if timings {
            print("stages: " + summary.stageSeconds.sorted { $0.key < $1.key }
                .map { String(format: "%@ %.2f s", $0.key, $0.value) }.joined(separator: ", "))
        }
        if summary.stoppedEarly { throw ExitCode(130) }
    }
}

/// A one-line progress bar on a terminal; a log line every 10 seconds (or every batch) otherwise.
final class ProgressBar {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private let logEveryBatch: Bool
    private var lastLine = Date.distantPast
    private var drawn = false

    init(logEveryBatch: Bool) {
        self.logEveryBatch = logEveryBatch
    }

    func show(_ progress: IndexProgress) {
        let remaining = progress.imagesPerSecond > 0 ? Double(progress.total - progress.done) / progress.imagesPerSecond : 0
        let eta = String(format: "%d:%02d:%02d", Int(remaining) / 3600, Int(remaining) / 60 % 60, Int(remaining) % 60)
        let counts = "\(progress.done)/\(progress.total)  \(String(format: "%.2f", progress.imagesPerSecond)) img/s  ETA \(eta)"
            + (progress.failed > 0 ? "  \(progress.failed) failed" : "")
        if isTerminal {
            let width = 30
            let filled = progress.total > 0 ? width * progress.done / progress.total : width
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(counts)\u{1B}[K".utf8))
            drawn = true
        } else if logEveryBatch || Date().timeIntervalSince(lastLine) >= 10 || progress.done == progress.total {
            lastLine = Date()
            log.info("indexed \(counts)")
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
