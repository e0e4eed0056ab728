import Foundation
import GRDB

/// The writes of one catalog transaction (see `Catalog.write`), in the domain's terms.
public struct CatalogTransaction {
    let db: Database

    /// Records a model the first time it is used; later calls leave the record as it is.
    public func register(_ model: ModelRecord) throws {
        try model.insert(db, onConflict: .ignore)
    }

    /// Inserts or updates the file with this path; returns it with its id.
    @discardableResult
    public func upsert(_ file: CatalogFile) throws -> CatalogFile {
        var file = file
        if let existing = try CatalogFile.filter(Column("path") == file.path).fetchOne(db) {
            file.id = existing.id
            try file.update(db)
        } else {
            try file.insert(db)
        }
        return file
    }

    /// The embedding of `contentHash` by `modelId`: the existing one, or this new one.
    /// Identical contents are embedded once.
    @discardableResult
    public func storeImage(_ image: StoredImage) throws -> StoredImage {
        if let existing = try existingImage(contentHash: image.contentHash, modelId: image.modelId) {
            return existing
        }
        var image = image
        try image.insert(db)
        return image
    }

    public func existingImage(contentHash: String, modelId: String) throws -> StoredImage? {
        try StoredImage.filter(Column("contentHash") == contentHash && Column("modelId") == modelId).fetchOne(db)
    }

    /// Removes files by path; returns how many existed.
    @discardableResult
    public func removeFiles(paths: [String]) throws -> Int {
        try CatalogFile.filter(paths.contains(Column("path"))).deleteAll(db)
    }

    /// Deletes images no indexed or pending file refers to any more; returns their ids, for
    /// the vector index to drop.
    @discardableResult
    public func removeOrphanImages() throws -> [Int64] {
        let orphans = try Int64.fetchAll(db, sql: """
            SELECT id FROM image WHERE NOT EXISTS
              (SELECT 1 FROM file WHERE file.contentHash = image.contentHash AND file.state != 'failed')
            """)
        try StoredImage.deleteAll(db, keys: orphans)
        return orphans
    }
}
