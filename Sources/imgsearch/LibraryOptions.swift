import ArgumentParser
import Embeddings
import Indexer
import Store

/// The folders to index and how, shared by `index` and `daemon`.
struct LibraryOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Folders of photos.", valueName: "folder"))
    var folders: [String]

    @Option(help: "Images embedded per forward pass.")
    var batch = 8

    @Option(help: ArgumentHelp("Skip paths matching this glob (repeatable), e.g. '*/.thumbnails/*'.", valueName: "glob"))
    var exclude: [String] = []

    @Flag(help: "Also index hidden files and folders (names starting with a dot).")
    var includeHidden = false

    func validate() throws {
        if folders.isEmpty { throw ValidationError("give at least one folder") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    var crawler: Crawler { Crawler(roots: folders, excludes: exclude, includeHidden: includeHidden) }

    /// Loads the model's image side, opens (or creates) the catalog and stamps the model's
    /// identity: what an index pass needs.
    func indexRun(model modelOptions: ModelOptions, catalog catalogOptions: CatalogOptions) throws -> IndexRun {
        let model = try modelOptions.load(parts: .image)
        let identity = try ModelIdentity(snapshot: model.snapshot)
        let record = ModelRecord(id: identity.id, description: model.snapshot.directory.path,
                                 queryCount: model.config.queryTokenCount, dimension: model.config.embeddingDimension)
        return IndexRun(catalog: try Catalog(path: catalogOptions.path), model: model, modelRecord: record, batchSize: batch)
    }
}
