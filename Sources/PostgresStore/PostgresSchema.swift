import Foundation
import PostgresNIO

/// The store's tables, made and migrated under an advisory lock so that several processes
/// opening a new store at once create it once.
///
/// The catalog's tables (models, images, files, roots, captions, metadata) live on the
/// server the store's URL names. The query vectors, one row per vector, live in
/// `image_vector`, hash-partitioned by image id: partition 0 on that server, partition i on
/// shard i (a table `image_vector_i` there, reached through `postgres_fdw`).
enum PostgresSchema {
    /// Names of the migrations, oldest first; a store lists those applied in `imgsearch_migration`.
    static let migrations: [(name: String, statements: [String])] = [
        ("v1: catalog, vectors, claims", [
            "CREATE EXTENSION IF NOT EXISTS vector",
            """
            CREATE TABLE model (
              id text PRIMARY KEY,
              key integer GENERATED ALWAYS AS IDENTITY UNIQUE,
              description text NOT NULL,
              query_count integer NOT NULL,
              dimension integer NOT NULL,
              registered_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE image (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              content_hash text NOT NULL,
              model_id text NOT NULL REFERENCES model(id) ON DELETE CASCADE,
              embedded_at timestamptz NOT NULL,
              orphaned_since timestamptz,
              UNIQUE (content_hash, model_id))
            """,
            """
            CREATE TABLE image_vector (
              image_id bigint NOT NULL,
              model_key integer NOT NULL,
              k smallint NOT NULL,
              v vector NOT NULL) PARTITION BY HASH (image_id)
            """,
            """
            CREATE TABLE file (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              root text NOT NULL,
              path text NOT NULL UNIQUE,
              device bigint NOT NULL,
              inode bigint NOT NULL,
              size bigint NOT NULL,
              modified_nanoseconds bigint NOT NULL,
              content_hash text,
              state text NOT NULL CHECK (state IN ('pending', 'indexed', 'failed')),
              last_error text,
              updated_at timestamptz NOT NULL,
              offline_since timestamptz)
            """,
            "CREATE INDEX file_content_hash ON file (content_hash)",
            "CREATE INDEX file_root ON file (root)",
            "CREATE TABLE root (path text PRIMARY KEY, device bigint NOT NULL, indexed_at timestamptz NOT NULL)",
            """
            CREATE TABLE caption (
              content_hash text NOT NULL,
              caption_model_id text NOT NULL,
              text text NOT NULL,
              prompt text NOT NULL,
              captioned_at timestamptz NOT NULL,
              PRIMARY KEY (content_hash, caption_model_id))
            """,
            """
            CREATE TABLE metadata (
              content_hash text PRIMARY KEY,
              format text NOT NULL,
              width integer,
              height integer,
              taken_at text NOT NULL,
              taken_at_source text NOT NULL CHECK (taken_at_source IN ('exif', 'mtime')),
              utc_offset text,
              camera_make text,
              camera_model text,
              latitude double precision,
              longitude double precision,
              signature bytea)
            """,
            // A row per content being embedded, locked (FOR UPDATE) by the process embedding it.
            "CREATE TABLE embedding_claim (content_hash text NOT NULL, model_id text NOT NULL, PRIMARY KEY (content_hash, model_id))",
            // Partition 0 is this server; shard i is the postgres_fdw server imgsearch_shard_i.
            "CREATE TABLE shard (number integer PRIMARY KEY, url text NOT NULL)",
        ]),
        ("v2: caption words", [
            // A caption's words as keyword searches match them (`KeywordWords`: case and
            // diacritics folded by imgsearch, so the server needs no unaccent extension).
            // No earlier build stored captions in a store: the default fills no row.
            "ALTER TABLE caption ADD COLUMN words text NOT NULL DEFAULT ''",
            "ALTER TABLE caption ALTER COLUMN words DROP DEFAULT",
            "CREATE INDEX caption_words ON caption USING gin (to_tsvector('simple', words))",
        ]),
    ]

    /// Lock id of the schema's advisory lock ("imgsearch" in ASCII).
    static let lockID: Int64 = 0x696D_6773_6561_7263

    /// Brings the store's schema up to date; when the store is new, makes it if `create`
    /// (laying its vectors out over `shards`, ignored otherwise) and fails otherwise. Fails
    /// when the server's schema is newer than this build's.
    static func migrate(_ sessions: PostgresSessions, shards: [PostgresAddress], create: Bool) throws {
        try sessions.with { session in
            try session.query("SELECT pg_advisory_lock(\(lockID))", "cannot lock the schema")
            defer { _ = try? session.query("SELECT pg_advisory_unlock(\(lockID))", "cannot unlock the schema") }
            let exists = try session.query("SELECT to_regclass('imgsearch_migration') IS NOT NULL", "cannot read the schema")
                .first!.decode(Bool.self)
            guard exists || create else {
                throw PostgresStoreError(store: session.server, "no imgsearch store in this database: "
                                             + "`imgsearch index --store URL FOLDER` makes one (check the database name)")
            }
            try session.query("CREATE TABLE IF NOT EXISTS imgsearch_migration (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                              "cannot create the migrations table")
            let applied = Set(try session.query("SELECT name FROM imgsearch_migration", "cannot read the migrations")
                .map { try $0.decode(String.self) })
            let known = Set(migrations.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw PostgresStoreError(store: session.server,
                                         "the store was made by a newer imgsearch (migration \"\(unknown)\"); upgrade imgsearch")
            }
            let isNew = applied.isEmpty
            for migration in migrations where !applied.contains(migration.name) {
                try session.query("BEGIN", "cannot migrate")
                try session.execute(migration.statements, "cannot apply migration \"\(migration.name)\"")
                if isNew && migration.name == migrations[0].name {
                    try PostgresShards.create(shards, on: session)
                }
                try session.query("INSERT INTO imgsearch_migration (name) VALUES (\(migration.name))", "cannot record a migration")
                try session.query("COMMIT", "cannot migrate")
            }
            if !isNew && !shards.isEmpty {
                try PostgresShards.check(shards, on: session)
            }
        }
    }
}
