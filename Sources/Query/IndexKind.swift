/// What kind of index to search with. Exact search is the default: an approximate index
/// can lose the right answers (clip-retrieval #76), so approximate kinds are opt-in and the
/// benchmark reports their recall against exact.
public enum IndexKind: Sendable, Equatable, CustomStringConvertible {
    /// Results equal brute force over the fp32 vectors (`QuantizedImageIndex`).
    case exact
    /// Any FAISS `index_factory` string, e.g. "IVF4096,SQ8" or "HNSW32".
    case factory(String)

    public init(_ text: String) {
        self = text.lowercased() == "exact" ? .exact : .factory(text)
    }

    public var description: String {
        switch self {
        case .exact: "exact"
        case .factory(let text): text
        }
    }
}
