import Foundation
import Store
import Synchronization

/// The search index of a catalog that changes while it is searched (the daemon's): built
/// once (the exact kind may be read from its cache), then brought in step with the catalog
/// by `refresh()`, adding new images and dropping removed ones without a rebuild.
/// `refreshIfChanged()` is cheap when nothing changed: it compares the catalog's count of
/// image changes, which every writer bumps (this process or an `imgsearch index` elsewhere).
///
/// The approximate kind's lists are trained on the catalog as it was: it is retrained (in
/// the background of searches, which go on with the old index) each time the library has
/// grown 4× since, and it starts as an exact index while the catalog is still empty.
///
/// Searches run in parallel (each takes the current index, whose own lock lets searches
/// share it); `refresh()` is called from one thread at a time (the daemon's loop).
public final class LiveCatalogSearch: Sendable {
    /// What refreshes change, in one value behind one lock.
    private struct State {
        /// The index searches use now.
        var search: CatalogSearch
        /// Images the approximate index was trained on; 0 while it is not approximate yet.
        var trainedImageCount: Int
        /// The image ids the index holds, as far as refreshes know.
        var indexed: Set<Int64>
        /// The catalog's identity when the index last read it (read before the reading).
        var followed: CatalogIdentity
    }

    private let kind: IndexKind
    private let cacheDirectory: String?
    private let state: Mutex<State>

    public init(catalog: Catalog, model: ModelRecord, kind: IndexKind = .exact, cacheDirectory: String?) throws {
        // Taken before the index is built: an image added in between is added again by the
        // first refresh (remove-then-add keeps that harmless); one removed in between is
        // removed again (a no-op).
        let identity = try catalog.identity()
        let snapshot = Set(try catalog.imageIDs(modelId: model.id))
        let startKind = kind == .approximate && snapshot.isEmpty ? IndexKind.exact : kind
        let search = try CatalogSearch(catalog: catalog, model: model, kind: startKind, cacheDirectory: cacheDirectory)
        state = Mutex(State(search: search, trainedImageCount: startKind == .approximate ? snapshot.count : 0,
                            indexed: snapshot, followed: identity))
        self.kind = kind
        self.cacheDirectory = cacheDirectory
    }

    /// The index searches use now.
    public var search: CatalogSearch { state.withLock { $0.search } }

    public var imageCount: Int { search.index.imageCount }

    /// Applies the catalog's changes since the last refresh; returns how many images were
    /// added and removed.
    @discardableResult
    public func refresh() throws -> (added: Int, removed: Int) {
        try refresh(seeing: try search.catalog.identity())
    }

    /// `refresh()`, with the catalog's identity read before the catalog's images.
    private func refresh(seeing identity: CatalogIdentity) throws -> (added: Int, removed: Int) {
        let search = self.search
        let catalog = search.catalog
        let inCatalog = Set(try catalog.imageIDs(modelId: search.model.id))
        let known = state.withLock { $0.indexed }
        let added = inCatalog.subtracting(known).sorted()
        let removed = Array(known.subtracting(inCatalog))
        if !removed.isEmpty { try search.index.remove(imageIDs: removed) }
        let floatsPerImage = search.model.queryCount * search.model.dimension
        for start in stride(from: 0, to: added.count, by: 1024) {
            let chunk = Array(added[start..<min(start + 1024, added.count)])
            let vectors = try catalog.vectors(ofImages: chunk)
            let present = chunk.filter { vectors[$0] != nil }  // unless removed since
            var values: [Float] = []
            values.reserveCapacity(present.count * floatsPerImage)
            for id in present {
                try StoredVectors.append(vectors[id]!, count: floatsPerImage, image: id, catalogPath: catalog.path, to: &values)
            }
            try search.index.remove(imageIDs: present)
            try search.index.add(imageIDs: present, embeddings: values)
        }
        let trained = state.withLock { state in
            state.indexed = inCatalog
            state.followed = identity
            return state.trainedImageCount
        }
        if kind == .approximate, inCatalog.count >= max(1, 4 * trained) {
            try retrain(search, holding: inCatalog)
        }
        return (added.count, removed.count)
    }

    /// Refreshes when the catalog's images changed since the index last followed it (one
    /// small read otherwise); nil when nothing changed.
    @discardableResult
    public func refreshIfChanged() throws -> (added: Int, removed: Int)? {
        let now = try search.catalog.identity()
        guard now != state.withLock({ $0.followed }) else { return nil }
        return try refresh(seeing: now)
    }

    /// Builds a fresh approximate index from the catalog, then swaps it in. `snapshot`: the
    /// catalog's image ids taken before the build; as in `init`, an image added or removed
    /// since is put right by the next refresh.
    private func retrain(_ old: CatalogSearch, holding snapshot: Set<Int64>) throws {
        let rebuilt = try CatalogSearch(catalog: old.catalog, model: old.model, kind: .approximate)
        state.withLock { state in
            state.search = rebuilt
            state.indexed = snapshot
            state.trainedImageCount = snapshot.count
        }
    }

    /// Images like `imageID` (max over both images' query vectors), itself left out; nil
    /// when the catalog has no such image for this model. `roots`: as in `CatalogSearch.search`.
    /// `allowed`: a filter, as in `CatalogSearch.search`.
    public func similar(toImage imageID: Int64, limit: Int, minScore: Float?,
                        under roots: [String]? = nil, among allowed: Set<Int64>? = nil) throws -> [SearchResult]? {
        let (search, known) = state.withLock { ($0.search, $0.indexed.contains(imageID)) }
        guard known, let data = try search.catalog.vectors(ofImages: [imageID])[imageID] else { return nil }
        let vectors = try StoredVectors.floats(data, count: search.model.queryCount * search.model.dimension, image: imageID,
                                               catalogPath: search.catalog.path)
        let results = try search.search(SearchRequest(vectors: vectors, limit: limit + 1, minScore: minScore), under: roots,
                                        among: allowed)
        return Array(results.filter { $0.imageID != imageID }.prefix(limit))
    }

    /// Refreshes, then saves the index to its cache so that the next start need not rebuild
    /// it. The cache is named after the catalog's state read before the refresh, so a write
    /// by another process meanwhile makes it stale, never wrong.
    public func saveCache() throws {
        guard let cacheDirectory else { return }
        try refresh()
        let (search, identity) = state.withLock { ($0.search, $0.followed) }
        try search.saveCache(in: cacheDirectory, identity: identity)
    }
}
