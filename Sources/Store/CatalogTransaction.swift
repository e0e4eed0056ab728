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

    /// Images no indexed or pending file refers to any more are kept for `grace` seconds
    /// (marked orphaned, and not searched), so that a file moved away and back is not
    /// embedded again; an orphan whose content is back is unmarked. Deletes the orphans
    /// older than `grace` and returns their ids. A grace of 0 deletes every orphan now.
    @discardableResult
    public func removeOrphanImages(keepingFor grace: TimeInterval = 0, now: Date = Date()) throws -> [Int64] {
        let used = "EXISTS (SELECT 1 FROM file WHERE file.contentHash = image.contentHash AND file.state != 'failed')"
        try db.execute(sql: "UPDATE image SET orphanedSince = NULL WHERE orphanedSince IS NOT NULL AND \(used)")
        try db.execute(sql: "UPDATE image SET orphanedSince = ? WHERE orphanedSince IS NULL AND NOT \(used)",
                       arguments: [now])
        return try removeExpiredOrphanImages(keptFor: grace, now: now)
    }

    /// Deletes the orphans (see `removeOrphanImages`) marked more than `grace` seconds ago,
    /// without looking for new ones; returns their ids.
    @discardableResult
    public func removeExpiredOrphanImages(keptFor grace: TimeInterval, now: Date = Date()) throws -> [Int64] {
        let expired = try Int64.fetchAll(db, sql: "SELECT id FROM image WHERE orphanedSince <= ?",
                                         arguments: [now.addingTimeInterval(-grace)])
        guard !expired.isEmpty else { return expired }
        let hashes = try String.fetchAll(db, sql: "SELECT DISTINCT contentHash FROM image WHERE orphanedSince <= ?",
                                         arguments: [now.addingTimeInterval(-grace)])
        try StoredImage.deleteAll(db, keys: expired)
        // Their captions and metadata go with them once no file holds the content and no
        // model keeps it.
        for table in ["caption", "metadata"] {
            for slice in hashes.parameterBatches {
                try db.execute(sql: """
                    DELETE FROM \(table) WHERE contentHash IN (\(databaseQuestionMarks(count: slice.count)))
                      AND NOT EXISTS (SELECT 1 FROM file WHERE file.contentHash = \(table).contentHash)
                      AND NOT EXISTS (SELECT 1 FROM image WHERE image.contentHash = \(table).contentHash)
                    """, arguments: StatementArguments(slice))
            }
        }
        return expired
    }

    /// Marks every file under `root` (recorded with that root) offline; returns how many
    /// were not already.
    @discardableResult
    public func markOffline(root: String, now: Date = Date()) throws -> Int {
        try db.execute(sql: "UPDATE file SET offlineSince = ? WHERE root = ? AND offlineSince IS NULL",
                       arguments: [now, root])
        return db.changesCount
    }

    /// Marks these files offline (their root is on another file system than when they were
    /// indexed, so their absence proves nothing); returns how many were not already.
    @discardableResult
    public func markOffline(paths: [String], now: Date = Date()) throws -> Int {
        try setOfflineSince(now, paths: paths)
    }

    /// Brings offline files back (found again, unchanged); returns how many.
    @discardableResult
    public func markOnline(paths: [String]) throws -> Int {
        try setOfflineSince(nil, paths: paths)
    }

    /// Sets `offlineSince` of the listed files that are not in that state yet; returns how many.
    private func setOfflineSince(_ date: Date?, paths: [String]) throws -> Int {
        var changed = 0
        for slice in paths.parameterBatches {
            try db.execute(sql: """
                UPDATE file SET offlineSince = ? WHERE (offlineSince IS NULL) = ?
                AND path IN (\(databaseQuestionMarks(count: slice.count)))
                """, arguments: [date, date != nil] + StatementArguments(slice))
            changed += db.changesCount
        }
        return changed
    }

    /// Forgets offline files (all, or those under `folder`); returns how many.
    @discardableResult
    public func removeOfflineFiles(under folder: String? = nil) throws -> Int {
        if let folder {
            let prefix = folder.hasSuffix("/") ? folder : folder + "/"
            try db.execute(sql: "DELETE FROM file WHERE offlineSince IS NOT NULL AND substr(path, 1, ?) = ?",
                           arguments: [prefix.unicodeScalars.count, prefix])
        } else {
            try db.execute(sql: "DELETE FROM file WHERE offlineSince IS NOT NULL")
        }
        return db.changesCount
    }

    /// Records the file system `root` is on now.
    public func recordRoot(_ root: IndexedRoot) throws {
        try root.save(db)
    }
}
