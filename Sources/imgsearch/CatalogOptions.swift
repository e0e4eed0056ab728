import ArgumentParser
import Foundation
import Library

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
        try PhotoLibrary(path: path(config), create: create)
    }
}
