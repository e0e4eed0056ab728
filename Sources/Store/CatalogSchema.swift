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
        migrator.registerMigration("v2: identity, image changes, offline files, kept embeddings, roots") { db in
            // One row: a random id given at creation (a cache or a daemon names the catalog it
            // belongs to by it) and a counter that every change to the searchable images bumps.
            try db.execute(sql: """
                CREATE TABLE identity (
                  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                  id TEXT NOT NULL,
                  imageChanges INTEGER NOT NULL);
                INSERT INTO identity VALUES (1, lower(hex(randomblob(16))), 0);
                """)
            // A file whose root was missing or emptied (an unplugged drive) stays, offline.
            try db.alter(table: "file") { t in t.add(column: "offlineSince", .datetime) }
            // An embedding no file uses is kept for a grace period (a moved file may come back).
            try db.alter(table: "image") { t in t.add(column: "orphanedSince", .datetime) }
            try db.execute(sql: "CREATE INDEX image_orphaned ON image(orphanedSince) WHERE orphanedSince IS NOT NULL")
            try db.create(index: "file_on_root", on: "file", columns: ["root"])
            // The file system each root was on when last indexed: another one means the drive is
            // not mounted there now.
            try db.create(table: "root") { t in
                t.primaryKey("path", .text)
                t.column("device", .integer).notNull()
                t.column("indexedAt", .datetime).notNull()
            }
            // Triggers, so that every writer (this process or another) bumps the counter: images
            // added or removed, and files that start or stop showing an image.
            let bump = "BEGIN UPDATE identity SET imageChanges = imageChanges + 1; END"
            try db.execute(sql: """
                CREATE TRIGGER image_insert_bumps_changes AFTER INSERT ON image \(bump);
                CREATE TRIGGER image_delete_bumps_changes AFTER DELETE ON image \(bump);
                CREATE TRIGGER file_insert_bumps_changes AFTER INSERT ON file \(bump);
                CREATE TRIGGER file_delete_bumps_changes AFTER DELETE ON file \(bump);
                CREATE TRIGGER file_update_bumps_changes AFTER UPDATE OF state, contentHash, offlineSince ON file
                  WHEN OLD.state IS NOT NEW.state OR OLD.contentHash IS NOT NEW.contentHash
                    OR (OLD.offlineSince IS NULL) IS NOT (NEW.offlineSince IS NULL)
                  \(bump);
                """)
        }
        migrator.registerMigration("v3: captions and their full-text index") { db in
            // One caption per distinct content per captioning model, like embeddings: a moved
            // or copied photo keeps it, another caption model captions again.
            try db.execute(sql: """
                CREATE TABLE caption (
                  contentHash TEXT NOT NULL,
                  captionModelId TEXT NOT NULL,
                  text TEXT NOT NULL,
                  prompt TEXT NOT NULL,
                  captionedAt DATETIME NOT NULL,
                  PRIMARY KEY (contentHash, captionModelId));
                CREATE VIRTUAL TABLE caption_text USING fts5(text, content='caption', content_rowid='rowid',
                  tokenize='unicode61 remove_diacritics 2');
                CREATE TRIGGER caption_insert_indexes AFTER INSERT ON caption BEGIN
                  INSERT INTO caption_text(rowid, text) VALUES (new.rowid, new.text); END;
                CREATE TRIGGER caption_delete_unindexes AFTER DELETE ON caption BEGIN
                  INSERT INTO caption_text(caption_text, rowid, text) VALUES ('delete', old.rowid, old.text); END;
                CREATE TRIGGER caption_update_reindexes AFTER UPDATE OF text ON caption BEGIN
                  INSERT INTO caption_text(caption_text, rowid, text) VALUES ('delete', old.rowid, old.text);
                  INSERT INTO caption_text(rowid, text) VALUES (new.rowid, new.text); END;
                """)
        }
        migrator.registerMigration("v4: photo metadata") { db in
            // What each distinct content says about itself (EXIF date, camera, place; size,
            // format), read once while indexing; existing catalogs fill it on their next pass.
            // takenAt is local time as text, so filters compare it as written.
            try db.execute(sql: """
                CREATE TABLE metadata (
                  contentHash TEXT PRIMARY KEY,
                  format TEXT NOT NULL,
                  width INTEGER,
                  height INTEGER,
                  takenAt TEXT NOT NULL,
                  takenAtSource TEXT NOT NULL CHECK (takenAtSource IN ('exif', 'mtime')),
                  utcOffset TEXT,
                  cameraMake TEXT,
                  cameraModel TEXT,
                  latitude REAL,
                  longitude REAL);
                CREATE INDEX metadata_taken ON metadata(takenAt);
                """)
        }
        migrator.registerMigration("v5: perceptual signatures") { db in
            // PerceptualSignature.data of each content (empty: none); NULL until the next
            // pass reads it, without re-embedding.
            try db.execute(sql: "ALTER TABLE metadata ADD COLUMN signature BLOB")
        }
        return migrator
    }

    /// Identifiers of every migration this build knows, oldest first.
    static var knownVersions: [String] { migrator.migrations }
}
