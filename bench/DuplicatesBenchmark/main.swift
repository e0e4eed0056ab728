// Near-duplicate grouping at scale, on a synthetic catalog: how long `imgsearch duplicates`
// takes (the perceptual level, then with --scene), and, with --check, the pairs each level
// finds against a plain brute-force loop over every pair (recall of true pairs).
//
//   .build/release/DuplicatesBenchmark --images 100000 [--check] [--catalog PATH]
//
// Data: every tenth image is a variant of the image before it (its signature with 0–8 bits
// flipped, its 32 vectors the original's plus noise, re-normalised); the rest are random
// (random signatures; random unit vectors, whose means are ~0.06 apart in cosine). The
// catalog (3.3 GB at 100k) is kept and reused when it already has the images.
import Foundation
import Library
import Store
import TestSupport

let queriesPerImage = 32, dimension = 256

struct Options {
    var images = 10_000
    var check = false
    var catalog: String?

    init(_ arguments: [String]) {
        var rest = arguments.dropFirst()
        while let name = rest.popFirst() {
            switch name {
            case "--images": images = Int(rest.popFirst() ?? "") ?? { fatalError("--images N") }()
            case "--check": check = true
            case "--catalog": catalog = rest.popFirst()
            default: fatalError("usage: DuplicatesBenchmark --images N [--check] [--catalog PATH]")
            }
        }
    }
}

extension SeededGenerator {
    /// Roughly normal: the sum of four uniforms, centred.
    mutating func gaussian() -> Float {
        var sum: Float = 0
        for _ in 0..<4 { sum += Float(next() >> 40) / Float(1 << 24) }
        return (sum - 2) * 1.732
    }
}

func normalize(_ v: inout ArraySlice<Float>) {
    let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
    for i in v.indices { v[i] /= norm }
}

/// Image i's signature and vectors; a variant (i % 10 == 9) derives from image i - 1.
func synthetic(_ image: Int) -> (PerceptualSignature, [Float]) {
    var random = SeededGenerator(state: UInt64(image) &* 0x5851_F42D_4C95_7F2D)
    let base = image % 10 == 9 ? image - 1 : image
    var baseRandom = SeededGenerator(state: UInt64(base) &* 0x5851_F42D_4C95_7F2D)
    let mask: UInt64 = (1 << 63) - 1
    var signature = PerceptualSignature(whole: baseRandom.next() & mask, center: baseRandom.next() & mask)
    var vectors = [Float](repeating: 0, count: queriesPerImage * dimension)
    for i in vectors.indices { vectors[i] = baseRandom.gaussian() }
    if base != image {
        var whole = signature.whole
        for _ in 0..<Int(random.next() % 9) { whole ^= 1 << (random.next() % 63) }
        signature = PerceptualSignature(whole: whole, center: signature.center)
        for i in vectors.indices { vectors[i] += 0.3 * random.gaussian() }
    }
    for q in 0..<queriesPerImage {
        var row = vectors[(q * dimension)..<((q + 1) * dimension)]
        normalize(&row)
        vectors.replaceSubrange((q * dimension)..<((q + 1) * dimension), with: row)
    }
    return (signature, vectors)
}

func fill(_ catalog: Catalog, images: Int) throws -> String {
    let modelId = "synthetic-32x256"
    if try catalog.models().isEmpty {
        try catalog.write { try $0.register(ModelRecord(id: modelId, description: "synthetic", queryCount: queriesPerImage,
                                                        dimension: dimension)) }
    }
    let have = try catalog.imageCount(modelId: modelId)
    guard have < images else { return modelId }
    for first in stride(from: have, to: images, by: 2_000) {
        try catalog.write { tx in
            for image in first..<min(first + 2_000, images) {
                let hash = String(format: "synthetic-%08d", image)
                let (signature, vectors) = synthetic(image)
                _ = try tx.storeImage(StoredImage(contentHash: hash, modelId: modelId, vectors: vectors))
                _ = try tx.upsert(CatalogFile(root: "/synthetic", path: "/synthetic/\(hash).jpg", device: 0, inode: Int64(image),
                                              size: 1000, modifiedNanoseconds: 0, contentHash: hash, state: .indexed))
                try tx.store([PhotoMetadata(contentHash: hash, format: "JPEG", width: 100, height: 100,
                                            takenAt: "2024-01-01 00:00:00", takenAtSource: .mtime, signature: signature.data)])
            }
        }
    }
    return modelId
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Pairs of files in one group.
func pairs(_ groups: [DuplicateGroup]) -> Set<[String]> {
    var found = Set<[String]>()
    for group in groups {
        let paths = group.photos.map(\.picture.path).sorted()
        for i in paths.indices { for j in paths.indices where j > i { found.insert([paths[i], paths[j]]) } }
    }
    return found
}

let options = Options(CommandLine.arguments)
let path = options.catalog ?? "bench/out/duplicates-\(options.images).sqlite"
let catalog = try Catalog(path: path)
var modelId = ""
let fillSeconds = try seconds { modelId = try fill(catalog, images: options.images) }
var perceptual: [DuplicateGroup] = [], scene: [DuplicateGroup] = []
let perceptualSeconds = try seconds { perceptual = try DuplicateFinder().groups(in: catalog) }
let sceneSeconds = try seconds {
    scene = try DuplicateFinder(sceneThreshold: DuplicateFinder.defaultSceneThreshold).groups(in: catalog, modelId: modelId)
}
var report: [String: Any] = [
    "images": options.images, "fill_seconds": (fillSeconds * 10).rounded() / 10,
    "perceptual_seconds": (perceptualSeconds * 100).rounded() / 100, "perceptual_groups": perceptual.count,
    "both_levels_seconds": (sceneSeconds * 100).rounded() / 100, "both_levels_groups": scene.count,
]
if options.check {
    // Brute force: every pair, in a plain loop, from the catalog's own rows.
    let pictures = try catalog.pictures()
    var truth = Set<[String]>()
    let signatures = pictures.map { $0.signature! }
    for i in pictures.indices {
        for j in pictures.indices where j > i && signatures[i].distance(to: signatures[j]) <= PerceptualSignature.defaultThreshold {
            truth.insert([pictures[i].path, pictures[j].path].sorted())
        }
    }
    let found = pairs(perceptual)
    report["perceptual_true_pairs"] = truth.count
    report["perceptual_recall"] = truth.isEmpty ? 1 : Double(found.intersection(truth).count) / Double(truth.count)
    report["perceptual_extra_pairs"] = found.subtracting(truth).count  // joined through a third photo
    var pooled: [String: [Float]] = [:]
    try catalog.forEachContent(modelId: modelId) { hash, data in
        let v = try StoredVectors.floats(data, count: queriesPerImage * dimension, image: -1, catalogPath: path)
        var mean = [Float](repeating: 0, count: dimension)
        for q in 0..<queriesPerImage { for d in 0..<dimension { mean[d] += v[q * dimension + d] } }
        let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
        pooled["/synthetic/\(hash).jpg"] = mean.map { $0 / norm }
    }
    var sceneTruth = Set<[String]>()
    let paths = pictures.map(\.path)
    for i in paths.indices {
        let a = pooled[paths[i]]!
        for j in paths.indices where j > i {
            let b = pooled[paths[j]]!
            var dot: Float = 0
            for d in 0..<dimension { dot += a[d] * b[d] }
            if dot > DuplicateFinder.defaultSceneThreshold { sceneTruth.insert([paths[i], paths[j]]) }
        }
    }
    let bothFound = pairs(scene)
    let bothTruth = truth.union(sceneTruth)
    report["scene_true_pairs"] = sceneTruth.count
    report["scene_recall"] = sceneTruth.isEmpty ? 1 : Double(bothFound.intersection(sceneTruth).count) / Double(sceneTruth.count)
    report["both_levels_recall"] = Double(bothFound.intersection(bothTruth).count) / Double(bothTruth.count)
}
print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
