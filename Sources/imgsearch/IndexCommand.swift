import ArgumentParser
import Embeddings
import Foundation
import Indexer
import Store

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

    @Argument(help: ArgumentHelp("Folders to index.", valueName: "folder"))
    var folders: [String]

    @Option(help: "Images embedded per forward pass.")
    var batch = 8

    @Option(help: ArgumentHelp("Skip paths matching this glob (repeatable), e.g. '*/.thumbnails/*'.", valueName: "glob"))
    var exclude: [String] = []

    @Flag(help: "Also index hidden files and folders (names starting with a dot).")
    var includeHidden = false

    @Flag(help: "Print the seconds spent in each stage (crawl, prepare, embed, commit).")
    var timings = false

    func validate() throws {
        if folders.isEmpty { throw ValidationError("give at least one folder") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let model = try modelOptions.load(parts: .image)
        let identity = try ModelIdentity(snapshot: model.snapshot)
        let catalog = try Catalog(path: catalogOptions.path)
        let record = ModelRecord(id: identity.id, description: model.snapshot.directory.path,
                                 queryCount: model.config.queryTokenCount, dimension: model.config.embeddingDimension)
        StopSignals.install([SIGINT, SIGTERM], secondSignalStopsAtOnce: true)
        let progressBar = ProgressBar()
        let crawler = Crawler(roots: folders, excludes: exclude, includeHidden: includeHidden)
        let summary = try IndexRun(catalog: catalog, model: model, modelRecord: record, batchSize: batch)
            .run(crawler, shouldStop: { stopRequested.load(ordering: .relaxed) }, progress: progressBar.show)
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

/// A one-line progress bar on a terminal; a log line every 10 seconds otherwise.
final class ProgressBar {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastLine = Date.distantPast
    private var drawn = false

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
        } else if Date().timeIntervalSince(lastLine) >= 10 || progress.done == progress.total {
            lastLine = Date()
            log.info("indexed \(counts)")
        }
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
