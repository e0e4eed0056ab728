import ArgumentParser
import Embeddings
import Foundation
import Indexer
import Library
import PostgresStore
import Query
import Server
import ServiceLifecycle

/// `imgsearch daemon`: keep the catalog in step with folders as files come and go, and
/// serve search over HTTP.
struct Daemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch folders, keep the catalog in step, and serve search: a JSON API and a web page.",
        discussion: """
            Loads the model once, indexes everything that changed since the last run, then
            watches every folder with inotify (new folders included). After a burst of changes
            settles (1 s of quiet, at most 10 s), it runs an index pass; moves and copies reuse
            their embeddings. Every --rescan seconds it also reconciles with a full scan, which
            covers folders it could not watch. SIGTERM or Ctrl-C finishes the current batch and
            exits. Counters (passes, embedded, reused, removed, failed, the API's address) are
            written as JSON to --status-file after every pass. A systemd user unit is in
            Config/imgsearch.service.

            The search index stays in memory and follows every pass: exact by default, or
            --index approximate for very large libraries (about 2.3 KB an image instead of 8 KB;
            candidates re-scored exactly, but an image can be missed). The web page and the API
            (see API.md) listen on --listen, 127.0.0.1:7878 by default (loopback only); port 0
            picks a free port. Bound to another address, set a token (`token` in the config
            file, or IMGSEARCH_TOKEN): API requests then need `Authorization: Bearer TOKEN`,
            and the page is opened as http://HOST:PORT/#token=TOKEN. `imgsearch query` uses a
            running daemon when it can.

            With --store (or `store` in the config file) it indexes into a PostgreSQL store,
            which several daemons and `imgsearch index` runs may share, and searches it there
            (--store-search): nothing is held in memory, so it serves what any of them wrote.
            It serves only the photos under its own folders. Semantic search, similar photos,
            thumbnails, files, folders and status work as on SQLite; filters, keyword and
            hybrid search, duplicates and --captions do not yet (HTTP 501).
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var library: LibraryOptions
    @OptionGroup var configOption: ConfigOption

    @Option(help: ArgumentHelp("Caption every photo after each pass and answer POST /api/images/{id}/caption and /ask with this BLIP-2 captioning model (default: `captions` in the config file).", valueName: "model"))
    var captions: String?

    @Option(help: "Seconds between full reconcile scans (default 600).")
    var rescan: Double?

    @Option(help: ArgumentHelp("Where to write the daemon's counters (default: the catalog's path + .daemon.json).", valueName: "path"))
    var statusFile: String?

    @Option(help: ArgumentHelp("Address of the web page and API (default 127.0.0.1:7878; `listen` in the config file).", valueName: "host:port"))
    var listen: String?

    @Option(help: ArgumentHelp("Search index: exact (default) or approximate (for a million photos in less memory; `index` in the config file).", valueName: "kind"))
    var index: String?

    @Option(help: "With --store: approximate (each partition's HNSW index, candidates re-scored exactly; the default) or exact (every vector, grouped by image on each server).")
    var storeSearch: PostgresSearchMode?

    func validate() throws {
        if let rescan, rescan <= 0 { throw ValidationError("--rescan must be positive") }
        if let index { _ = try ServedIndexKind(index) }
        if let listen { _ = try ListenAddress(listen) }
    }

    func run() async throws {
        let config = try configOption.load()
        let address = try ListenAddress(listen ?? config.listen ?? "127.0.0.1:7878")
        let token = config.apiToken
        if !address.isLoopback && token == nil {
            log.warning("listening on \(address) without a token: anyone who can reach it can search and see your photos; set `token` in the config file or IMGSEARCH_TOKEN")
        }
        let served = try servedCatalog(config)
        let crawler = try library.crawler(config)
        let statusPath = statusFile ?? served.files.daemonStatus
        let daemon = LibraryDaemon(indexRun: served.indexRun, crawler: crawler, statusPath: statusPath,
                                   rescanInterval: rescan ?? config.rescanSeconds ?? 600, captionRun: served.captionRun,
                                   followCatalog: served.follow)
        let activity = daemon.activity
        let service = LibraryService(catalog: served.catalog, model: served.indexRun.model, roots: crawler.roots,
                                     thumbnailDirectory: served.files.thumbnailDirectory, activity: activity,
                                     captioner: served.captionRun?.generator)
        let server = APIServer(service: service, host: address.host, port: address.port, token: token,
                               allowedHosts: config.allowedHosts ?? [])
        let listening = server.service(logger: log) { url in
            do {
                try activity.update({ $0.serverURL = url }, writingTo: statusPath)
            } catch {
                log.error("\(statusPath): cannot write the daemon's status: \(error)")
            }
            log.info("web page and API at \(url)")
        }
        log.info("watching \(crawler.roots.joined(separator: ", ")) with \(served.indexRun.model.device)")
        // SIGTERM or Ctrl-C: the server answers the requests in flight, then the loop
        // finishes its batch; either service ending (or failing) stops the other.
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: IndexingService(daemon: daemon, log: { log.info("\($0)") }),
                      successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: listening,
                      successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: log))
        try await group.run()
        try activity.update({ $0.serverURL = nil }, writingTo: statusPath)
        try served.saveCache()
        log.info("stopped after \(activity.counters.passes) passes")
    }

    /// What the daemon keeps and serves: the SQLite catalog with an in-memory index, or a
    /// PostgreSQL store searched on its servers.
    private struct Served {
        let catalog: any ServedCatalog
        let indexRun: IndexRun
        let captionRun: CaptionRun?
        /// Where the status file and thumbnails go by default.
        let files: CatalogFiles
        /// Brings the in-memory index up to date with the catalog (nothing to do for a store).
        let follow: @Sendable () throws -> Void
        let saveCache: () throws -> Void
    }

    private func servedCatalog(_ config: Configuration) throws -> Served {
        if try storeOptions.url(config, besides: catalogOptions) != nil {
            // Refused before connecting to the store.
            guard index == nil && config.index == nil else {
                throw ValidationError("--index (or `index` in the config) is the SQLite catalog's in-memory index: a store is searched on its servers (--store-search)")
            }
        }
        if let store = try storeOptions.postgres(config, besides: catalogOptions, create: true) {
            var indexRun = try library.indexRun(in: store, model: modelOptions, config: config, extraParts: [.text, .matching])
            let captionRun = try (captions ?? config.captions).map {
                try library.captionRun(named: $0, sharingWith: &indexRun, modelOptions: modelOptions, config: config)
            }
            let catalog = PostgresServedCatalog(store: store, model: indexRun.modelRecord, mode: storeSearch ?? .approximate)
            // The status file and thumbnails of a store's daemon live in the data folder, named after the store.
            let name = "\(store.address.host)-\(store.address.port)-\(store.address.database)".map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }
            let files = CatalogFiles(database: ((catalogOptions.path(config) as NSString).deletingLastPathComponent as NSString)
                .appendingPathComponent("postgres-" + String(name)))
            try FileManager.default.createDirectory(atPath: (files.database as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            return Served(catalog: catalog, indexRun: indexRun, captionRun: captionRun, files: files, follow: {}, saveCache: {})
        }
        if storeSearch != nil { throw ValidationError("--store-search applies to a PostgreSQL store (--store)") }
        let photoLibrary = try catalogOptions.library(config, create: true)
        var indexRun = try library.indexRun(in: photoLibrary, model: modelOptions, config: config, extraParts: [.text, .matching])
        let captionRun = try (captions ?? config.captions).map {
            try library.captionRun(named: $0, sharingWith: &indexRun, modelOptions: modelOptions, config: config)
        }
        let search = try photoLibrary.liveSearch(model: indexRun.modelRecord,
                                                 kind: try ServedIndexKind(index ?? config.index ?? "exact").kind)
        return Served(catalog: try SQLiteServedCatalog(library: photoLibrary, search: search), indexRun: indexRun,
                      captionRun: captionRun, files: photoLibrary.files, follow: { _ = try search.refreshIfChanged() },
                      saveCache: { try search.saveCache() })
    }
}

/// The index kinds a daemon keeps in step with the catalog: exact and approximate. (FAISS
/// factory kinds stay an experiment of `imgsearch query`: some cannot remove vectors.)
struct ServedIndexKind {
    let kind: IndexKind

    init(_ text: String) throws {
        kind = IndexKind(text)
        guard kind == .exact || kind == .approximate else {
            throw CommandError("index: the daemon serves \"exact\" or \"approximate\", not \"\(text)\"")
        }
    }
}
