import ArgumentParser
import Foundation
import Library
import PostgresStore
import Store

/// `imgsearch prune`: forget what the catalog keeps for files that are not there.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Forget offline files (of a drive that is gone for good) and the embeddings of vanished files.",
        discussion: """
            `imgsearch index` never prunes a root that is missing or suddenly empty: its files
            are kept offline, not searched, until the drive is back. When it will not come back,
            `imgsearch prune` removes those files, and every embedding no file uses any more
            (otherwise kept for keep_vanished_days). With --under FOLDER, only the offline files
            under that folder. On a PostgreSQL store (--store), also the vector rows whose
            image never committed (a shard committed when the store did not).
            """)

    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup(title: "PostgreSQL store") var storeOptions: StoreOptions
    @OptionGroup var configOption: ConfigOption

    @Option(help: ArgumentHelp("Forget only the offline files under this folder.", valueName: "folder"))
    var under: String?

    func run() async throws {
        let config = try configOption.load()
        let folder = under.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let store = try storeOptions.postgres(config, besides: catalogOptions, create: false) {
            defer { store.close() }
            let (files, images) = try prune(store, under: folder)
            let vectorRows = try store.removeOrphanedVectorRows().values.reduce(0, +)
            print("\(files) offline files, \(images) unused embeddings and \(vectorRows) orphaned vector rows removed")
            return
        }
        let (files, images) = try prune(try catalogOptions.library(config).catalog, under: folder)
        print("\(files) offline files and \(images) unused embeddings removed")
    }

    /// Removes the offline files (under `folder`) and the embeddings no file uses, in one
    /// transaction; returns how many of each.
    private func prune(_ catalog: any IndexingStore, under folder: String?) throws -> (files: Int, images: Int) {
        try catalog.update { tx in
            let files = try tx.removeOfflineFiles(under: folder)
            return (files, try tx.removeOrphanImages(keepingFor: 0).count)
        }
    }
}
