import ArgumentParser
import Embeddings
import Foundation
import Library
import PostgresStore
import Query
import Store

/// `imgsearch status`: what the catalog holds.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the catalog: files per state, models and their images, when the photos were taken and with which cameras, captions, cached search indexes, recent failures.",
        discussion: "With --store (or `store` in the config file): a PostgreSQL store's files, models, captions, vector rows per partition and sizes.")

    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var storeOptions: StoreOptions
    @OptionGroup var configOption: ConfigOption

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let config = try configOption.load()
        let compute = AutoCompute.resolve(try ModelOptions.configuredCompute(config))
        if let store = try storeOptions.postgres(config, besides: catalogOptions, create: false) {
            defer { store.close() }
            return try report(store, compute: compute)
        }
        let library = try catalogOptions.library(config)
        let status = try library.status()
        let catalog = status.catalog
        let report = Report(
            catalog: library.catalog.path,
            schema: status.schemaVersion,
            files: status.filesByState,
            models: catalog.models.map { Report.Model(id: $0.id, source: $0.description, images: catalog.imagesByModel[$0.id] ?? 0,
                                                      vectorsPerImage: $0.queryCount, dimension: $0.dimension,
                                                      precision: $0.precisionClass) },
            recentFailures: catalog.recentFailures.map { Report.Failure(path: $0.path, error: $0.lastError ?? "") },
            offline: catalog.offlineFilesByRoot,
            keptEmbeddings: catalog.keptEmbeddings,
            indexes: status.cachedIndexes.map { Report.Index(file: $0.file, kind: Self.describe($0.kind), bytes: $0.bytes) },
            captions: status.captionsByModel,
            taken: status.metadata.earliest.map { Report.DateRange(earliest: $0, latest: status.metadata.latest ?? $0,
                                                                   fromFileTimes: status.metadata.datedByFile) },
            cameras: status.metadata.cameras,
            compute: compute)
        if json { return try Self.printJSON(report) }
        print("catalog  \(report.catalog) (schema \(report.schema))")
        Self.printCompute(compute)
        Self.printFilesAndModels(report.files, report.models)
        for (root, count) in report.offline.sorted(by: { $0.key < $1.key }) {
            print("offline  \(root): \(count) files kept while it is missing or empty (`imgsearch prune` forgets them)")
        }
        for (model, count) in report.captions.sorted(by: { $0.key < $1.key }) {
            print("captions \(model): \(count) photos captioned (`query --mode keyword|hybrid` searches them)")
        }
        if let taken = report.taken {
            let byFile = taken.fromFileTimes > 0 ? " (\(taken.fromFileTimes) dated by their file's time: no EXIF date)" : ""
            print("taken    \(taken.earliest) to \(taken.latest)\(byFile)")
        }
        for (camera, count) in report.cameras.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
            print("camera   \(camera): \(count) photos")
        }
        if report.keptEmbeddings > 0 {
            print("kept     \(report.keptEmbeddings) embeddings of vanished files (for keep_vanished_days)")
        }
        for index in report.indexes {
            print("index    \(index.file): \(index.kind), \(index.bytes / 1_048_576) MiB")
        }
        for failure in report.recentFailures { print("failed   \(failure.path): \(failure.error)") }
    }

    /// A PostgreSQL store's files, models, captions, partitions and sizes.
    private func report(_ store: PostgresCatalog, compute: AutoCompute) throws {
        let status = try store.status()
        let files = try store.fileStatus(recentFailures: 20)
        let rows = try store.vectorRowsPerPartition()
        let storage = try store.storageBytes()
        let shards = Dictionary(uniqueKeysWithValues: store.layout.shards.map { ($0.number, $0.address.description) })
        let report = StoreReport(
            store: store.location,
            schema: status.schemaVersion,
            files: FileState.namedCounts(files.byState),
            models: status.models.map { Report.Model(id: $0.model.id, source: $0.model.description, images: $0.images,
                                                     vectorsPerImage: $0.model.queryCount, dimension: $0.model.dimension,
                                                     precision: $0.model.precisionClass) },
            recentFailures: files.failures.map { Report.Failure(path: $0.path, error: $0.error) },
            offline: status.offlineByRoot,
            keptEmbeddings: status.keptEmbeddings,
            captions: status.captionsByModel,
            partitions: rows.keys.sorted().map { StoreReport.Partition(number: $0, server: shards[$0] ?? store.location,
                                                                       vectorRows: rows[$0] ?? 0) },
            bytes: StoreReport.Bytes(vectors: storage.vectors, vectorIndexes: storage.vectorIndexes, catalog: storage.catalog),
            compute: compute)
        if json { return try Self.printJSON(report) }
        print("store    \(report.store) (schema \(report.schema))")
        Self.printCompute(compute)
        Self.printFilesAndModels(report.files, report.models)
        for (root, count) in report.offline.sorted(by: { $0.key < $1.key }) {
            print("offline  \(root): \(count) files kept while it is missing or empty")
        }
        for (model, count) in report.captions.sorted(by: { $0.key < $1.key }) { print("captions \(model): \(count) photos captioned") }
        if report.keptEmbeddings > 0 {
            print("kept     \(report.keptEmbeddings) embeddings of vanished files (for keep_vanished_days)")
        }
        for partition in report.partitions {
            print("vectors  partition \(partition.number) on \(partition.server): \(partition.vectorRows) rows")
        }
        let mib = { (bytes: Int) in bytes / 1_048_576 }
        print("size     \(mib(report.bytes.vectors)) MiB of vector rows, \(mib(report.bytes.vectorIndexes)) MiB of vector indexes, "
              + "\(mib(report.bytes.catalog)) MiB of catalog tables")
        for failure in report.recentFailures { print("failed   \(failure.path): \(failure.error)") }
    }

    private static func printJSON(_ report: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }

    /// The "compute" line: where and in which precision models would run, and on what.
    private static func printCompute(_ compute: AutoCompute) {
        print("compute  \(compute.device), \(compute.precision) (what commands use without --device/--precision; "
              + "\(compute.processor), int8 instructions: \(compute.int8Instructions))")
    }

    /// The "files" line and a "model" line per model.
    private static func printFilesAndModels(_ files: [String: Int], _ models: [Report.Model]) {
        print("files    " + FileState.allCases.map { "\($0.rawValue) \(files[$0.rawValue] ?? 0)" }.joined(separator: ", "))
        for model in models {
            let precision = model.precision == "int8" ? "int8" : "fp32/bf16/fp16"
            print("model    \(model.id): \(model.images) images, \(model.vectorsPerImage)×\(model.dimension) vectors each, \(precision) (\(model.source))")
        }
    }

    /// `status --store --json`.
    private struct StoreReport: Encodable {
        struct Partition: Encodable {
            let number: Int
            /// The store's server (partition 0) or the shard's, without password.
            let server: String
            let vectorRows: Int
        }

        struct Bytes: Encodable {
            let vectors: Int
            let vectorIndexes: Int
            let catalog: Int
        }

        let store: String
        let schema: Int
        let files: [String: Int]
        let models: [Report.Model]
        let recentFailures: [Report.Failure]
        let offline: [String: Int]
        let keptEmbeddings: Int
        let captions: [String: Int]
        let partitions: [Partition]
        let bytes: Bytes
        let compute: AutoCompute
    }

    /// What a cached index is, in words.
    private static func describe(_ kind: IndexKind) -> String {
        switch kind {
        case .exact: "exact (int8 scan + fp32 re-scoring)"
        case .approximate: "approximate (partitioned, 4-bit codes)"
        case .factory(let factory): factory
        }
    }

    private struct Report: Encodable {
        struct Model: Encodable {
            let id: String
            let source: String
            let images: Int
            let vectorsPerImage: Int
            let dimension: Int
            /// "int8", or "fp32" for the fp32/bf16/fp16 embeddings that share an id.
            let precision: String
        }

        struct Failure: Encodable {
            let path: String
            let error: String
        }

        struct DateRange: Encodable {
            let earliest: String
            let latest: String
            let fromFileTimes: Int
        }

        struct Index: Encodable {
            let file: String
            let kind: String
            let bytes: Int
        }

        let catalog: String
        let schema: Int
        let files: [String: Int]
        let models: [Model]
        let recentFailures: [Failure]
        /// Offline files per root.
        let offline: [String: Int]
        let keptEmbeddings: Int
        let indexes: [Index]
        /// Captions per captioning model (`index --captions`).
        let captions: [String: Int]
        /// When the photos were taken (EXIF, else their files' times).
        let taken: DateRange?
        /// Photos per camera (EXIF make and model).
        let cameras: [String: Int]
        /// What the config's device and precision (or auto) resolve to here, and the processor.
        let compute: AutoCompute
    }
}
