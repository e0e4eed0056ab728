import ArgumentParser
import Embeddings
import Indexer
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

    /// Loads the model's image side (and `extraParts`), opens (or creates) the catalog and
    /// stamps the model's identity: what an index pass needs.
    func indexRun(model modelOptions: ModelOptions, catalog catalogOptions: CatalogOptions,
                  config: Configuration, extraParts: ModelParts = []) throws -> IndexRun {
        let batchSize = batch ?? config.batch ?? 8
        guard batchSize >= 1 else { throw CommandError("config: batch must be at least 1") }
        let model = try modelOptions.load(parts: extraParts.union(.image), config: config)
        let identity = try ModelIdentity(snapshot: model.snapshot)
        let record = ModelRecord(id: identity.id, description: model.snapshot.directory.path,
                                 queryCount: model.config.queryTokenCount, dimension: model.config.embeddingDimension)
        var run = IndexRun(catalog: try Catalog(path: catalogOptions.path(config)), model: model, modelRecord: record,
                           batchSize: batchSize)
        run.vanishedGraceSeconds = try config.vanishedGraceSeconds()
        return run
    }
}
