/// What kind of index to search with. Exact search is the default: an approximate index
/// can lose the right answers (clip-retrieval #76), so approximate kinds are opt-in and the
/// benchmark reports their recall against exact.
public enum IndexKind: Sendable, Equatable, CustomStringConvertible {
    /// Results equal brute force over the fp32 vectors (`QuantizedImageIndex`).
    case exact
    /// For libraries too large for the exact index's memory: `PartitionedImageIndex`
    /// (image-level lists, 4-bit residual codes, ~2.3 KB an image), with its candidates
    /// re-scored exactly. Recall below 1 is possible; bench/search.sh measures it.
    case approximate
    /// Any FAISS `index_factory` string, e.g. "IVF4096,SQ8" or "HNSW32".
    case factory(String)

    public init(_ text: String) {
        switch text.lowercased() {
        case "exact": self = .exact
        case "approximate": self = .approximate
        default: self = .factory(text)
        }
    }

    public var description: String {
        switch self {
        case .exact: "exact"
        case .approximate: "approximate"
        case .factory(let text): text
        }
    }

    /// The extension of the cache file this kind keeps beside the catalog; nil for FAISS
    /// kinds, which are not cached.
    public var cacheExtension: String? {
        switch self {
        case .exact: QuantizedImageIndex.cacheExtension
        case .approximate: PartitionedImageIndex.cacheExtension
        case .factory: nil
        }
    }
}
