import ArgumentParser
import Foundation
import Library
import PostgresStore

/// The `--db` option shared by commands that read or write the catalog.
struct CatalogOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The catalog database (default: `database` in the config file, else $XDG_DATA_HOME/imgsearch/catalog.sqlite).",
        valueName: "path"))
    var db: String?

    func path(_ config: Configuration) -> String {
        if let db = db ?? config.database { return db }
        let environment = ProcessInfo.processInfo.environment
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (dataHome as NSString).appendingPathComponent("imgsearch/catalog.sqlite")
    }

    /// Opens the catalog, creating it when `create` (an index run); otherwise a missing one
    /// is an error rather than an empty result.
    func library(_ config: Configuration, create: Bool = false) throws -> PhotoLibrary {
        // A config naming a PostgreSQL store must not quietly fall back to a SQLite catalog
        // in the commands that cannot use the store yet.
        if db == nil, let store = config.store {
            throw CommandError("the config file names a PostgreSQL store (store: \(PostgresAddress.redacted(store))), which only "
                + "`index`, `query`, `daemon`, `status` and `prune` use yet: give --db to use a SQLite catalog instead")
        }
        return try PhotoLibrary(path: path(config), create: create)
    }
}
