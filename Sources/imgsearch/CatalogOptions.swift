import ArgumentParser
import Foundation
import Store

/// The `--db` option shared by commands that read or write the catalog.
struct CatalogOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The catalog database (default: $XDG_DATA_HOME/imgsearch/catalog.sqlite, or ~/.local/share/imgsearch/catalog.sqlite).",
        valueName: "path"))
    var db: String?

    var path: String {
        if let db { return db }
        let environment = ProcessInfo.processInfo.environment
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (dataHome as NSString).appendingPathComponent("imgsearch/catalog.sqlite")
    }

    /// Opens an existing catalog; a missing one is an error rather than an empty result.
    func openExisting() throws -> Catalog {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no catalog at \(path): run `imgsearch index` first, or pass --db")
        }
        return try Catalog(path: path)
    }
}
