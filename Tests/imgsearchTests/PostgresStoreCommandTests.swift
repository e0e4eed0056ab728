import Foundation
import TestSupport
import Testing

/// `imgsearch index` and `query` on a PostgreSQL store (`--store`), with the toy model: several
/// indexing processes sharing one store embed each content once, and a killed one loses
/// nothing that was committed.
@Suite(.serialized) struct PostgresStoreCommandTests {
    static let resources = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/imgsearch/Resources")
    static let model = resources.appendingPathComponent("toy-model").path

    /// `copies` distinct contents per demo picture: the same pixels, each file with its own
    /// trailing bytes (decoders stop at the image's end marker; the content hash differs).
    static func photoFolder(copies: Int) throws -> (directory: URL, photos: URL, count: Int) {
        let directory = try Fixtures.temporaryDirectory()
        let photos = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        let demo = resources.appendingPathComponent("demo-images")
        let pictures = try FileManager.default.contentsOfDirectory(atPath: demo.path).filter { $0.hasSuffix(".jpg") }.sorted()
        for picture in pictures {
            let data = try Data(contentsOf: demo.appendingPathComponent(picture))
            for copy in 0..<copies {
                try (data + Data("copy \(copy)".utf8)).write(to: photos.appendingPathComponent("\(copy)-\(picture)"))
            }
        }
        return (directory, photos, pictures.count * copies)
    }

    /// A running `imgsearch` process, its output in files.
    final class Running {
        let process = Process()
        let output: URL

        init(_ arguments: [String], in directory: URL, name: String) throws {
            output = directory.appendingPathComponent("\(name).out")
            FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("imgsearch")
            process.arguments = arguments
            let handle = try FileHandle(forWritingTo: output)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        func finish() -> (status: Int32, output: String) {
            process.waitUntilExit()
            return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
        }
    }

    static func embeddedCount(_ output: String) -> Int? {
        output.split(separator: "\n").lazy.compactMap { line -> Int? in
            guard let range = line.range(of: " embedded") else { return nil }
            return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
        }.first
    }

    static func count(_ sql: String, in store: String) throws -> Int {
        Int(try TestPostgres.sql(sql, on: store)) ?? -1
    }

    /// Every content once in the store, with all its vectors, and every file recorded.
    static func expectComplete(_ store: String, contents: Int, queryCount: Int = 32) throws {
        #expect(try count("SELECT count(*) FROM image", in: store) == contents)
        #expect(try count("SELECT count(*) FROM (SELECT 1 FROM image GROUP BY content_hash, model_id HAVING count(*) > 1) d", in: store) == 0)
        #expect(try count("SELECT count(*) FROM image_vector", in: store) == contents * queryCount)
        #expect(try count("SELECT count(*) FROM (SELECT 1 FROM image_vector GROUP BY image_id, k HAVING count(*) > 1) d", in: store) == 0)
        #expect(try count("SELECT count(*) FROM file WHERE state = 'indexed'", in: store) == contents)
        #expect(try count("SELECT count(*) FROM embedding_claim", in: store) == 0)
    }

    @Test func twoIndexersOnOneFolderEmbedEachContentOnce() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos, contents) = try Self.photoFolder(copies: 2)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["index", "--store", store, "--model", Self.model, "--batch", "4", photos.path]
        let first = try Running(arguments, in: directory, name: "first")
        let second = try Running(arguments, in: directory, name: "second")
        let (a, b) = (first.finish(), second.finish())
        #expect(a.status == 0, "\(a.output)")
        #expect(b.status == 0, "\(b.output)")
        let embedded = (Self.embeddedCount(a.output) ?? -1, Self.embeddedCount(b.output) ?? -1)
        // The engine ran once per content, whichever process ran it.
        #expect(embedded.0 + embedded.1 == contents, "\(a.output)\n\(b.output)")
        try Self.expectComplete(store, contents: contents)

        // A search of the store finds what the SQLite catalog finds, with the same scores.
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let sqliteIndex = try CommandRunner.imgsearch(["index", "--db", database, "--model", Self.model, photos.path])
        #expect(sqliteIndex.status == 0, "\(sqliteIndex.standardError)")
        for query in ["a red circle", "a blue star"] {
            let fromSQLite = try CommandRunner.imgsearch(["query", query, "--no-daemon", "--db", database, "--model", Self.model, "--limit", "6"])
            for mode in ["exact", "approximate"] {
                let fromStore = try CommandRunner.imgsearch(["query", query, "--store", store, "--store-search", mode,
                                                             "--model", Self.model, "--limit", "6"])
                #expect(fromStore.status == 0, "\(fromStore.standardError)")
                #expect(fromStore.standardOutput == fromSQLite.standardOutput, "\(mode): \(fromStore.standardOutput) vs \(fromSQLite.standardOutput)")
            }
        }
    }

    @Test func aKilledIndexerLosesNothingCommitted() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos, contents) = try Self.photoFolder(copies: 3)
        defer { try? FileManager.default.removeItem(at: directory) }
        let arguments = ["index", "--store", store, "--model", Self.model, "--batch", "1", photos.path]
        let victim = try Running(arguments, in: directory, name: "victim")
        // Kill it once a few batches are committed (the tables exist once it registered the model).
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, victim.process.isRunning,
              ((try? Self.count("SELECT count(*) FROM image", in: store)) ?? 0) < 3 {
            usleep(20_000)
        }
        #expect(victim.process.isRunning, "the indexer finished before it could be killed: \(victim.finish().output)")
        kill(victim.process.processIdentifier, SIGKILL)
        _ = victim.finish()
        let committed = try Self.count("SELECT count(*) FROM image", in: store)
        #expect(committed >= 3 && committed < contents)

        let survivor = try Running(arguments, in: directory, name: "survivor").finish()
        #expect(survivor.status == 0, "\(survivor.output)")
        #expect(Self.embeddedCount(survivor.output) == contents - committed, "\(survivor.output)")
        try Self.expectComplete(store, contents: contents)
    }

    /// A config naming a store is used by every command that reads or writes the catalog
    /// (here, one it cannot reach: each says so, without the password), rather than a SQLite
    /// catalog. A --db flag picks a SQLite catalog over the configured store in every
    /// command; --db with --store is refused.
    @Test func aConfiguredStoreIsUsedUnlessDbIsGiven() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config.yaml")
        try "store: postgres://someone:secret@127.0.0.1:1/photos\n".write(to: config, atomically: true, encoding: .utf8)
        let image = Fixtures.root.appendingPathComponent("images/chelsea.png").path
        for command in [["status"], ["prune"], ["duplicates"], ["query", "a cat", "--model", Self.model], ["index", "--model", Self.model, directory.path],
                        ["caption", "--model", PostgresStoreCaptionTests.captioner, image]] {
            let outcome = try CommandRunner.imgsearch(command + ["--config", config.path])
            #expect(outcome.status != 0 && outcome.standardError.contains("127.0.0.1:1")
                    && outcome.standardError.contains("cannot connect") && !outcome.standardError.contains("secret"),
                    "\(command): \(outcome.standardError)")
        }
        let (folder, photos, contents) = try Self.photoFolder(copies: 1)
        defer { try? FileManager.default.removeItem(at: folder) }
        let database = directory.appendingPathComponent("catalog.sqlite").path
        let index = try CommandRunner.imgsearch(["index", "--config", config.path, "--db", database, "--model", Self.model, photos.path])
        #expect(index.status == 0 && index.standardOutput.hasPrefix("\(contents) embedded"), "\(index.standardError)")
        for command in [["query", "a red circle", "--no-daemon", "--model", Self.model], ["status"], ["duplicates"], ["prune"]] {
            let outcome = try CommandRunner.imgsearch(command + ["--config", config.path, "--db", database])
            #expect(outcome.status == 0, "\(command): \(outcome.standardError)")
        }
        let both = try CommandRunner.imgsearch(["query", "a red circle", "--config", config.path, "--db", database,
                                                "--store", "postgres://someone:secret@127.0.0.1:1/photos", "--model", Self.model])
        #expect(both.status != 0 && both.standardError.contains("not both"), "\(both.standardError)")
    }

    /// A folder that went away is kept offline; `prune --store` forgets its files, their
    /// embeddings and vectors. A database without a store is not pruned (nor made one).
    @Test func pruneForgetsAStoresOfflineFiles() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let empty = try CommandRunner.imgsearch(["prune", "--store", store])
        #expect(empty.status != 0 && empty.standardError.contains("no imgsearch store"), "\(empty.standardError)")
        let (directory, photos, contents) = try Self.photoFolder(copies: 1)
        defer { try? FileManager.default.removeItem(at: directory) }
        let index = try CommandRunner.imgsearch(["index", "--store", store, "--model", Self.model, photos.path])
        #expect(index.status == 0, "\(index.standardError)")
        try FileManager.default.moveItem(at: photos, to: directory.appendingPathComponent("unplugged"))
        _ = try CommandRunner.imgsearch(["index", "--store", store, "--model", Self.model, photos.path])
        #expect(try Self.count("SELECT count(*) FROM file WHERE offline_since IS NOT NULL", in: store) == contents)
        #expect(try Self.count("SELECT count(*) FROM image", in: store) == contents)
        let prune = try CommandRunner.imgsearch(["prune", "--store", store])
        #expect(prune.status == 0 && prune.standardOutput.contains("\(contents) offline files, \(contents) unused embeddings"),
                "\(prune.standardOutput) \(prune.standardError)")
        for table in ["file", "image", "image_vector"] {
            #expect(try Self.count("SELECT count(*) FROM \(table)", in: store) == 0, "\(table)")
        }
    }

    /// --bulk-load indexes without the vector index and builds it once at the end.
    @Test func aBulkLoadEndsWithTheVectorIndexBuilt() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos, contents) = try Self.photoFolder(copies: 1)
        defer { try? FileManager.default.removeItem(at: directory) }
        let index = try CommandRunner.imgsearch(["index", "--store", store, "--model", Self.model, "--bulk-load", photos.path])
        #expect(index.status == 0, "\(index.standardError)")
        #expect(index.standardError.contains("vector index built"), "\(index.standardError)")
        try Self.expectComplete(store, contents: contents)
        #expect(try Self.count("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'image\\_vector\\_0\\_model\\_%'", in: store) == 1)
        let approximate = try CommandRunner.imgsearch(["query", "a green square", "--store", store, "--model", Self.model])
        let exact = try CommandRunner.imgsearch(["query", "a green square", "--store", store, "--store-search", "exact",
                                                 "--model", Self.model])
        #expect(approximate.status == 0 && approximate.standardOutput == exact.standardOutput, "\(approximate.standardError)")
        let withoutStore = try CommandRunner.imgsearch(["index", "--db", directory.appendingPathComponent("c.sqlite").path,
                                                        "--model", Self.model, "--bulk-load", photos.path])
        #expect(withoutStore.status != 0 && withoutStore.standardError.contains("--bulk-load applies"), "\(withoutStore.standardError)")
    }
}

/// `imgsearch daemon --store`: a daemon that indexes into a shared PostgreSQL store and serves
/// the page's API from it, showing only the photos under its own folders.
@Suite(.serialized) struct PostgresStoreDaemonTests {
    struct Hit: Decodable, Equatable {
        let id: Int64
        let score: Float
        let paths: [String]
    }

    struct Results: Decodable {
        let results: [Hit]
    }

    static func queryLines(_ output: String) -> [(path: String, score: Float)] {
        output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let path = object["path"] as? String, let score = object["score"] as? Double else { return nil }
            return (path, Float(score))
        }
    }

    @Test func aDaemonServesItsFoldersFromASharedStore() throws {
        let store = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(store) }
        let (directory, photos, contents) = try PostgresStoreCommandTests.photoFolder(copies: 1)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = PostgresStoreCommandTests.model
        // Exact searches: the daemon's results must not change when another indexer adds a
        // folder, which an approximate search does not promise (its HNSW graph changes).
        let daemon = try RunningDaemon(folder: photos, directory: directory, model: model, store: store,
                                       arguments: ["--captions", PostgresStoreCaptionTests.captioner, "--store-search", "exact"],
                                       environment: ["XDG_DATA_HOME": directory.path])
        try daemon.waitFor("the first pass", seconds: 120) { $0.embedded == contents }

        func results(_ target: String) throws -> [Hit] {
            let reply = try daemon.get(target)
            #expect(reply.status == 200, "\(target): \(reply.text)")
            return try JSONDecoder().decode(Results.self, from: reply.body).results
        }
        let served = try results("/api/search?q=a+red+circle&limit=10")
        let query = try CommandRunner.imgsearch(["query", "a red circle", "--store", store, "--store-search", "exact", "--model", model,
                                                 "--json", "--limit", "10"])
        #expect(query.status == 0, "\(query.standardError)")
        let local = Self.queryLines(query.standardOutput)
        #expect(served.count == 10 && served.map { $0.paths[0] } == local.map(\.path), "\(served) vs \(local)")
        for (hit, line) in zip(served, local) { #expect(abs(hit.score - line.score) < 1e-5) }

        // Another indexer adds a folder of the same pictures (other bytes) to the store: the
        // command line finds them, the daemon (serving its own folder) does not.
        let (otherDirectory, others, _) = try PostgresStoreCommandTests.photoFolder(copies: 2)
        defer { try? FileManager.default.removeItem(at: otherDirectory) }
        let index = try CommandRunner.imgsearch(["index", "--store", store, "--model", model, others.path])
        #expect(index.status == 0, "\(index.standardError)")
        let everywhere = Self.queryLines(try CommandRunner.imgsearch(["query", "a red circle", "--store", store, "--model", model,
                                                                      "--json", "--limit", "10"]).standardOutput)
        #expect(everywhere.contains { $0.path.hasPrefix(others.path + "/") })
        let servedAfter = try results("/api/search?q=a+red+circle&limit=10")
        #expect(servedAfter == served)

        let first = served[0]
        let similar = try results("/api/images/\(first.id)/similar?limit=5")
        #expect(similar.count == 5 && !similar.contains { $0.id == first.id })
        #expect(similar.allSatisfy { $0.paths.allSatisfy { $0.hasPrefix(photos.path + "/") } })
        let thumbnail = try daemon.get("/api/images/\(first.id)/thumbnail")
        #expect(thumbnail.status == 200 && thumbnail.headers["content-type"] == "image/jpeg")
        let file = try daemon.get("/api/images/\(first.id)/file")
        let original = try Data(contentsOf: URL(fileURLWithPath: first.paths[0]))
        #expect(file.status == 200 && file.body == original)
        let folders = try daemon.get("/api/folders")
        #expect(folders.status == 200 && folders.text.contains(photos.path) && !folders.text.contains(others.path), "\(folders.text)")

        let status = try JSONSerialization.jsonObject(with: try daemon.get("/api/status").body) as? [String: Any]
        let database = URLComponents(string: store)!.path
        #expect((status?["catalog"] as? String).map { $0.hasPrefix("postgres://") && $0.hasSuffix(database) } == true,
                "\(String(describing: status?["catalog"]))")
        #expect(status?["index"] as? String == "postgresql exact")
        #expect((status?["files"] as? [String: Int])?["indexed"] == contents * 3)
        // Captions (made with the embeddings, from the same vision pass), searched by keyword
        // as `query --store` searches them in the daemon's folder; filters.
        let keyword = try results("/api/search?q=circle&mode=keyword&limit=100")
        let keywordQuery = try CommandRunner.imgsearch(["query", "circle", "--mode", "keyword", "--store", store, "--under", photos.path,
                                                        "--json", "--limit", "100"])
        #expect(!keyword.isEmpty && Set(keyword.map { $0.paths[0] }) == Set(Self.queryLines(keywordQuery.standardOutput).map(\.path)),
                "\(keyword) vs \(keywordQuery.standardOutput)")
        #expect(try results("/api/search?q=a+red+circle&limit=10&format=jpeg") == served)
        #expect(try results("/api/search?q=a+red+circle&camera=x").isEmpty)
        // Duplicates among the daemon's photos: those `duplicates --store` finds under its folder.
        struct Groups: Decodable {
            struct Photo: Decodable { let path: String }
            struct Group: Decodable { let photos: [Photo] }
            let groups: [Group]
        }
        let duplicates = try daemon.get("/api/duplicates?scene_threshold=0.5")
        #expect(duplicates.status == 200, "\(duplicates.text)")
        let cli = try CommandRunner.imgsearch(["duplicates", "--store", store, "--under", photos.path, "--scene-threshold", "0.5",
                                               "--model", model, "--json"])
        let servedGroups = try JSONDecoder().decode(Groups.self, from: duplicates.body).groups.map { $0.photos.map(\.path) }
        let printed = try cli.standardOutput.split(separator: "\n").map {
            try JSONDecoder().decode(Groups.Group.self, from: Data($0.utf8)).photos.map(\.path)
        }
        #expect(!servedGroups.isEmpty && servedGroups == printed, "\(servedGroups) vs \(printed)")

        // `status --store`: the whole store, both folders (the second's first copies have the
        // first folder's bytes: 3 × contents files, 2 × contents images).
        let report = try CommandRunner.imgsearch(["status", "--store", store, "--json"])
        #expect(report.status == 0, "\(report.standardError)")
        let parsed = try JSONSerialization.jsonObject(with: Data(report.standardOutput.utf8)) as? [String: Any]
        #expect((parsed?["files"] as? [String: Int])?["indexed"] == contents * 3)
        let models = parsed?["models"] as? [[String: Any]]
        #expect(models?.count == 1 && models?.first?["images"] as? Int == contents * 2, "\(report.standardOutput)")
        let partitions = parsed?["partitions"] as? [[String: Any]]
        #expect(partitions?.count == 1 && partitions?.first?["vectorRows"] as? Int == contents * 2 * 32, "\(report.standardOutput)")
        #expect(((parsed?["bytes"] as? [String: Int])?["vectors"] ?? 0) > 0)
        let text = try CommandRunner.imgsearch(["status", "--store", store])
        #expect(text.status == 0 && text.standardOutput.contains("partition 0") && text.standardOutput.contains("indexed \(contents * 3)"),
                "\(text.standardOutput)")
    }
}
