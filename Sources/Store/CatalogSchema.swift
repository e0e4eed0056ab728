import GRDB

/// The catalog's migrations. Each is applied once, in order, inside a transaction, and
/// recorded by GRDB in `grdb_migrations`; the list's length is the schema version. Never
/// edit a shipped migration: append a new one.
enum CatalogSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: models, images, files") { db in
            try db.create(table: "model") { t in
                t.primaryKey("id", .text)                    // ModelIdentity digest
                t.column("description", .text).notNull()     // where it was loaded from
                t.column("queryCount", .integer).notNull()
                t.column("dimension", .integer).notNull()
                t.column("registeredAt", .datetime).notNull()
            }
            // One row per distinct content per model: identical copies share it, a moved file
            // keeps it. AUTOINCREMENT: ids are never reused, so a persisted vector index can
            // never attach an old vector to new content.
            try db.create(table: "image") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("contentHash", .text).notNull()
                t.belongsTo("model", onDelete: .cascade).notNull()
                t.column("vectors", .blob).notNull()          // queryCount × dimension float32, little-endian
                t.column("embeddedAt", .datetime).notNull()
                t.uniqueKey(["contentHash", "modelId"])
            }
            try db.create(table: "file") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("root", .text).notNull()
                t.column("path", .text).notNull().unique()
                t.column("device", .integer).notNull()
                t.column("inode", .integer).notNull()
                t.column("size", .integer).notNull()
                t.column("modifiedNanoseconds", .integer).notNull()
                t.column("contentHash", .text).indexed()
                t.column("state", .text).notNull()
                    .check(sql: "state IN ('pending', 'indexed', 'failed')")
                t.column("lastError", .text)
                t.column("updatedAt", .datetime).notNull()
            }
            try db.create(index: "file_on_device_inode", on: "file", columns: ["device", "inode"])
        }
        return migrator
    }

    /// Identifiers of every migration this build knows, oldest first.
    static var knownVersions: [String] { migrator.migrations }
}
