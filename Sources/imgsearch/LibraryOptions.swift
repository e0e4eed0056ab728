import ArgumentParser
import Embeddings
import Indexer
import Library
import PostgresStore
import Store

/// The folders to index and how, shared by `index` and `daemon`.
struct LibraryOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Folders of photos (default: `roots` in the config file).", valueName: "folder"))
    var folders: [String] = []

    @Option(help: "Images embedded per forward pass (default 8).")
    var batch: Int?

    @Option(help: ArgumentHelp("Skip paths matching this glob (repeatable, added to the config file's), e.g. '*/.thumbnails/*'.", valueName: "glob"))
    var exclude: [String] = []

    @Flag(help: "Also index hidden files and folders (names starting with a dot).")
    var includeHidden = false

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    /// The folders, globs and hidden-file choice, flags first, then the config file.
    func crawler(_ config: Configuration) throws -> Crawler {
        let roots = folders.isEmpty ? config.roots ?? [] : folders
        guard !roots.isEmpty else {
            throw CommandError("no folders: give them as arguments or set `roots` in \(Configuration.defaultPath)")
        }
        return Crawler(roots: roots, excludes: (config.exclude ?? []) + exclude,
                       includeHidden: includeHidden || config.includeHidden == true)
    }

    /// Loads the model's image side (and `extraParts`) and sets up an index pass over
    /// `library` with it (the model registered in the catalog).
    func indexRun(in library: PhotoLibrary, model modelOptions: ModelOptions, config: Configuration,
                  extraParts: ModelParts = []) throws -> IndexRun {
        try indexRun(model: modelOptions, parts: extraParts.union(.image), config: config) { model, batchSize in
            try library.indexRun(model: model, batchSize: batchSize)
        }
    }

    /// Loads the model's image side and sets up an index pass into a PostgreSQL store (the
    /// model registered there, with its vector index).
    func indexRun(in store: PostgresCatalog, model modelOptions: ModelOptions, config: Configuration,
                  extraParts: ModelParts = []) throws -> IndexRun {
        try indexRun(model: modelOptions, parts: extraParts.union(.image), config: config) { model, batchSize in
            let record = try ModelRecord(model: model)
            try store.register(record)
            return IndexRun(catalog: store, model: model, modelRecord: record, batchSize: batchSize)
        }
    }

    /// The batch size and the model's `parts` loaded, the pass `make` sets up with them, and
    /// the config's grace for vanished files.
    private func indexRun(model modelOptions: ModelOptions, parts: ModelParts, config: Configuration,
                          make: (Blip2Model, Int) throws -> IndexRun) throws -> IndexRun {
        let batchSize = batch ?? config.batch ?? 8
        guard batchSize >= 1 else { throw CommandError("config: batch must be at least 1") }
        var run = try make(try modelOptions.load(parts: parts, config: config), batchSize)
        run.vanishedGraceSeconds = try config.vanishedGraceSeconds()
        return run
    }

    /// The captioning pass of `model` (a folder or hub id, loaded here) over the photos under
    /// the folders indexed, in `indexRun`'s catalog or store, set up by `adjust`, and shared
    /// with `indexRun`'s vision pass when their vision encoders are the same (said in the log).
    func captionRun(named model: String, sharingWith indexRun: inout IndexRun, modelOptions: ModelOptions,
                    config: Configuration, adjust: (inout CaptionRun) throws -> Void = { _ in }) throws -> CaptionRun {
        let generator = try modelOptions.loadGenerator(named: model, config: config)
        var run = CaptionRun(catalog: indexRun.catalog, generator: generator,
                             captionModelId: try ModelIdentity(captionSnapshot: generator.snapshot).id)
        run.roots = try crawler(config).roots
        run.batchSize = batch ?? config.batch ?? 4
        try adjust(&run)
        if try indexRun.shareVisionPass(with: run) {
            log.info("the captioning model's vision tower is the retrieval model's: one vision pass serves both")
        }
        return run
    }
}
