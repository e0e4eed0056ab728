import ArgumentParser
import Foundation
import Indexer

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
    @OptionGroup var library: LibraryOptions
    @OptionGroup var configOption: ConfigOption

    @Option(help: "Seconds between full reconcile scans (default 600).")
    var rescan: Double?

    @Option(help: ArgumentHelp("Where to write the daemon's counters (default: the catalog's path + .daemon.json).", valueName: "path"))
    var statusFile: String?

    func validate() throws {
        if let rescan, rescan <= 0 { throw ValidationError("--rescan must be positive") }
    }

    func run() throws {
        let config = try configOption.load()
        let indexRun = try library.indexRun(model: modelOptions, catalog: catalogOptions, config: config)
        let crawler = try library.crawler(config)
        StopSignals.install([SIGTERM, SIGINT], secondSignalStopsAtOnce: false)
        let daemon = try LibraryDaemon(indexRun: indexRun, crawler: crawler,
                                       statusPath: statusFile ?? indexRun.catalog.path + ".daemon.json",
                                       rescanInterval: rescan ?? config.rescanSeconds ?? 600)
        log.info("watching \(crawler.roots.joined(separator: ", ")) with \(indexRun.model.device)")
        try daemon.run(shouldStop: { stopRequested.load(ordering: .relaxed) }, log: { log.info("\($0)") })
        log.info("stopped after \(daemon.counters.passes) passes")
    }
}
