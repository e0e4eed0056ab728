// Max-over-queries search over synthetic BLIP-2-shaped embeddings (32 L2-normalised 256-d
// vectors per image): build time, query latency p50/p99, resident memory per image, and the
// recall@10 of approximate indexes against exact search on the same data.
//
//   .build/release/SearchBenchmark --images 100000 [options]     # options: --help (Options.usage)
//
// The data is clustered (images around 2048 topics, each query vector a noisy copy of its
// image's topic) so that approximate indexes see the kind of structure real embeddings have;
// uniform random vectors on a 256-d sphere would have none. --search unrelated searches for
// vectors near no topic instead, the worst case for the exact scan's coarse pass, which then
// cannot rule images out; --search image searches with an image's 32 vectors, as
// `imgsearch query --image` does. bench/search.sh runs the matrix.
import BenchmarkData
import Foundation
import Query
import Store


/// Search vectors: one near a topic (text), one near none, or a new image's 32.
enum SearchKind: String {
    case text, unrelated, image
}

struct Options {
    var images = 10_000
    var kind = IndexKind.exact
    var queries = 50
    var limit = 10
    var parameters: [(String, Double)] = []
    var threads: Int?
    var recall = true
    /// What each query searches with (`searches`).
    var search = SearchKind.text
    /// For approximate and FAISS kinds: re-score this many candidates per result with fp32
    /// vectors (0: off).
    var rescore = 0
    /// For the approximate kind: lists searched, and lists in all (0: its default for the size).
    var probes = PartitionedImageIndex.defaultProbes
    var lists = 0
    /// Instead of benchmarking: write the synthetic images into this catalog, each an empty
    /// file under photos/ beside it (bench/serve.sh).
    var fillCatalog: String?
    /// Re-score from this catalog (filled by --fill-catalog with the same images) instead of
    /// from the generator: the real cost of reading candidates' fp32 vectors.
    var fp32Catalog: String?
    /// Search under a filter keeping this share of the images (chosen by a hash of the id),
    /// as `imgsearch query --after/--camera/…` does; recall is then against brute force over
    /// the kept images.
    var keep: Double?

    static let usage = """
        usage: SearchBenchmark --images N [--kind exact|approximate|FAISS-factory] [--queries N] [--limit K]
                               [--search text|unrelated|image] [--probes N] [--lists N] [--rescore N]
                               [--nprobe N] [--efSearch N] [--threads N] [--no-recall]
                               [--fp32-catalog PATH] [--fill-catalog PATH] [--keep SHARE]
        """

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            if flag == "--help" || flag == "-h" {
                print(Self.usage)
                exit(0)
            }
            if flag == "--no-recall" { recall = false; continue }
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--images": images = Int(value)!
            case "--kind": kind = IndexKind(value)
            case "--queries": queries = Int(value)!
            case "--limit": limit = Int(value)!
            case "--threads": threads = Int(value)!
            case "--rescore": rescore = Int(value)!
            case "--probes": probes = Int(value)!
            case "--lists": lists = Int(value)!
            case "--search": search = SearchKind(rawValue: value) ?? { fatalError("--search is text, unrelated or image") }()
            case "--fill-catalog": fillCatalog = value
            case "--fp32-catalog": fp32Catalog = value
            case "--keep": keep = Double(value)!
            case "--nprobe", "--efSearch", "--k_factor": parameters.append((String(flag.dropFirst(2)), Double(value)!))
            default: fatalError("unknown option \(flag)")
            }
        }
    }
}

func residentMegabytes() -> Double {
    let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
    let pages = Double(statm.split(separator: " ").dropFirst().first ?? "0") ?? 0
    return pages * 4096 / 1_048_576
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}

let options = Options(CommandLine.arguments)
if let path = options.fillCatalog {
    try fillCatalog(path: path, images: options.images, data: SyntheticEmbeddings())
    exit(0)
}
if let threads = options.threads { VectorIndex.setThreads(threads) }
let data = SyntheticEmbeddings()
/// The search vectors of every query, made once for the timed searches and the recall pass.
let searches: [[Float]] = (0..<options.queries).map { q in
    switch options.search {
    case .text: data.query(q, images: options.images)
    case .unrelated: data.unrelatedQuery(q)
    case .image: data.imageQuery(q, images: options.images)
    }
}
let chunk = 20_000
let baseline = residentMegabytes()

// Build.
var start = now()
let index: any ImageIndex
// The fp32 vectors for re-scoring come from the generator, standing in for the catalog, or
// from a catalog filled with the same images (--fill-catalog stores image i as id i + 1).
let fp32: FP32VectorSource
if let path = options.fp32Catalog {
    let catalog = try Catalog(path: path)
    fp32 = { ids in
        let stored = try catalog.vectors(ofImages: ids.map { $0 + 1 })
        var floats: [Int64: [Float]] = [:]
        for id in ids {
            guard let data = stored[id + 1] else { continue }
            floats[id] = try StoredVectors.floats(data, count: queriesPerImage * dimension, image: id + 1, catalogPath: path)
        }
        return floats
    }
} else {
    fp32 = { ids in
        Dictionary(uniqueKeysWithValues: ids.map { ($0, data.images(Int($0)..<(Int($0) + 1))) })
    }
}
switch options.kind {
case .exact:
    index = try QuantizedImageIndex(queriesPerImage: queriesPerImage, dimension: dimension, fp32Vectors: fp32)
case .approximate:
    let partitioned = try PartitionedImageIndex(
        queriesPerImage: queriesPerImage, dimension: dimension,
        lists: options.lists > 0 ? options.lists : PartitionedImageIndex.listCount(forImages: options.images),
        probes: options.probes)
    // As CatalogSearch trains it.
    let strides = partitioned.trainingStrides(forImages: options.images)
    var means: [Float] = [], sample: [Float] = []
    for image in Swift.stride(from: 0, to: options.images, by: strides.means) {
        means += try partitioned.imageMeans(data.images(image..<(image + 1)))
    }
    for image in Swift.stride(from: 0, to: options.images, by: strides.sample) {
        sample += data.images(image..<(image + 1))
    }
    try partitioned.train(means: means, sample: sample)
    index = options.rescore > 0
        ? RescoredImageIndex(base: partitioned, candidatesPerResult: options.rescore, fp32Vectors: fp32) : partitioned
case .factory(let factory):
    let vectors = try VectorIndex(dimension: dimension, factory: factory)
    if !vectors.isTrained {
        let sampleImages = min(options.images, 2048)  // 65k vectors: enough for IVF1024 and PQ codebooks
        let stride = max(1, options.images / sampleImages)
        var sample: [Float] = []
        for image in Swift.stride(from: 0, to: options.images, by: stride) { sample += data.images(image..<(image + 1)) }
        try vectors.train(sample)
    }
    for (name, value) in options.parameters { try vectors.setParameter(name, value) }
    let faiss = FaissImageIndex(vectors: vectors, queriesPerImage: queriesPerImage)
    index = options.rescore > 0 ? RescoredImageIndex(base: faiss, candidatesPerResult: options.rescore, fp32Vectors: fp32) : faiss
}
let trainSeconds = now() - start
for first in Swift.stride(from: 0, to: options.images, by: chunk) {
    let range = first..<min(first + chunk, options.images)
    try index.add(imageIDs: range.map { Int64($0) }, embeddings: data.images(range))
}
let buildSeconds = now() - start
let memory = residentMegabytes() - baseline

/// --keep: the images the filter keeps.
let allowed: Set<Int64>? = options.keep.map { share in
    Set((0..<options.images).filter { image in
        var hash = UInt64(image) &* 0x9E37_79B9_7F4A_7C15
        hash ^= hash >> 29
        return Double(hash % 1_000_000) < share * 1_000_000
    }.map(Int64.init))
}

// Query latency.
var latencies: [Double] = []
var results: [[Int64]] = []
var imagesReadInFull = 0
for query in searches {
    start = now()
    let hits: [ScoredImage]
    if let exact = index as? QuantizedImageIndex {
        let measured = try exact.searchMeasuringReads(query, limit: options.limit, among: allowed.map(Array.init))
        hits = measured.hits
        imagesReadInFull += measured.imagesReadInFull
    } else if let allowed {
        hits = try index.search(query, limit: options.limit, among: allowed)
    } else {
        hits = try index.search(query, limit: options.limit)
    }
    latencies.append((now() - start) * 1000)
    results.append(hits.map(\.imageID))
}

// Recall against brute force (FAISS "Flat"), computed chunk by chunk so that even 1M images
// fit in memory; for the exact kind it must be 1.
var recall: Double?
if options.recall {
    var best: [[ScoredImage]] = Array(repeating: [], count: options.queries)
    for first in Swift.stride(from: 0, to: options.images, by: chunk) {
        let range = first..<min(first + chunk, options.images)
        let exact = FaissImageIndex(vectors: try VectorIndex(dimension: dimension),
                                    queriesPerImage: queriesPerImage)
        if let allowed {
            let kept = range.filter { allowed.contains(Int64($0)) }
            if kept.isEmpty { continue }
            try exact.add(imageIDs: kept.map { Int64($0) }, embeddings: kept.flatMap { data.images($0..<($0 + 1)) })
        } else {
            try exact.add(imageIDs: range.map { Int64($0) }, embeddings: data.images(range))
        }
        for q in 0..<options.queries {
            best[q] = Array((best[q] + (try exact.search(searches[q], limit: options.limit)))
                .sorted { $0.score != $1.score ? $0.score > $1.score : $0.imageID < $1.imageID }.prefix(options.limit))
        }
    }
    let found = zip(results, best).map { Set($0).intersection($1.map(\.imageID)).count }.reduce(0, +)
    // Of the true top K, or of every image when fewer are kept (a filter keeping 5 has 5 to find).
    recall = Double(found) / Double(best.map(\.count).reduce(0, +))
}

var report: [String: Any] = [
    "images": options.images, "vectors": options.images * queriesPerImage, "kind": options.kind.description,
    "train_s": trainSeconds, "build_s": buildSeconds, "index_mb": memory,
    "bytes_per_image": memory * 1_048_576 / Double(options.images),
    "p50_ms": percentile(latencies, 0.5), "p99_ms": percentile(latencies, 0.99), "queries": options.queries,
    "limit": options.limit,
]
if let recall { report["recall_at_\(options.limit)"] = recall }
for (name, value) in options.parameters { report[name] = value }
if options.rescore > 0 { report["rescore_candidates_per_result"] = options.rescore }
if options.fp32Catalog != nil { report["fp32_from"] = "catalog" }
report["search"] = options.search.rawValue
if let allowed {
    report["keep"] = options.keep
    report["kept_images"] = allowed.count
}
if index is QuantizedImageIndex {
    // The share of images whose low 4 bits the scan read too (the rest: only the high 4 bits).
    report["read_in_full"] = Double(imagesReadInFull) / Double(options.queries * (allowed?.count ?? options.images))
}
if case .approximate = options.kind {
    let partitioned = ((index as? RescoredImageIndex)?.base ?? index) as! PartitionedImageIndex
    report["lists"] = partitioned.lists
    report["probes"] = partitioned.probes
    report["index_bytes_per_image"] = Double(partitioned.memoryBytes) / Double(options.images)
}
print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
