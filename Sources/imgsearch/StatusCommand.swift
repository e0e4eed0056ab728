import ArgumentParser
import Foundation
import Store

/// `imgsearch status`: what the catalog holds.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the catalog: files per state, models and their images, cached search indexes, recent failures.")

    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var configOption: ConfigOption

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let catalog = try catalogOptions.openExisting(try configOption.load())
        let status = try catalog.status()
        let report = Report(
            catalog: catalog.path,
            schema: try catalog.appliedMigrations().count,
            files: Dictionary(uniqueKeysWithValues: FileState.allCases.map { ($0.rawValue, status.filesByState[$0] ?? 0) }),
            models: status.models.map { Report.Model(id: $0.id, source: $0.description, images: status.imagesByModel[$0.id] ?? 0,
                                                     vectorsPerImage: $0.queryCount, dimension: $0.dimension) },
            recentFailures: status.recentFailures.map { Report.Failure(path: $0.path, error: $0.lastError ?? "") },
            indexes: Self.cachedIndexes(in: catalog.path + ".index"))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("catalog  \(report.catalog) (schema \(report.schema))")
        print("files    " + FileState.allCases.map { "\($0.rawValue) \(report.files[$0.rawValue] ?? 0)" }.joined(separator: ", "))
        for model in report.models {
            print("model    \(model.id): \(model.images) images, \(model.vectorsPerImage)×\(model.dimension) vectors each (\(model.source))")
        }
        for index in report.indexes {
            print("index    \(index.file): exact (int8 scan + fp32 re-scoring), \(index.bytes / 1_048_576) MiB")
        }
        for failure in report.recentFailures { print("failed   \(failure.path): \(failure.error)") }
    }

    /// The exact indexes `imgsearch query` saved beside the catalog.
    private static func cachedIndexes(in directory: String) -> [Report.Index] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".qscan") }.sorted().map { name in
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? Int) ?? 0
            return Report.Index(file: directory + "/" + name, bytes: size)
        }
    }

    private struct Report: Encodable {
        struct Model: Encodable {
            let id: String
            let source: String
            let images: Int
            let vectorsPerImage: Int
            let dimension: Int
        }

        struct Failure: Encodable {
            let path: String
            let error: String
        }

        struct Index: Encodable {
            let file: String
            let bytes: Int
        }

        let catalog: String
        let schema: Int
        let files: [String: Int]
        let models: [Model]
        let recentFailures: [Failure]
        let indexes: [Index]
    }
}
