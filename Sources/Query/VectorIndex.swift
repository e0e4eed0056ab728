internal import CFaiss
import Foundation

/// Why the vector index failed; FAISS's message included.
public struct VectorIndexError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "vector index: \(reason)" }
}

/// A FAISS inner-product index with 64-bit ids, owned by Swift. FAISS indexes are not safe
/// for concurrent mutation (and search parameters are set on the index): every call holds
/// the handle alone, so this class is Sendable.
public final class VectorIndex: Sendable {
    private let handle: SharedHandle
    public let dimension: Int

    /// `factory`: a FAISS index_factory string; "Flat" is brute force.
    public init(dimension: Int, factory: String = "Flat") throws(VectorIndexError) {
        var error = vindex_error()
        guard let created = vindex_create(Int32(dimension), factory, &error) else {
            throw VectorIndexError(reason: "cannot create a \"\(factory)\" index: \(error.text)")
        }
        handle = SharedHandle(created, free: vindex_free)
        self.dimension = dimension
    }

    private init(handle: OpaquePointer) {
        dimension = Int(vindex_dimension(handle))
        self.handle = SharedHandle(handle, free: vindex_free)
    }

    /// Reads an index written by `save(to:)`.
    public static func load(from path: String) throws(VectorIndexError) -> VectorIndex {
        var error = vindex_error()
        guard let loaded = vindex_load(path, &error) else { throw VectorIndexError(reason: error.text) }
        return VectorIndex(handle: loaded)
    }

    public var count: Int { handle.writing { Int(vindex_count($0)) } }
    public var isTrained: Bool { handle.writing { vindex_is_trained($0) != 0 } }

    public func train(_ vectors: [Float]) throws(VectorIndexError) {
        try handle.call(exclusive: true) { index, error in vindex_train(index, vectors, Int64(vectors.count / dimension), &error) }
    }

    public func add(_ vectors: [Float], ids: [Int64]) throws(VectorIndexError) {
        precondition(vectors.count == ids.count * dimension, "vector count does not match id count")
        try handle.call(exclusive: true) { index, error in vindex_add(index, vectors, ids, Int64(ids.count), &error) }
    }

    /// Removes the vectors with these ids; returns how many there were.
    @discardableResult
    public func remove(ids: [Int64]) throws(VectorIndexError) -> Int {
        var removed: Int64 = 0
        try handle.call(exclusive: true) { index, error in vindex_remove(index, ids, Int64(ids.count), &removed, &error) }
        return Int(removed)
    }

    /// The `k` best (id, score) pairs for each query, best first.
    public func search(_ queries: [Float], k: Int) throws(VectorIndexError) -> [[(id: Int64, score: Float)]] {
        let queryCount = queries.count / dimension
        precondition(queryCount * dimension == queries.count && queryCount > 0, "bad query size")
        var scores = [Float](repeating: 0, count: queryCount * k)
        var ids = [Int64](repeating: -1, count: queryCount * k)
        try handle.call(exclusive: true) { index, error in vindex_search(index, queries, Int64(queryCount), Int64(k), &scores, &ids, &error) }
        return (0..<queryCount).map { row in
            (0..<k).compactMap { column in
                let i = row * k + column
                return ids[i] >= 0 ? (ids[i], scores[i]) : nil
            }
        }
    }

    /// Sets a FAISS search parameter, e.g. "nprobe" for IVF or "efSearch" for HNSW.
    public func setParameter(_ name: String, _ value: Double) throws(VectorIndexError) {
        try handle.call(exclusive: true) { index, error in vindex_set_parameter(index, name, value, &error) }
    }

    public func save(to path: String) throws(VectorIndexError) {
        try handle.call(exclusive: true) { index, error in vindex_save(index, path, &error) }
    }

    public static func setThreads(_ threads: Int) {
        vindex_set_threads(Int32(clamping: threads))
    }
}

extension vindex_error {
    var text: String {
        withUnsafeBytes(of: message) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
