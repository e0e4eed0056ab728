import Embeddings
import Foundation
import Indexer
import Query
import Store

/// An opened catalog and the files beside it: what `imgsearch` commands and the daemon
/// search, index and report on.
public final class PhotoLibrary: Sendable {
    public let catalog: Catalog
    public let files: CatalogFiles

    /// Opens the catalog at `path`, creating it when `create` (an index run); otherwise a
    /// missing catalog is an error naming it.
    public init(path: String, create: Bool) throws {
        guard create || FileManager.default.fileExists(atPath: path) else {
            throw LibraryError(.noCatalog, "no catalog at \(path): run `imgsearch index` first, or pass --db")
        }
        catalog = try Catalog(path: path)
        files = CatalogFiles(database: path)
    }

    /// The catalog's record of `model`; a catalog without its embeddings is an error that
    /// lists the models it has.
    public func record(of model: Blip2Model) throws -> ModelRecord {
        let wanted = try ModelRecord(model: model)
        guard let record = try catalog.model(id: wanted.id) else {
            if let other = try otherPrecision(of: wanted) {
                throw LibraryError(.modelNotIndexed, "\(catalog.path) holds embeddings of \(model.snapshot.directory.path) made with "
                    + "--precision \(other.precisionClass), not \(model.precision): pass --precision \(other.precisionClass) "
                    + "(or set precision: \(other.precisionClass) in the config)")
            }
            let known = try catalog.models().map { "\($0.id) (\($0.description))" }.joined(separator: ", ")
            throw LibraryError(.modelNotIndexed, "\(catalog.path) has no embeddings from \(model.snapshot.directory.path) (\(wanted.id))"
                + (known.isEmpty ? "" : "; it has: \(known)") + ". Index with this model first.")
        }
        return record
    }

    /// The search index of `model`'s embeddings, of `kind`, cached beside the catalog.
    public func search(model: ModelRecord, kind: IndexKind) throws -> CatalogSearch {
        try CatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: files.indexCacheDirectory)
    }

    /// A search index that follows the catalog as it changes (the daemon's), cached beside it.
    public func liveSearch(model: ModelRecord, kind: IndexKind) throws -> LiveCatalogSearch {
        try LiveCatalogSearch(catalog: catalog, model: model, kind: kind, cacheDirectory: files.indexCacheDirectory)
    }

    /// An index pass with `model` (its image side loaded), `batchSize` images per forward
    /// pass; the model is registered in the catalog first.
    public func indexRun(model: Blip2Model, batchSize: Int) throws -> IndexRun {
        let record = try ModelRecord(model: model)
        if try catalog.model(id: record.id) == nil, let other = try otherPrecision(of: record),
           try catalog.imageCount(modelId: other.id) > 0 {
            throw LibraryError(.modelNotIndexed, "\(catalog.path) holds embeddings of \(model.snapshot.directory.path) made with "
                + "--precision \(other.precisionClass); \(model.precision) vectors are kept apart from them, so every photo would be "
                + "embedded again. Index with --precision \(other.precisionClass) to add to them, or into another catalog (--db)")
        }
        try catalog.write { try $0.register(record) }
        return IndexRun(catalog: catalog, model: model, modelRecord: record, batchSize: batchSize)
    }

    /// The catalog's record of the same snapshot in the other precision class, if any.
    private func otherPrecision(of record: ModelRecord) throws -> ModelRecord? {
        try catalog.models().first { $0.id != record.id && $0.snapshotIdentity == record.snapshotIdentity }
    }

    /// What the catalog holds: files per state, models, captions, cached indexes, failures.
    public func status(recentFailures: Int = 20) throws -> LibraryStatus {
        let status = try catalog.status(recentFailures: recentFailures)
        return LibraryStatus(
            catalog: status,
            schemaVersion: try catalog.appliedMigrations().count,
            captionsByModel: try catalog.captionCounts(),
            cachedIndexes: files.cachedIndexes(),
            metadata: try catalog.metadataSummary())
    }
}

/// A catalog's contents as `imgsearch status` and `GET /api/status` report them.
public struct LibraryStatus: Sendable {
    public let catalog: CatalogStatus
    /// Migrations applied.
    public let schemaVersion: Int
    /// Photos captioned, per captioning model.
    public let captionsByModel: [String: Int]
    public let cachedIndexes: [CachedIndex]
    /// The photos' date range and cameras.
    public let metadata: MetadataSummary

    /// Files per state (pending, indexed, failed), every state named, offline files left out.
    public var filesByState: [String: Int] {
        FileState.namedCounts(catalog.filesByState)
    }

    /// Files kept while their drive is away, over all roots.
    public var offlineFiles: Int { catalog.offlineFilesByRoot.values.reduce(0, +) }
}

extension ModelRecord {
    /// How the catalog records `model`: its identity (config, weights, precision class),
    /// where it was loaded from, and the shape of its image embeddings.
    public init(model: Blip2Model) throws {
        self.init(id: Self.id(snapshotIdentity: try ModelIdentity(snapshot: model.snapshot).id, precision: model.precision),
                  description: model.snapshot.directory.path,
                  queryCount: model.config.queryTokenCount, dimension: model.config.embeddingDimension)
    }

    /// The id embeddings of a snapshot get at a precision. fp32, bf16 and fp16 agree to a
    /// cosine of 0.9999 and share the snapshot's id; int8's differ by ~1 % and carry
    /// "-int8", so the two are never searched together or mixed in one index.
    public static func id(snapshotIdentity: String, precision: String) -> String {
        precision == Precision.int8.rawValue ? snapshotIdentity + Self.int8Suffix : snapshotIdentity
    }

    private static let int8Suffix = "-int8"

    /// The snapshot's identity, without the precision class.
    var snapshotIdentity: String { id.hasSuffix(Self.int8Suffix) ? String(id.dropLast(Self.int8Suffix.count)) : id }

    /// "int8", or "fp32" for the floating-point precisions that share an id.
    public var precisionClass: String { id.hasSuffix(Self.int8Suffix) ? "int8" : "fp32" }
}
