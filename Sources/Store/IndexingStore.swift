import Foundation

/// What an index run reads from and writes to a catalog: the SQLite `Catalog` on one
/// machine, or a PostgreSQL store that several indexing processes share.
public protocol IndexingStore: Sendable {
    /// Where the store is, for messages: a file path, or a URL without its password.
    var location: String { get }
    func files(inRoots roots: [String]) throws -> [CatalogFile]
    /// The hashes among `hashes` that `modelId` has embedded.
    func embeddedHashes(_ hashes: [String], modelId: String) throws -> Set<String>
    func indexedRoots() throws -> [String: IndexedRoot]
    /// The hashes among `hashes` that `captionModelId` has captioned.
    func captionedHashes(_ hashes: [String], captionModelId: String) throws -> Set<String>
    /// The indexed, online contents without a caption by `captionModelId`, each with one of its
    /// files; with `roots`, only contents a file inside one of them holds (and one of those
    /// files). In path order, so a pass that stops resumes where it was.
    func uncaptioned(captionModelId: String, under roots: [String]?) throws -> [CaptionCandidate]
    /// See `Catalog.contentsWithoutMetadata(after:limit:)`.
    func contentsWithoutMetadata(after hash: String?, limit: Int) throws -> [MetadataCandidate]
    /// Runs `body`'s writes in one transaction: all of them are committed, or none.
    func update<T>(_ body: (any CatalogUpdates) throws -> T) throws -> T
    /// Takes the right to embed each of `hashes` with `modelId` that no other indexing process
    /// holds (with `waiting`, waits for those they hold instead) and that has no embedding yet.
    /// The right lasts until the claim commits, is released, or its process dies.
    func claimEmbedding(of hashes: [String], modelId: String, waiting: Bool) throws -> any ContentClaim
    /// Takes the right to caption each of `hashes` with `captionModelId` that no other process
    /// holds and that has no such caption yet; the others are `heldElsewhere` or done.
    func claimCaptioning(of hashes: [String], captionModelId: String) throws -> any ContentClaim
}

/// The writes of one store transaction, in the domain's terms (see `CatalogTransaction`).
public protocol CatalogUpdates {
    /// Records a model the first time it is used; later calls leave the record as it is.
    func register(_ model: ModelRecord) throws
    /// Inserts or updates the file with this path; returns it with its id.
    @discardableResult func upsert(_ file: CatalogFile) throws -> CatalogFile
    /// The embedding of the image's content by its model: the existing one, or this new one.
    @discardableResult func storeImage(_ image: StoredImage) throws -> StoredImage
    /// `storeImage` of each, in order (a store may write them in fewer statements).
    @discardableResult func storeImages(_ images: [StoredImage]) throws -> [StoredImage]
    /// `upsert` of each, in order (a store may write them in fewer statements); a path given
    /// twice ends as its last record.
    @discardableResult func upsert(files: [CatalogFile]) throws -> [CatalogFile]
    /// Removes files by path; returns how many existed.
    @discardableResult func removeFiles(paths: [String]) throws -> Int
    /// See `CatalogTransaction.removeOrphanImages(keepingFor:now:)`.
    @discardableResult func removeOrphanImages(keepingFor grace: TimeInterval, now: Date) throws -> [Int64]
    /// See `CatalogTransaction.removeExpiredOrphanImages(keptFor:now:)`.
    @discardableResult func removeExpiredOrphanImages(keptFor grace: TimeInterval, now: Date) throws -> [Int64]
    /// Marks every file recorded under `root` offline; returns how many were not already.
    @discardableResult func markOffline(root: String, now: Date) throws -> Int
    /// Marks these files offline; returns how many were not already.
    @discardableResult func markOffline(paths: [String], now: Date) throws -> Int
    /// Removes the offline files (under `folder`, when given); returns how many.
    @discardableResult func removeOfflineFiles(under folder: String?) throws -> Int
    /// Brings offline files back; returns how many.
    @discardableResult func markOnline(paths: [String]) throws -> Int
    /// Records the file system `root` is on now.
    func recordRoot(_ root: IndexedRoot) throws
    /// Stores captions; a content already captioned by that model keeps its first caption.
    func store(captions: [StoredCaption], at date: Date) throws
    /// Stores (or replaces) metadata rows.
    func store(_ metadata: [PhotoMetadata]) throws
}

extension CatalogUpdates {
    @discardableResult public func storeImages(_ images: [StoredImage]) throws -> [StoredImage] {
        try images.map { try storeImage($0) }
    }

    @discardableResult public func upsert(files: [CatalogFile]) throws -> [CatalogFile] {
        try files.map { try upsert($0) }
    }

    @discardableResult public func removeOrphanImages(keepingFor grace: TimeInterval) throws -> [Int64] {
        try removeOrphanImages(keepingFor: grace, now: Date())
    }

    @discardableResult public func removeExpiredOrphanImages(keptFor grace: TimeInterval) throws -> [Int64] {
        try removeExpiredOrphanImages(keptFor: grace, now: Date())
    }

    @discardableResult public func markOffline(root: String) throws -> Int { try markOffline(root: root, now: Date()) }

    @discardableResult public func markOffline(paths: [String]) throws -> Int { try markOffline(paths: paths, now: Date()) }

    public func store(captions: [StoredCaption]) throws { try store(captions: captions, at: Date()) }
}

/// The right to embed or caption some contents (see `IndexingStore.claimEmbedding` and
/// `claimCaptioning`), committed with their embeddings or captions in one transaction.
/// Dropping it uncommitted gives the right back.
public protocol ContentClaim: AnyObject {
    /// The hashes this process may embed (or caption) now.
    var claimed: Set<String> { get }
    /// The hashes another process holds the right to (never any when claimed `waiting`).
    var heldElsewhere: Set<String> { get }
    /// Runs `body`'s writes in the claim's transaction and commits them with the claim.
    func commit<T>(_ body: (any CatalogUpdates) throws -> T) throws -> T
}

extension CatalogTransaction: CatalogUpdates {}

extension Catalog: IndexingStore {
    public var location: String { path }

    public func update<T>(_ body: (any CatalogUpdates) throws -> T) throws -> T {
        try write { try body($0) }
    }

    /// A SQLite catalog is written by one process at a time (its writes are serialised, and
    /// `storeImage` keeps the first embedding of a content): every unembedded hash is claimed.
    public func claimEmbedding(of hashes: [String], modelId: String, waiting: Bool) throws -> any ContentClaim {
        SoleWriterClaim(catalog: self, claimed: Set(hashes).subtracting(try embeddedHashes(hashes, modelId: modelId)))
    }

    /// As `claimEmbedding`: every uncaptioned hash is claimed.
    public func claimCaptioning(of hashes: [String], captionModelId: String) throws -> any ContentClaim {
        SoleWriterClaim(catalog: self, claimed: Set(hashes).subtracting(try captionedHashes(hashes, captionModelId: captionModelId)))
    }
}

/// A claim on a SQLite catalog: nothing to lock, the commit is an ordinary transaction.
final class SoleWriterClaim: ContentClaim {
    let catalog: Catalog
    let claimed: Set<String>
    var heldElsewhere: Set<String> { [] }

    init(catalog: Catalog, claimed: Set<String>) {
        self.catalog = catalog
        self.claimed = claimed
    }

    func commit<T>(_ body: (any CatalogUpdates) throws -> T) throws -> T {
        try catalog.update(body)
    }
}
