import Foundation
@testable import PostgresStore
import Query
import Store
import TestSupport
import Testing

/// The PostgreSQL store against the SQLite catalog and brute force, on real PostgreSQL
/// servers with pgvector (started by scripts/test), each test in a database of its own.
@Suite(.serialized) struct PostgresStoreTests {
    /// A synthetic library: `count` images of 32 random unit vectors of `dimension`, each held
    /// by one file; every 10th file is offline or failed (kept, not searchable).
    struct Library {
        let model: ModelRecord
        let vectors: [[Float]]
        var hashes: [String] { vectors.indices.map(hash) }

        func hash(_ index: Int) -> String { String(format: "%064x", index + 1) }

        init(count: Int, dimension: Int = 64, seed: UInt64 = 7) {
            model = ModelRecord(id: "synthetic-\(dimension)", description: "random unit vectors", queryCount: 32, dimension: dimension)
            var generator = SeededGenerator(state: seed)
            vectors = (0..<count).map { _ in
                (0..<32).flatMap { _ in Self.unitVector(dimension, using: &generator) }
            }
        }

        static func unitVector(_ dimension: Int, using generator: inout SeededGenerator) -> [Float] {
            let values = (0..<dimension).map { _ in Float.random(in: -1...1, using: &generator) }
            let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return values.map { $0 / norm }
        }

        func isSearchable(_ index: Int) -> Bool { index % 10 != 3 && index % 10 != 7 }

        /// Writes the library through the store-neutral `IndexingStore` interface: the first
        /// half one by one, the rest in batches of 64 (`storeImages`, `upsert(files:)`).
        func write(to store: any IndexingStore) throws {
            try store.update { tx in
                try tx.register(model)
                let files = hashes.indices.map { index in
                    var file = CatalogFile(root: "/photos", path: "/photos/\(index).jpg", device: 1, inode: Int64(index),
                                           size: 1, modifiedNanoseconds: 0, contentHash: hash(index),
                                           state: index % 10 == 7 ? .failed : .indexed)
                    if index % 10 == 7 { file.lastError = "broken" }
                    return file
                }
                let half = hashes.count / 2
                for index in 0..<half {
                    try tx.storeImage(StoredImage(contentHash: hashes[index], modelId: model.id, vectors: vectors[index]))
                    try tx.upsert(files[index])
                }
                for first in stride(from: half, to: hashes.count, by: 64) {
                    let batch = first..<min(first + 64, hashes.count)
                    try tx.storeImages(batch.map { StoredImage(contentHash: hashes[$0], modelId: model.id, vectors: vectors[$0]) })
                    try tx.upsert(files: Array(files[batch]))
                }
                try tx.markOffline(paths: hashes.indices.filter { $0 % 10 == 3 }.map { "/photos/\($0).jpg" })
            }
        }

        /// The exact ranking by max over query vectors, searchable images only.
        func bruteForce(_ query: [Float], limit: Int) -> [(path: String, score: Float)] {
            let dimension = model.dimension
            let searchVectors = stride(from: 0, to: query.count, by: dimension).map { Array(query[$0..<$0 + dimension]) }
            return vectors.indices.filter(isSearchable).map { index -> (String, Float) in
                var best = -Float.infinity
                for k in 0..<32 {
                    let row = vectors[index][(k * dimension)..<((k + 1) * dimension)]
                    for search in searchVectors {
                        best = max(best, zip(row, search).reduce(0) { $0 + $1.0 * $1.1 })
                    }
                }
                return ("/photos/\(index).jpg", best)
            }.sorted { $0.1 > $1.1 }.prefix(limit).map { ($0.0, $0.1) }
        }
    }

    /// A fresh database (and store) on the test server; dropped by `defer` in each test.
    static func makeStore(shards: [String] = []) throws -> (PostgresCatalog, [String]) {
        let url = try TestPostgres.createDatabase(on: try TestPostgres.server())
        return (try PostgresCatalog(url: url, shards: shards), [url] + shards)
    }

    @Test func exactSearchEqualsBruteForceAndTheSQLiteCatalog() throws {
        let library = Library(count: 300)
        let (store, databases) = try Self.makeStore()
        defer { store.close(); databases.forEach(TestPostgres.dropDatabase) }
        try store.register(library.model)
        try library.write(to: store)

        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let sqlite = try Catalog(path: directory.appendingPathComponent("catalog.sqlite").path)
        try library.write(to: sqlite)
        let sqliteSearch = try CatalogSearch(catalog: sqlite, model: library.model, kind: .exact)

        var generator = SeededGenerator(state: 99)
        for trial in 0..<6 {
            // Texts search with one vector; "more like this" with an image's 32.
            let query = trial < 4 ? Library.unitVector(64, using: &generator) : library.vectors[trial * 11]
            let expected = library.bruteForce(query, limit: 10)
            let found = try store.search(vectors: query, modelId: library.model.id, limit: 10, mode: .exact)
            #expect(found.map { $0.paths[0] } == expected.map(\.path), "trial \(trial)")
            for (hit, truth) in zip(found, expected) { #expect(abs(hit.score - truth.score) < 1e-4) }
            let fromSQLite = try sqliteSearch.search(SearchRequest(vectors: query, limit: 10))
            #expect(found.map(\.paths) == fromSQLite.map(\.paths), "trial \(trial)")
            for (hit, other) in zip(found, fromSQLite) { #expect(abs(hit.score - other.score) < 1e-5) }
        }
        // Offline and failed files' images are never found.
        let all = try store.search(vectors: Library.unitVector(64, using: &generator), modelId: library.model.id,
                                   limit: 300, mode: .exact)
        #expect(all.count == library.vectors.indices.filter(library.isSearchable).count)

        // Vector rows without an image row (a shard committed, the store did not): an exact
        // search reads past them and still gives its full top 10.
        let query = Library.unitVector(64, using: &generator)
        let before = try store.search(vectors: query, modelId: library.model.id, limit: 10, mode: .exact)
        try TestPostgres.sql("""
            INSERT INTO image_vector (image_id, model_key, k, v)
            SELECT 999999999, model_key, k, v FROM image_vector WHERE image_id = \(before[0].imageID)
            """, on: databases[0])
        #expect(try store.search(vectors: query, modelId: library.model.id, limit: 10, mode: .exact) == before)
    }

    /// `storeImages` and `upsert(files:)` as `storeImage` and `upsert` one by one: a content
    /// stored before keeps its embedding, a path given twice ends as its last record.
    @Test func batchedWritesAreOneByOneWrites() throws {
        let library = Library(count: 12, seed: 3)
        let (store, databases) = try Self.makeStore()
        defer { store.close(); databases.forEach(TestPostgres.dropDatabase) }
        try store.register(library.model)
        let images = library.hashes.indices.map { StoredImage(contentHash: library.hashes[$0], modelId: library.model.id, vectors: library.vectors[$0]) }
        let first = try store.update { try $0.storeImage(images[4]) }
        let stored = try store.update { try $0.storeImages(images + [images[7]]) }
        #expect(stored.count == 13 && stored[4].id == first.id && stored[12].id == stored[7].id)
        #expect(Set(stored.compactMap(\.id)).count == 12)
        #expect(try store.vectorRowsPerPartition()[0] == 12 * 32)
        for (index, image) in stored.prefix(12).enumerated() {
            #expect(try store.vectors(ofImage: image.id!, modelId: library.model.id) == library.vectors[index])
        }
        var moved = CatalogFile(root: "/p", path: "/p/a.jpg", device: 1, inode: 1, size: 1, modifiedNanoseconds: 0,
                                contentHash: nil, state: .pending)
        let pending = moved
        moved.contentHash = library.hashes[0]
        moved.state = .failed
        moved.lastError = "broken"
        moved.offlineSince = Date(timeIntervalSince1970: 1_700_000_000)
        let other = CatalogFile(root: "/p", path: "/p/b.jpg", device: 1, inode: 2, size: 5, modifiedNanoseconds: 9,
                                contentHash: library.hashes[1], state: .indexed)
        let files = try store.update { try $0.upsert(files: [pending, other, moved]) }
        #expect(files.allSatisfy { $0.id != nil } && files[0].id == files[2].id)
        let read = try store.files(inRoots: ["/p"]).sorted { $0.path < $1.path }
        #expect(read.count == 2 && read[0].contentHash == library.hashes[0] && read[0].state == .failed
                && read[0].lastError == "broken" && read[0].offlineSince == moved.offlineSince, "\(read)")
        #expect(read[1].contentHash == library.hashes[1] && read[1].lastError == nil && read[1].offlineSince == nil
                && read[1].size == 5 && read[1].modifiedNanoseconds == 9)
    }

    /// A filter's images (`among`): the exact top 10 among them, scored directly (few) or
    /// through either mode's search (many), searchable ones only.
    @Test func filteredSearchesAreTheExactTopAmongTheAllowedImages() throws {
        let library = Library(count: 300)
        let (store, databases) = try Self.makeStore()
        defer { store.close(); databases.forEach(TestPostgres.dropDatabase) }
        try store.register(library.model)
        try library.write(to: store)
        let ids = try store.imageIDs(ofContents: library.hashes, modelId: library.model.id)
        var generator = SeededGenerator(state: 17)
        for trial in 0..<4 {
            // Every third image (some offline or failed, never found), or one image in 30.
            let kept = library.hashes.indices.filter { trial < 2 ? $0 % 3 == trial : $0 % 30 == trial }
            let allowed = Set(kept.compactMap { ids[library.hashes[$0]] })
            let query = Library.unitVector(64, using: &generator)
            let allowedPaths = Set(kept.map { "/photos/\($0).jpg" })
            let expected = library.bruteForce(query, limit: 300).filter { allowedPaths.contains($0.path) }.prefix(10)
            for mode in PostgresSearchMode.allCases {
                for directLimit in [0, 10_000] {
                    let found = try store.search(vectors: query, modelId: library.model.id, limit: 10, minScore: nil, mode: mode,
                                                 candidates: nil, under: nil, among: allowed, directlyScoringUpTo: directLimit)
                    #expect(found.map { $0.paths[0] } == expected.map(\.path), "trial \(trial), \(mode), direct up to \(directLimit)")
                    for (hit, truth) in zip(found, expected) { #expect(abs(hit.score - truth.score) < 1e-4) }
                }
            }
        }
        #expect(try store.search(vectors: Library.unitVector(64, using: &generator), modelId: library.model.id, limit: 10,
                                 mode: .approximate, among: []).isEmpty)
    }

    @Test func approximateSearchReachesTheExactTop10() throws {
        let library = Library(count: 300)
        let (store, databases) = try Self.makeStore()
        defer { store.close(); databases.forEach(TestPostgres.dropDatabase) }
        try store.register(library.model)
        try library.write(to: store)
        var generator = SeededGenerator(state: 5)
        var reached = 0, total = 0
        for _ in 0..<10 {
            let query = Library.unitVector(64, using: &generator)
            let exact = try store.search(vectors: query, modelId: library.model.id, limit: 10, mode: .exact)
            let approximate = try store.search(vectors: query, modelId: library.model.id, limit: 10, mode: .approximate)
            // Re-scored exactly: every image it returns has its exact score.
            let exactScores = Dictionary(uniqueKeysWithValues: try store.search(vectors: query, modelId: library.model.id,
                                                                                 limit: 300, mode: .exact).map { ($0.imageID, $0.score) })
            for hit in approximate { #expect(exactScores[hit.imageID] == hit.score) }
            reached += Set(exact.map(\.imageID)).intersection(approximate.map(\.imageID)).count
            total += exact.count
        }
        let recall = Double(reached) / Double(total)
        print("approximate recall@10 against exact, 300 random images: \(recall)")
        #expect(recall >= 0.9)
    }

    @Test func claimsGiveEachContentToOneProcess() throws {
        let library = Library(count: 4)
        let (first, databases) = try Self.makeStore()
        defer { first.close(); databases.forEach(TestPostgres.dropDatabase) }
        try first.register(library.model)
        let second = try PostgresCatalog(url: databases[0])
        defer { second.close() }
        let hashes = library.hashes

        let a = try first.claimEmbedding(of: Array(hashes[0...2]), modelId: library.model.id, waiting: false)
        #expect(a.claimed == Set(hashes[0...2]))
        var b: (any ContentClaim)? = try second.claimEmbedding(of: Array(hashes[1...3]), modelId: library.model.id, waiting: false)
        #expect(b?.claimed == [hashes[3]])
        #expect(b?.heldElsewhere == Set(hashes[1...2]))
        try a.commit { tx in
            for index in 0...2 {
                try tx.storeImage(StoredImage(contentHash: hashes[index], modelId: library.model.id, vectors: library.vectors[index]))
            }
        }
        // After the commit, waiting for them finds them embedded.
        let later = try second.claimEmbedding(of: Array(hashes[1...2]), modelId: library.model.id, waiting: true)
        #expect(later.claimed.isEmpty)
        try later.commit { _ in }
        // A claim dropped without committing (a process that failed) frees its contents.
        b = nil
        let again = try first.claimEmbedding(of: [hashes[3]], modelId: library.model.id, waiting: false)
        #expect(again.claimed == [hashes[3]])
        try again.commit { _ in }
        #expect(try first.imageCount(modelId: library.model.id) == 3)
        #expect(try first.embeddedHashes(hashes, modelId: library.model.id) == Set(hashes[0...2]))
    }

    @Test func shardedStoreAnswersAsOneServerAndNamesADownShard() throws {
        let library = Library(count: 200, seed: 11)
        let shard = try TestPostgres.createDatabase(on: try TestPostgres.shardServer())
        let (sharded, databases) = try Self.makeStore(shards: [shard])
        defer { sharded.close(); databases.forEach(TestPostgres.dropDatabase) }
        let (single, singleDatabases) = try Self.makeStore()
        defer { single.close(); singleDatabases.forEach(TestPostgres.dropDatabase) }
        for store in [sharded, single] {
            try store.register(library.model)
            try library.write(to: store)
        }
        let rows = try sharded.vectorRowsPerPartition()
        #expect(rows.count == 2 && rows.values.allSatisfy { $0 > 0 } && rows.values.reduce(0, +) == 200 * 32, "\(rows)")

        var generator = SeededGenerator(state: 3)
        for _ in 0..<4 {
            let query = Library.unitVector(64, using: &generator)
            for mode in PostgresSearchMode.allCases {
                let one = try single.search(vectors: query, modelId: library.model.id, limit: 10, mode: .exact)
                let two = try sharded.search(vectors: query, modelId: library.model.id, limit: 10, mode: mode)
                if mode == .exact {
                    #expect(two.map(\.paths) == one.map(\.paths))
                    for (a, b) in zip(two, one) { #expect(abs(a.score - b.score) < 1e-6) }
                } else {
                    #expect(two.map(\.paths).first == one.map(\.paths).first)
                }
            }
        }
        // The exact plan groups on the shard: the aggregate is in the remote SQL.
        let plan = try TestPostgres.sql("""
            SET enable_partitionwise_aggregate = on; EXPLAIN VERBOSE SELECT image_id, max(-(v <#> '[\(Array(repeating: "0.1", count: 64).joined(separator: ","))]'::vector))
            FROM image_vector GROUP BY image_id
            """, on: databases[0])
        #expect(plan.contains("Async Foreign Scan") && plan.contains("GROUP BY"), "\(plan)")

        // Vector rows of images that never committed, on both partitions (ids hash over
        // them): pruning removes them and nothing else.
        #expect(try sharded.removeOrphanedVectorRows().isEmpty)
        try TestPostgres.sql("""
            INSERT INTO image_vector (image_id, model_key, k, v)
            SELECT 900000000 + n, model_key, k, v FROM image_vector, generate_series(1, 8) n WHERE image_id = (SELECT min(id) FROM image)
            """, on: databases[0])
        let orphaned = try sharded.vectorRowsPerPartition().merging(rows) { $0 - $1 }
        #expect(orphaned.values.allSatisfy { $0 > 0 } && orphaned.values.reduce(0, +) == 8 * 32, "\(orphaned)")
        #expect(try sharded.removeOrphanedVectorRows() == orphaned)
        #expect(try sharded.vectorRowsPerPartition() == rows)

        // The shard becomes unreachable: both searches fail, naming it.
        try TestPostgres.sql("ALTER SERVER imgsearch_shard_1 OPTIONS (SET port '1'); UPDATE shard SET url = replace(url, ':\(URLComponents(string: shard)!.port!)/', ':1/')",
                             on: databases[0])
        let reopened = try PostgresCatalog(url: databases[0])
        defer { reopened.close() }
        for mode in PostgresSearchMode.allCases {
            #expect {
                _ = try reopened.search(vectors: Library.unitVector(64, using: &generator), modelId: library.model.id, limit: 5, mode: mode)
            } throws: { error in
                let text = "\(error)"
                return text.contains("shard 1") || text.contains(":1/")
            }
        }
    }

    /// `sslmode` and `sslrootcert` as libpq reads them: through a TLS front (the test servers
    /// have no SSL), the server's certificate checked against the authority given; a plain
    /// server refused where TLS is required and used in plain text by default (prefer).
    @Test func tlsConnectionsAreEncryptedAndVerified() throws {
        let database = try TestPostgres.createDatabase(on: try TestPostgres.server())
        defer { TestPostgres.dropDatabase(database) }
        var front = URLComponents(string: database)!
        front.port = URLComponents(string: try TestPostgres.tlsFront())!.port
        let authority = try TestPostgres.certificateAuthority()
        func open(_ url: String) throws -> Int {
            let store = try PostgresCatalog(url: url, create: true)
            defer { store.close() }
            return try store.imageCount(modelId: "none")
        }
        for parameters in ["", "?sslmode=disable", "?sslmode=require", "?sslmode=verify-ca&sslrootcert=\(authority)",
                           "?sslmode=verify-full&sslrootcert=\(authority)"] {
            #expect(try open(front.string! + parameters) == 0, "\(parameters)")
        }
        #expect { _ = try open(database + "?sslmode=require") } throws: { error in
            "\(error)".contains("cannot connect: the server does not offer TLS")
        }
        let other = try TestPostgres.otherCertificateAuthority()
        #expect { _ = try open(front.string! + "?sslmode=verify-full&sslrootcert=\(other)") } throws: { error in
            "\(error)".contains("cannot connect") && "\(error)".lowercased().contains("certificate")
        }
        #expect { _ = try open(front.string! + "?sslmode=verify-full&sslrootcert=/no/such.crt") } throws: { error in
            "\(error)".contains("cannot set up TLS with sslrootcert /no/such.crt")
        }
        #expect { _ = try open(database + "?sslmode=maybe") } throws: { error in
            "\(error)".contains("sslmode=maybe") && "\(error)".contains("verify-full")
        }
        #expect { _ = try open(database + "?sslrootcert=\(authority)") } throws: { error in
            "\(error)".contains("sslrootcert is read with sslmode=verify-ca or verify-full")
        }
    }

    @Test func clearErrors() throws {
        let server = try TestPostgres.server()
        var wrongPort = URLComponents(string: server)!
        wrongPort.port = 1
        #expect { _ = try PostgresCatalog(url: wrongPort.string!) } throws: { error in
            "\(error)".contains("127.0.0.1:1") && "\(error)".contains("cannot connect")
        }
        var missing = URLComponents(string: server)!
        missing.path = "/no_such_database"
        #expect { _ = try PostgresCatalog(url: missing.string!) } throws: { error in
            "\(error)".contains("no_such_database") && "\(error)".contains("createdb")
        }
        // scripts/postgres has this role sign in with a password.
        try TestPostgres.sql("""
            DO $$ BEGIN CREATE ROLE imgsearch_password LOGIN PASSWORD 'right'; EXCEPTION WHEN duplicate_object THEN NULL; END $$
            """, on: server)
        var wrongPassword = URLComponents(string: server)!
        (wrongPassword.user, wrongPassword.password) = ("imgsearch_password", "wrong")
        #expect { _ = try PostgresCatalog(url: wrongPassword.string!) } throws: { error in
            let text = "\(error)"
            return text.contains("password authentication failed") && text.contains("check the user and password")
                && !text.contains("wrong")
        }
        // A server without pgvector: this database looks for extensions in an empty place
        // (PostgreSQL 18's extension_control_path), as a server where it was never installed.
        let withoutVector = try TestPostgres.createDatabase(on: server)
        defer { TestPostgres.dropDatabase(withoutVector) }
        let name = String(URLComponents(string: withoutVector)!.path.dropFirst())
        try TestPostgres.sql("ALTER DATABASE \(name) SET extension_control_path = '/nonexistent'", on: server)
        #expect { _ = try PostgresCatalog(url: withoutVector) } throws: { error in
            let text = "\(error)"
            return text.contains(name) && text.contains("extension \"vector\" is not available")
                && text.contains("needs the pgvector extension")
        }
        // A database without a store: only an indexing command makes one.
        let empty = try TestPostgres.createDatabase(on: server)
        defer { TestPostgres.dropDatabase(empty) }
        #expect { _ = try PostgresCatalog(url: empty, create: false) } throws: { error in
            "\(error)".contains("no imgsearch store in this database") && "\(error)".contains(String(URLComponents(string: empty)!.path))
        }
        #expect(try TestPostgres.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", on: empty) == "0")
        try PostgresCatalog(url: empty).close()
        try PostgresCatalog(url: empty, create: false).close()
        #expect { _ = try PostgresCatalog(url: "mysql://x@y/z") } throws: { error in "\(error)".contains("not a PostgreSQL URL") }
        #expect { _ = try PostgresCatalog(url: "postgres://me:secret@127.0.0.1:1/db?application_name=x") } throws: { error in
            !"\(error)".contains("secret") && "\(error)".contains("only sslmode and sslrootcert")
        }
    }
}
