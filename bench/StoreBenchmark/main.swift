// The PostgreSQL store next to the SQLite catalog on the same synthetic BLIP-2-shaped library
// (bench/BenchmarkData: 32 × 256-d vectors per image around 2048 topics): insert rate, vector
// index build time, query p50/p99 and storage per image; and the approximate search's
// recall@10 against the store's exact search. One JSON line per store.
//
//   .build/release/StoreBenchmark --store postgres://USER@HOST:PORT/EMPTY_DB --images 10000
//       [--shard URL]... [--queries 30] [--candidates N[,N...]] [--sqlite PATH | --no-sqlite]
//       [--writes batched|one-by-one] [--insert-only]
//
// --writes one-by-one stores each image and file with its own statements (storeImage,
// upsert), as index runs did before batched writes; --insert-only stops after the bulk load
// (an A/B of the two).
//
// The store is loaded as a bulk load runs: its HNSW index dropped, every image inserted
// through the same path `imgsearch index` uses (64 images a transaction), then the index
// built once. The insert rate with the index kept up to date is measured on 256 more images.
import BenchmarkData
import Foundation
import PostgresStore
import Query
import Store

struct Options {
    var store = ""
    var shards: [String] = []
    var images = 10_000
    var queries = 30
    var limit = 10
    /// Candidates per partition for the approximate searches; several (comma-separated) sweep them.
    var candidates: [Int?] = [nil]
    var sqlite: String?
    var compareSQLite = true
    var batchedWrites = true
    var insertOnly = false

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            switch flag {
            case "--no-sqlite": compareSQLite = false; continue
            case "--insert-only": insertOnly = true; continue
            default: break
            }
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--store": store = value
            case "--shard": shards.append(value)
            case "--images": images = Int(value)!
            case "--queries": queries = Int(value)!
            case "--limit": limit = Int(value)!
            case "--candidates": candidates = value.split(separator: ",").map { Int($0)! }
            case "--sqlite": sqlite = value
            case "--writes":
                guard ["batched", "one-by-one"].contains(value) else { fatalError("--writes batched|one-by-one") }
                batchedWrites = value == "batched"
            default: fatalError("unknown option \(flag)")
            }
        }
        guard !store.isEmpty else { fatalError("--store URL (an empty database) is required") }
    }
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

func hash(_ image: Int) -> String { String(format: "%064x", image + 1) }

func file(_ image: Int) -> CatalogFile {
    CatalogFile(root: "/synthetic", path: "/synthetic/\(image).jpg", device: 1, inode: Int64(image), size: 1,
                modifiedNanoseconds: 0, contentHash: hash(image), state: .indexed)
}

/// Inserts images `range` into `store`, `batch` a transaction; returns images per second.
func insert(_ range: Range<Int>, into store: any IndexingStore, model: ModelRecord, data: SyntheticEmbeddings,
            batch: Int = 64, batched: Bool = true) throws -> Double {
    let start = now()
    for first in stride(from: range.lowerBound, to: range.upperBound, by: batch) {
        let images = first..<min(first + batch, range.upperBound)
        let vectors = data.images(images)
        let floats = queriesPerImage * dimension
        let stored = images.enumerated().map { i, image in
            StoredImage(contentHash: hash(image), modelId: model.id, vectors: Array(vectors[(i * floats)..<((i + 1) * floats)]))
        }
        try store.update { tx in
            if batched {
                try tx.storeImages(stored)
                try tx.upsert(files: images.map(file))
            } else {
                for (image, embedding) in zip(images, stored) {
                    try tx.storeImage(embedding)
                    try tx.upsert(file(image))
                }
            }
        }
    }
    return Double(range.count) / (now() - start)
}

func report(_ fields: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
}

let options = Options(CommandLine.arguments)
let data = SyntheticEmbeddings()
let model = ModelRecord(id: "synthetic-32x256", description: "synthetic embeddings", queryCount: queriesPerImage, dimension: dimension)
let searches = (0..<options.queries).map { data.query($0, images: options.images) }
let extra = 256

// PostgreSQL: bulk load, index build, then inserts with the index kept.
let store = try PostgresCatalog(url: options.store, shards: options.shards)
try store.register(model)
try store.dropSearchIndexes(modelId: model.id)
let bulkRate = try insert(0..<options.images, into: store, model: model, data: data, batched: options.batchedWrites)
if options.insertOnly {
    report(["store": "postgresql", "writes": options.batchedWrites ? "batched" : "one-by-one", "images": options.images,
            "insert_images_per_second": bulkRate.rounded()])
    exit(0)
}
var start = now()
try store.makeSearchIndexes(modelId: model.id)
let indexSeconds = now() - start
let storage = try store.storageBytes()
let indexedRate = try insert(options.images..<(options.images + extra), into: store, model: model, data: data)
let total = options.images + extra

/// p50 and p99 latency (ms) of every search in `searches`, and the images each found.
func measure(_ mode: PostgresSearchMode, candidates: Int?) throws -> (p50: Double, p99: Double, found: [[Int64]]) {
    _ = try store.search(vectors: searches[0], modelId: model.id, limit: options.limit, mode: mode, candidates: candidates)  // warm-up
    var latencies: [Double] = [], found: [[Int64]] = []
    for search in searches {
        let start = now()
        let hits = try store.search(vectors: search, modelId: model.id, limit: options.limit, mode: mode, candidates: candidates)
        latencies.append((now() - start) * 1000)
        found.append(hits.map(\.imageID))
    }
    return (percentile(latencies, 0.5), percentile(latencies, 0.99), found)
}

let exact = try measure(.exact, candidates: nil)
let sweep = try options.candidates.map { candidates in
    let approximate = try measure(.approximate, candidates: candidates)
    let reached = zip(exact.found, approximate.found).map { Set($0).intersection($1).count }.reduce(0, +)
    return ["candidates": candidates ?? PostgresCatalog.defaultCandidates(limit: options.limit), "p50_ms": approximate.p50, "p99_ms": approximate.p99,
            "recall_at_\(options.limit)": Double(reached) / Double(exact.found.map(\.count).reduce(0, +))]
}
report([
    "store": "postgres", "shards": options.shards.count, "images": total, "vectors": total * queriesPerImage,
    "bulk_insert_images_per_s": bulkRate, "insert_with_index_images_per_s": indexedRate, "index_build_s": indexSeconds,
    "exact_p50_ms": exact.p50, "exact_p99_ms": exact.p99, "approximate": sweep,
    "vector_bytes_per_image": Double(storage.vectors) / Double(options.images),
    "vector_index_bytes_per_image": Double(storage.vectorIndexes) / Double(options.images),
    "catalog_bytes_per_image": Double(storage.catalog) / Double(total),
    "queries": options.queries,
])
store.close()
guard options.compareSQLite else { exit(0) }

// SQLite on the same images: inserts, the exact index's build, searches, file size.
let path = options.sqlite ?? NSTemporaryDirectory() + "store-benchmark-\(UUID().uuidString).sqlite"
let catalog = try Catalog(path: path)
try catalog.write { try $0.register(model) }
let sqliteRate = try insert(0..<total, into: catalog, model: model, data: data)
start = now()
let search = try CatalogSearch(catalog: catalog, model: model, kind: .exact)
let sqliteIndexSeconds = now() - start
var sqliteLatencies: [Double] = []
var sqliteFound: [[Int64]] = []
for vector in searches {
    start = now()
    let hits = try search.search(SearchRequest(vectors: vector, limit: options.limit))
    sqliteLatencies.append((now() - start) * 1000)
    sqliteFound.append(hits.map(\.imageID))
}
let size = ["", "-wal", "-shm"].compactMap { try? FileManager.default.attributesOfItem(atPath: path + $0)[.size] as? Int }.reduce(0, +)
// Both stores number the images 1, 2, … in insertion order: their exact top K must be the same ids.
let agreeing = zip(sqliteFound, exact.found).filter { $0 == $1 }.count
report([
    "same_top_k_as_postgres_exact": Double(agreeing) / Double(options.queries),
    "store": "sqlite", "images": total, "insert_images_per_s": sqliteRate, "exact_index_build_s": sqliteIndexSeconds,
    "exact_p50_ms": percentile(sqliteLatencies, 0.5), "exact_p99_ms": percentile(sqliteLatencies, 0.99),
    "bytes_per_image": Double(size) / Double(total), "queries": options.queries,
])
if options.sqlite == nil {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}
