import Foundation
import TestSupport
import Testing

/// The config file: what it sets is used, flags override it, a wrong one is a one-line error.
@Suite struct ConfigurationTests {
    func withConfig(_ yaml: (URL) -> String, _ body: (URL, String) throws -> Void) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("config.yaml").path
        try yaml(directory).write(toFile: path, atomically: true, encoding: .utf8)
        try body(directory, path)
    }

    @Test func indexAndQueryRunFromTheConfigAlone() throws {
        try withConfig({ directory in
            """
            model: \(Fixtures.model("tiny-a").path)
            device: cpu
            database: \(directory.appendingPathComponent("catalog.sqlite").path)
            roots: [\(Fixtures.root.appendingPathComponent("images").path)]
            exclude: ["*/malformed/*", "*.tiff"]
            batch: 4
            """
        }) { directory, config in
            let index = try CommandRunner.imgsearch(["index", "--config", config])
            #expect(index.status == 0, "\(index.standardError)")
            #expect(index.standardOutput.contains("0 failed"))
            let query = try CommandRunner.imgsearch(["query", "--config", config, "--json", "a cat", "--limit", "50"])
            #expect(query.status == 0, "\(query.standardError)")
            let paths = query.standardOutput.split(separator: "\n")
            #expect(paths.count > 10)
            #expect(!paths.contains { $0.contains(".tiff") || $0.contains("malformed") })
            // A flag wins over the file.
            let elsewhere = directory.appendingPathComponent("other.sqlite").path
            let status = try CommandRunner.imgsearch(["status", "--config", config, "--db", elsewhere])
            #expect(status.standardError.contains("no catalog at \(elsewhere)"))
        }
    }

    @Test func aWronglyTypedValueNamesTheFileAndTheKey() throws {
        try withConfig({ _ in "batch: many\n" }) { _, config in
            let run = try CommandRunner.imgsearch(["status", "--config", config])
            #expect(run.status != 0)
            #expect(run.standardError == "Error: \(config): batch: expected Int\n")
        }
    }

    @Test func anUnknownKeyIsRefused() throws {
        try withConfig({ _ in "batch_size: 4\n" }) { _, config in
            let run = try CommandRunner.imgsearch(["status", "--config", config])
            #expect(run.standardError.hasPrefix("Error: \(config): unknown key \"batch_size\""))
        }
    }

    @Test func aNamedConfigMustExist() throws {
        let run = try CommandRunner.imgsearch(["status", "--config", "/nonexistent/config.yaml"])
        #expect(run.standardError == "Error: /nonexistent/config.yaml: no such config file\n")
    }

    @Test func theDocumentedExampleIsValid() throws {
        let example = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config/config.yaml").path
        let run = try CommandRunner.imgsearch(["status", "--config", example, "--db", "/nonexistent/c.sqlite"])
        #expect(run.standardError == "Error: no catalog at /nonexistent/c.sqlite: run `imgsearch index` first, or pass --db\n")
    }
}
