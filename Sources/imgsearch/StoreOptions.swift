import ArgumentParser
import Embeddings
import Indexer
import Library
import PostgresStore
import Store

extension PostgresSearchMode: ExpressibleByArgument {}

/// `--store`: a PostgreSQL store instead of the SQLite catalog, for `index` and `query`.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Keep the catalog in PostgreSQL with pgvector instead of SQLite: postgres://USER[:PASSWORD]@HOST:PORT/DATABASE (default: `store` in the config file). Several indexing processes may share one.",
        valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp(
        "When --store creates a new store: also keep its vectors on this server, hash-partitioned by image and reached through postgres_fdw (repeatable; default: `store_shards` in the config file).",
        valueName: "url"))
    var shard: [String] = []

    /// The PostgreSQL store, when one is named (flag first, then the config file).
    func postgres(_ config: Configuration) throws -> PostgresCatalog? {
        guard let url = store ?? config.store else {
            if !shard.isEmpty { throw ValidationError("--shard lays out a PostgreSQL store: give --store too") }
            return nil
        }
        return try PostgresCatalog(url: url, shards: shard.isEmpty ? config.storeShards ?? [] : shard)
    }
}

extension LibraryOptions {
    /// Loads the model's image side and sets up an index pass into a PostgreSQL store (the
    /// model registered there, with its vector index).
    func indexRun(in store: PostgresCatalog, model modelOptions: ModelOptions, config: Configuration) throws -> IndexRun {
        let batchSize = batch ?? config.batch ?? 8
        guard batchSize >= 1 else { throw CommandError("config: batch must be at least 1") }
        let model = try modelOptions.load(parts: .image, config: config)
        let record = try ModelRecord(model: model)
        try store.register(record)
        var run = IndexRun(catalog: store, model: model, modelRecord: record, batchSize: batchSize)
        run.vanishedGraceSeconds = try config.vanishedGraceSeconds()
        return run
    }
}
