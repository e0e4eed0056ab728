import ArgumentParser
import Foundation
import Store

/// `imgsearch status`: what the catalog holds.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the catalog: files per state, models and their images, recent failures.")

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
            recentFailures: status.recentFailures.map { Report.Failure(path: $0.path, error: $0.lastError ?? "") })
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
        for failure in report.recentFailures { print("failed   \(failure.path): \(failure.error)") }
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

        let catalog: String
        let schema: Int
        let files: [String: Int]
        let models: [Model]
        let recentFailures: [Failure]
    }
}
