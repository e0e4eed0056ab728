import ArgumentParser
import PostgresStore

extension PostgresSearchMode: ExpressibleByArgument {}

/// `--store`: a PostgreSQL store instead of the SQLite catalog, for every command that reads
/// or writes the catalog.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Keep the catalog in PostgreSQL with pgvector instead of SQLite: postgres://USER[:PASSWORD]@HOST:PORT/DATABASE (default: `store` in the config file). Several indexing processes may share one.",
        valueName: "url"))
    var store: String?

    @Option(help: ArgumentHelp(
        "When --store creates a new store: also keep its vectors on this server, hash-partitioned by image and reached through postgres_fdw (repeatable; default: `store_shards` in the config file).",
        valueName: "url"))
    var shard: [String] = []

    /// The PostgreSQL store's URL, when one is named: the --store flag, else the config file's
    /// `store` unless a --db flag picks a SQLite catalog (as in every other command). An error
    /// when both flags are given. Connects to nothing.
    func url(_ config: Configuration, besides catalog: CatalogOptions) throws -> String? {
        if store != nil && catalog.db != nil { throw ValidationError("give --db (SQLite) or --store (PostgreSQL), not both") }
        guard let url = store ?? (catalog.db == nil ? config.store : nil) else {
            if !shard.isEmpty { throw ValidationError("--shard lays out a PostgreSQL store: give --store too") }
            return nil
        }
        return url
    }

    /// The PostgreSQL store named (see `url`), opened; made in an empty database when
    /// `create` (the indexing commands), otherwise an empty database is an error.
    func postgres(_ config: Configuration, besides catalog: CatalogOptions, create: Bool) throws -> PostgresCatalog? {
        try url(config, besides: catalog).map {
            try PostgresCatalog(url: $0, shards: shard.isEmpty ? config.storeShards ?? [] : shard, create: create)
        }
    }
}
