import ArgumentParser
import Embeddings
import Foundation
import Indexer
import Store

/// `imgsearch daemon`: keep the catalog in step with folders as files come and go.
struct Daemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch folders and keep the catalog in step: index new and changed photos, follow moves, forget deletions.",
        discussion: """
            Loads the model once, indexes everything that changed since the last run, then
            watches every folder with inotify (new folders included). After a burst of changes
            settles (1 s of quiet, at most 10 s), it runs an index pass; moves and copies reuse
            their embeddings. Every --rescan seconds it also reconciles with a full scan, which
            covers folders it could not watch. SIGTERM or Ctrl-C finishes the current batch and
            exits. Counters (passes, embedded, reused, removed, failed) are written as JSON to
            --status-file after every pass. A systemd user unit is in Config/imgsearch.service.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var catalogOptions: CatalogOptions

    @Argument(help: ArgumentHelp("Folders to watch.", valueName: "folder"))
    var folders: [String]

    @Option(help: "Images embedded per forward pass.")
    var batch = 8

    @Option(help: ArgumentHelp("Skip paths matching this glob (repeatable).", valueName: "glob"))
    var exclude: [String] = []

    @Flag(help: "Also index hidden files and folders.")
    var includeHidden = false

    @Option(help: "Seconds between full reconcile scans.")
    var rescan: Double = 600

    @Option(help: ArgumentHelp("Where to write the daemon's counters (default: the catalog's path + .daemon.json).", valueName: "path"))
    var statusFile: String?

    func validate() throws {
        if folders.isEmpty { throw ValidationError("give at least one folder") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if rescan <= 0 { throw ValidationError("--rescan must be positive") }
    }

    func run() throws {
        let model = try modelOptions.load(parts: .image)
        let identity = try ModelIdentity(snapshot: model.snapshot)
        let catalog = try Catalog(path: catalogOptions.path)
        let record = ModelRecord(id: identity.id, description: model.snapshot.directory.path,
                                 queryCount: model.config.queryTokenCount, dimension: model.config.embeddingDimension)
        StopSignals.install([SIGTERM, SIGINT], secondSignalStopsAtOnce: false)
        let daemon = try LibraryDaemon(
            indexRun: IndexRun(catalog: catalog, model: model, modelRecord: record, batchSize: batch),
            crawler: Crawler(roots: folders, excludes: exclude, includeHidden: includeHidden),
            statusPath: statusFile ?? catalog.path + ".daemon.json", rescanInterval: rescan)
        log.info("watching \(folders.joined(separator: ", ")) with \(model.device)")
        try daemon.run(shouldStop: { stopRequested.load(ordering: .relaxed) }, log: { log.info("\($0)") })
        log.info("stopped after \(daemon.counters.passes) passes")
    }
}
