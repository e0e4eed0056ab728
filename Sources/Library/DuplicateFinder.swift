import Foundation
import PostgresStore
import Synchronization
import Query
import Store

/// How a photo of a duplicate group matches the group's first (best) photo.
public enum DuplicateMatch: Sendable, Equatable {
    /// The group's first photo.
    case best
    /// The same bytes (the same content hash).
    case identical
    /// Perceptual signatures `distance` bits apart (of 63): a re-encode, resize, crop or edit.
    case perceptual(distance: Int)
    /// BLIP-2 embeddings this similar (cosine of the mean query vectors): the same scene.
    case scene(similarity: Float)
}

/// One photo of a duplicate group.
public struct DuplicatePhoto: Sendable, Equatable {
    public let picture: CatalogPicture
    public let match: DuplicateMatch
    /// The content's image id for the daemon's model, when the API lists it.
    public var imageID: Int64?
}

/// Photos that are copies, versions or near-repeats of one another, best first: the largest
/// (pixels), then the newest, then the largest file.
public struct DuplicateGroup: Sendable, Equatable {
    public let photos: [DuplicatePhoto]
}

/// Finds groups of near-duplicate photos in a catalog, at two levels. Files with the same
/// content hash are byte-identical copies. The perceptual level joins contents whose
/// signatures (`PerceptualSignature`, read while indexing) differ by at most `threshold`
/// bits: re-encodes, resizes, crops by up to 10 %, small edits. The scene level, when asked,
/// also joins contents whose BLIP-2 embeddings (the normalised mean of each image's query
/// vectors) have a cosine above `sceneThreshold`: bursts and slight reframing. Groups are
/// the connected components of these links. Both levels compare every pair, exactly.
public struct DuplicateFinder: Sendable {
    /// Largest signature distance of near-duplicates.
    public var threshold: Int
    /// Cosine above which two photos show the same scene; nil: the scene level is off.
    public var sceneThreshold: Float?

    /// Provisional: real BLIP-2 weights were not available to measure it (README).
    public static let defaultSceneThreshold: Float = 0.9

    public init(threshold: Int = PerceptualSignature.defaultThreshold, sceneThreshold: Float? = nil) {
        self.threshold = threshold
        self.sceneThreshold = sceneThreshold
    }

    /// The groups among the files under `roots` (nil: all), largest first; `modelId` names
    /// the embeddings of the scene level (needed when it is on).
    public func groups(in catalog: any PictureCatalog, under roots: [String]? = nil, modelId: String? = nil) throws -> [DuplicateGroup] {
        let pictures = try catalog.pictures(under: roots)
        var contentIndex: [String: Int] = [:]
        var contents: [[CatalogPicture]] = []
        for picture in pictures {
            if let index = contentIndex[picture.contentHash] {
                contents[index].append(picture)
            } else {
                contentIndex[picture.contentHash] = contents.count
                contents.append([picture])
            }
        }
        var links = UnionFind(count: contents.count)
        let signatures = contents.map { $0[0].signature }
        for (a, b) in Self.closeSignatures(signatures, within: threshold) { links.join(a, b) }
        var pooled: [Int: [Float]] = [:]
        if let sceneThreshold {
            guard let modelId else { throw LibraryError(.invalidSearch, "the scene level needs a model's embeddings") }
            pooled = try Self.pooledVectors(catalog: catalog, modelId: modelId, contentIndex: contentIndex)
            let order = pooled.keys.sorted()
            let matrix = order.flatMap { pooled[$0]! }
            let dimension = pooled.first?.value.count ?? 1
            for pair in try SimilarPairs.find(in: matrix, dimension: dimension, above: sceneThreshold) {
                links.join(order[pair.first], order[pair.second])
            }
        }
        var members: [Int: [Int]] = [:]
        for index in contents.indices { members[links.root(of: index), default: []].append(index) }
        return members.values.compactMap { group -> DuplicateGroup? in
            let photos = group.flatMap { index in contents[index].map { (index, $0) } }
            guard photos.count > 1 else { return nil }
            let ordered = photos.sorted { Self.isBetter($0.1, than: $1.1) }
            let (bestIndex, best) = ordered[0]
            return DuplicateGroup(photos: [DuplicatePhoto(picture: best, match: .best)] + ordered.dropFirst().map { index, picture in
                DuplicatePhoto(picture: picture, match: match(index, to: bestIndex, signatures: signatures, pooled: pooled))
            })
        }.sorted { ($0.photos.count, $1.photos[0].picture.path) > ($1.photos.count, $0.photos[0].picture.path) }
    }

    /// How content `index` relates to the best photo's content: by bytes, else by signature
    /// when close, else by scene when both have embeddings (else by signature, however far:
    /// it joined the group through others).
    private func match(_ index: Int, to best: Int, signatures: [PerceptualSignature?], pooled: [Int: [Float]]) -> DuplicateMatch {
        if index == best { return .identical }
        let distance = signatures[index].flatMap { mine in signatures[best].map { mine.distance(to: $0) } }
        if let distance, distance <= threshold { return .perceptual(distance: distance) }
        if let mine = pooled[index], let theirs = pooled[best] {
            return .scene(similarity: zip(mine, theirs).reduce(0) { $0 + $1.0 * $1.1 })
        }
        return .perceptual(distance: distance ?? 63)
    }

    /// Larger pictures first, then newer, then larger files, then by path.
    static func isBetter(_ a: CatalogPicture, than b: CatalogPicture) -> Bool {
        let pixels = { (p: CatalogPicture) in (p.width ?? 0) * (p.height ?? 0) }
        if pixels(a) != pixels(b) { return pixels(a) > pixels(b) }
        if (a.takenAt ?? "") != (b.takenAt ?? "") { return (a.takenAt ?? "") > (b.takenAt ?? "") }
        if a.bytes != b.bytes { return a.bytes > b.bytes }
        return a.path < b.path
    }

    /// Every pair of indexes whose signatures are at most `threshold` apart: all pairs
    /// compared (three 64-bit popcounts each), split over the cores.
    static func closeSignatures(_ signatures: [PerceptualSignature?], within threshold: Int) -> [(Int, Int)] {
        let present = signatures.indices.filter { signatures[$0] != nil }
        let whole = present.map { signatures[$0]!.whole }, center = present.map { signatures[$0]!.center }
        let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        // Rows are dealt round-robin: row i compares with the n - i - 1 rows after it.
        let found = Mutex<[(Int, Int)]>([])
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var local: [(Int, Int)] = []
            whole.withUnsafeBufferPointer { whole in
                center.withUnsafeBufferPointer { center in
                    for i in stride(from: worker, to: whole.count, by: workers) {
                        let (wi, ci) = (whole[i], center[i])
                        for j in (i + 1)..<whole.count where (wi ^ whole[j]).nonzeroBitCount <= threshold
                            || (wi ^ center[j]).nonzeroBitCount <= threshold || (ci ^ whole[j]).nonzeroBitCount <= threshold {
                            local.append((present[i], present[j]))
                        }
                    }
                }
            }
            found.withLock { $0.append(contentsOf: local) }
        }
        return found.withLock { $0 }
    }

    /// The normalised mean of the query vectors of each content that has embeddings from
    /// `modelId`, by content index.
    static func pooledVectors(catalog: any PictureCatalog, modelId: String, contentIndex: [String: Int]) throws -> [Int: [Float]] {
        guard try catalog.model(id: modelId) != nil else {
            throw LibraryError(.modelNotIndexed, "\(catalog.location) has no embeddings from model \(modelId)")
        }
        var pooled: [Int: [Float]] = [:]
        for (hash, mean) in try catalog.meanVectors(modelId: modelId) {
            guard let index = contentIndex[hash] else { continue }
            let norm = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            pooled[index] = norm > 0 ? mean.map { $0 / norm } : mean
        }
        return pooled
    }
}

/// What finding duplicates reads: the SQLite catalog, or a PostgreSQL store.
public protocol PictureCatalog {
    /// Where it is, for messages.
    var location: String { get }
    /// Every indexed, online file under `roots` (nil: all), with its picture's metadata.
    func pictures(under roots: [String]?) throws -> [CatalogPicture]
    func model(id: String) throws -> ModelRecord?
    func models() throws -> [ModelRecord]
    /// The mean of the query vectors of each searchable content `modelId` embedded, by hash.
    func meanVectors(modelId: String) throws -> [String: [Float]]
}

extension Catalog: PictureCatalog {
    public func meanVectors(modelId: String) throws -> [String: [Float]] {
        guard let model = try model(id: modelId) else { return [:] }
        let (count, dimension) = (model.queryCount, model.dimension)
        var means: [String: [Float]] = [:]
        try forEachContent(modelId: modelId) { hash, data in
            let vectors = try StoredVectors.floats(data, count: count * dimension, image: -1, catalogPath: path)
            var mean = [Float](repeating: 0, count: dimension)
            for q in 0..<count { for d in 0..<dimension { mean[d] += vectors[q * dimension + d] } }
            means[hash] = mean.map { $0 / Float(count) }
        }
        return means
    }
}

extension PostgresCatalog: PictureCatalog {}

/// Disjoint sets of 0..<count, joined pairwise (path halving, union by size).
struct UnionFind {
    private var parent: [Int]
    private var size: [Int]

    init(count: Int) {
        parent = Array(0..<count)
        size = Array(repeating: 1, count: count)
    }

    mutating func root(of element: Int) -> Int {
        var x = element
        while parent[x] != x {
            parent[x] = parent[parent[x]]
            x = parent[x]
        }
        return x
    }

    mutating func join(_ a: Int, _ b: Int) {
        var (x, y) = (root(of: a), root(of: b))
        guard x != y else { return }
        if size[x] < size[y] { swap(&x, &y) }
        parent[y] = x
        size[x] += size[y]
    }
}

/// {"photos": [...]}: a group as `duplicates --json` and the API print it.
extension DuplicateGroup: Encodable {
    /// A photo as `duplicates --json` and the API print it.
    struct Photo: Encodable {
        let path: String
        let width: Int?
        let height: Int?
        let taken: String?
        let bytes: Int64
        let image: Int64?
        /// "best", "identical", "perceptual" or "scene".
        let match: String
        let distance: Int?
        let similarity: Float?
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(photos.map { photo in
            let p = photo.picture
            let (match, distance, similarity): (String, Int?, Float?) = switch photo.match {
            case .best: ("best", nil, nil)
            case .identical: ("identical", nil, nil)
            case .perceptual(let d): ("perceptual", d, nil)
            case .scene(let s): ("scene", nil, s)
            }
            return Photo(path: p.path, width: p.width, height: p.height, taken: p.takenAt, bytes: p.bytes, image: photo.imageID, match: match,
                         distance: distance, similarity: similarity)
        }, forKey: .photos)
    }

    private enum Keys: String, CodingKey { case photos }
}
