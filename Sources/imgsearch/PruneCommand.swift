import ArgumentParser
import Foundation
import Library
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
            under that folder.
            """)

    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var configOption: ConfigOption

    @Option(help: ArgumentHelp("Forget only the offline files under this folder.", valueName: "folder"))
    var under: String?

    func run() async throws {
        let catalog = try catalogOptions.library(try configOption.load()).catalog
        let folder = under.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let (files, images) = try catalog.write { tx in
            let files = try tx.removeOfflineFiles(under: folder)
            return (files, try tx.removeOrphanImages(keepingFor: 0).count)
        }
        print("\(files) offline files and \(images) unused embeddings removed")
    }
}
