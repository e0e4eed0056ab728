import Embeddings
import Foundation
import Store
import TestSupport
import Testing

/// `imgsearch query` and `status` on a catalog holding the three fixture photos embedded
/// with tiny-a: the ranking must be transformers' ITC ranking (expected.json).
@Suite struct QueryCommandTests {
    struct ResultLine: Decodable, Equatable {
        let path: String
        let score: Float
    }

    let expected: ExpectedOutputs
    let photos = ["astronaut.png", "chelsea.png", "coffee.png"].map { Fixtures.root.appendingPathComponent("images/\($0)").path }

    init() throws {
        expected = try ExpectedOutputs.load(model: "tiny-a")
    }

    /// A catalog with the fixture photos embedded by `modelName`'s model, registered under its identity.
    func makeCatalog(in directory: URL, modelName: String = "tiny-a") throws -> String {
        let snapshot = try ModelSnapshot(directory: Fixtures.model(modelName))
        let model = try Blip2Model(snapshot: snapshot, options: ComputeOptions(device: "cpu", parts: .image))
        let identity = try ModelIdentity(snapshot: snapshot)
        let path = directory.appendingPathComponent("catalog.sqlite").path
        let catalog = try Catalog(path: path)
        let preprocessor = ImagePreprocessor(size: model.config.imageSize)
        try catalog.write { tx in
            try tx.register(ModelRecord(id: identity.id, description: modelName, queryCount: model.config.queryTokenCount,
                                        dimension: model.config.embeddingDimension))
            for (index, photo) in photos.enumerated() {
                let embedding = try model.embedImages(pixels: try preprocessor.pixels(path: photo), count: 1)[0]
                try tx.storeImage(StoredImage(contentHash: "hash-\(index)", modelId: identity.id, vectors: embedding.values))
                try tx.upsert(CatalogFile(root: Fixtures.root.path, path: photo, device: 1, inode: Int64(index), size: 1,
                                          modifiedNanoseconds: 0, contentHash: "hash-\(index)", state: .indexed))
            }
        }
        return path
    }

    func query(_ database: String, _ arguments: [String]) throws -> [ResultLine] {
        let run = try CommandRunner.imgsearch(["query", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                               "--device", "cpu", "--json"] + arguments)
        #expect(run.status == 0, "\(run.standardError)")
        return try run.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(ResultLine.self, from: Data($0.utf8)) }
    }

    @Test func everyCaptionRanksThePhotosAsTransformersDoes() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        for (textIndex, text) in expected.texts.enumerated() {
            let results = try query(database, [text, "--limit", "3"])
            let reference = (0..<3).map { (photos[$0], expected.itc[$0][textIndex]) }.sorted { $0.1 > $1.1 }
            #expect(results.map(\.path) == reference.map(\.0), "ranking for \(text)")
            #expect(maxAbsoluteDifference(results.map(\.score), reference.map(\.1)) <= 1e-4, "scores for \(text)")
        }
    }

    /// `--rerank N`: the ITC top N ordered by transformers' ITM probabilities, printed with
    /// them; the rest keep their ITC order and get none.
    @Test func rerankOrdersTheTopByImageTextMatching() throws {
        struct Reranked: Decodable {
            let path: String
            let score: Float
            let itm: Float?
        }
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        func rerank(_ text: String, _ count: Int) throws -> [Reranked] {
            let run = try CommandRunner.imgsearch(["query", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                                   "--device", "cpu", "--json", "--rerank", String(count), text])
            #expect(run.status == 0, "\(run.standardError)")
            return try run.standardOutput.split(separator: "\n").map { try JSONDecoder().decode(Reranked.self, from: Data($0.utf8)) }
        }
        var reordered = 0
        for (textIndex, text) in expected.texts.enumerated() {
            let itc = try query(database, [text, "--limit", "3"])
            let itm = { (path: String) in self.expected.itm[self.photos.firstIndex(of: path)!][textIndex] }
            let rows = try rerank(text, 3)
            #expect(rows.map(\.path) == itc.map(\.path).sorted { itm($0) > itm($1) }, "re-ranked for \(text)")
            for row in rows {
                #expect(abs(row.itm! - itm(row.path)) <= 1e-4, "\(row.path): ITM \(row.itm!) for \(text)")
                #expect(row.score == itc.first { $0.path == row.path }!.score)
            }
            if rows.map(\.path) != itc.map(\.path) { reordered += 1 }
        }
        #expect(reordered > 0, "ITM orders differently from ITC for some text: \(reordered) of \(expected.texts.count)")
        // Only the head is re-scored; the rest keep their ITC order, with no probability.
        let itc = try query(database, [expected.texts[2], "--limit", "3"])
        let head = try rerank(expected.texts[2], 1)
        #expect(head.map(\.path) == itc.map(\.path) && head[0].itm != nil && head.dropFirst().allSatisfy { $0.itm == nil })
        let image = try CommandRunner.imgsearch(["query", "--db", database, "--image", photos[0], "--rerank", "2"])
        #expect(image.status != 0 && image.standardError.contains("--rerank"))
    }

    @Test func limitAndMinScoreCutTheList() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        let all = try query(database, [expected.texts[0]])
        #expect(all.count == 3)
        #expect(try query(database, [expected.texts[0], "--limit", "1"]) == [all[0]])
        let threshold = (all[1].score + all[2].score) / 2
        #expect(try query(database, [expected.texts[0], "--min-score", String(threshold)]).map(\.path) == all.prefix(2).map(\.path))
    }

    @Test func negativeTextScoresAsDocumented() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        let results = try query(database, [expected.texts[0], "--not", expected.texts[1], "--not-weight", "0.5"])
        let direction = zip(expected.text_embeddings[0], expected.text_embeddings[1]).map { $0 - 0.5 * $1 }
        let reference = (0..<3).map { image -> (String, Float) in
            let best = expected.image_embeddings[image].map { query in zip(query, direction).map { $0 * $1 }.reduce(0, +) }.max()!
            return (photos[image], best)
        }.sorted { $0.1 > $1.1 }
        #expect(results.map(\.path) == reference.map(\.0))
        #expect(maxAbsoluteDifference(results.map(\.score), reference.map(\.1)) <= 1e-4)
    }

    @Test func examplePhotoFindsItselfFirst() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        let results = try query(database, ["--image", photos[1]])
        #expect(results.first?.path == photos[1])
        #expect(abs((results.first?.score ?? 0) - 1) < 1e-4)
    }

    @Test func catalogOfAnotherModelIsRefusedClearly() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory, modelName: "tiny-b")
        let run = try CommandRunner.imgsearch(["query", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                               "--device", "cpu", "a cat"])
        #expect(run.status != 0)
        #expect(run.standardError.contains("has no embeddings from"))
        #expect(run.standardError.contains("tiny-b"))
    }

    @Test func statusCountsFilesAndImages() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        let run = try CommandRunner.imgsearch(["status", "--db", database, "--json"])
        #expect(run.status == 0, "\(run.standardError)")
        struct Report: Decodable {
            struct Model: Decodable { let images: Int; let vectorsPerImage: Int }
            struct Index: Decodable { let file: String; let bytes: Int }
            struct Compute: Decodable { let device: String; let precision: String; let int8Instructions: String }
            let files: [String: Int]
            let models: [Model]
            let indexes: [Index]
            let compute: Compute
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(run.standardOutput.utf8))
        // Where a model would run: auto is fp32 on this CPU (fp16 on a GPU), a config's precision wins.
        let expectedAuto = ComputeThreads.cudaAvailable ? ("cuda:0", "fp16") : ("cpu", "fp32")
        #expect((report.compute.device, report.compute.precision) == expectedAuto)
        #expect(report.compute.int8Instructions == AutoCompute.resolve(ComputeOptions()).int8Instructions)
        let config = directory.appendingPathComponent("config.yaml")
        try "precision: bf16\n".write(to: config, atomically: true, encoding: .utf8)
        let configured = try CommandRunner.imgsearch(["status", "--db", database, "--json", "--config", config.path])
        #expect(try JSONDecoder().decode(Report.self, from: Data(configured.standardOutput.utf8)).compute.precision == "bf16")
        let text = try CommandRunner.imgsearch(["status", "--db", database])
        #expect(text.standardOutput.contains("compute  \(expectedAuto.0), \(expectedAuto.1) ("))
        #expect(report.files == ["indexed": 3, "pending": 0, "failed": 0])
        #expect(report.models.map(\.images) == [3])
        #expect(report.models.map(\.vectorsPerImage) == [32])
        #expect(report.indexes.isEmpty)
        // A query saves the exact index beside the catalog; status shows it.
        _ = try query(database, ["a cat"])
        let after = try JSONDecoder().decode(Report.self, from: Data(try CommandRunner.imgsearch(["status", "--db", database, "--json"]).standardOutput.utf8))
        #expect(after.indexes.count == 1)
        #expect(after.indexes.first?.bytes ?? 0 > 3 * 32 * 16)
    }

    @Test func missingCatalogIsAClearError() throws {
        let run = try CommandRunner.imgsearch(["status", "--db", "/nonexistent/catalog.sqlite"])
        #expect(run.status != 0)
        #expect(run.standardError.contains("no catalog at /nonexistent/catalog.sqlite"))
    }

    /// Issue 16.4: values that crashed the scan are refused by the command, with a reason.
    @Test func badOptionValuesAreRefusedNotCrashes() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        for (arguments, message) in [(["--not", "a dog", "--not-weight", "nan"], "--not-weight"),
                                     (["--not", "a dog", "--not-weight", "inf"], "--not-weight"),
                                     (["--not", "a dog", "--not-weight", "-1"], "--not-weight"),
                                     (["--limit", "1000000000"], "--limit"), (["--limit", "0"], "--limit"),
                                     (["--min-score", "nan"], "--min-score")] {
            let run = try CommandRunner.imgsearch(["query", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                                   "--device", "cpu", "a cat"] + arguments)
            #expect(run.status == 64, "\(arguments): status \(run.status) \(run.standardError)")
            #expect(run.standardError.contains(message), "\(arguments): \(run.standardError)")
        }
        #expect(try query(database, ["a cat", "--limit", "10000"]).count == 3)
    }

    /// Issue 16.10: a path with a line break (or a backslash) is escaped in plain output, so
    /// each line is one result.
    @Test func pathsWithLineBreaksAreEscapedInPlainOutput() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let folder = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let odd = folder.appendingPathComponent("two\nlines\\and\ttab.png")
        try FileManager.default.copyItem(atPath: photos[2], toPath: odd.path)
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let indexed = try CommandRunner.imgsearch(["index", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                                   "--device", "cpu", folder.path])
        #expect(indexed.status == 0, "\(indexed.standardError)")
        let plain = try CommandRunner.imgsearch(["query", "--db", database, "--model", Fixtures.model("tiny-a").path,
                                                 "--device", "cpu", "coffee"])
        #expect(plain.standardOutput.split(separator: "\n").count == 1)
        #expect(plain.standardOutput.hasSuffix(folder.path + "/two\\nlines\\\\and\\ttab.png\n"), "\(plain.standardOutput)")
        #expect(try query(database, ["coffee"]).map(\.path) == [odd.path])
    }

    /// Issue 16.2: a status file left by a killed daemon, whose port another daemon (on
    /// another catalog) now holds, must not answer for this catalog.
    @Test func aDaemonServingAnotherCatalogIsNotBelieved() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try makeCatalog(in: directory)
        let expected = try query(database, ["a cat", "--no-daemon"])
        #expect(expected.count == 3)

        let other = directory.appendingPathComponent("other")
        let folder = other.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Fixtures.root.appendingPathComponent("images/rgba.png").path,
                                         toPath: folder.appendingPathComponent("rgba.png").path)
        let daemon = try RunningDaemon(folder: folder, directory: other)
        try daemon.waitFor("the first pass") { $0.embedded == 1 }
        let (host, port) = try daemon.server()
        let stale = #"{"catalogPath": "\#(database)", "serverURL": "http://\#(host):\#(port)", "passes": 3}"#
        try Data(stale.utf8).write(to: URL(fileURLWithPath: database + ".daemon.json"))
        #expect(try query(database, ["a cat"]) == expected)
        // Without a model, it cannot search here: it says so rather than answer from the other catalog.
        let noModel = try CommandRunner.imgsearch(["query", "--db", database, "--json", "a cat"],
                                                  environment: ["XDG_CONFIG_HOME": directory.appendingPathComponent("config").path])
        #expect(noModel.standardOutput.isEmpty)
        #expect(noModel.status != 0)
    }
}
