import Foundation
import PostgresNIO

/// Where the store's query vectors live: `image_vector` is hash-partitioned by image id into
/// 1 + shards partitions; partition 0 is a table on the store's own server, partition i a
/// table `image_vector_i` on shard i, attached as a `postgres_fdw` foreign table (server
/// `imgsearch_shard_i`, with pushdown of pgvector's operators and asynchronous scans).
/// The layout is fixed when the store is created.
public struct PostgresShards: Sendable {
    /// Partition number and where it is; partition 0 (the store's server) is not listed.
    public let shards: [(number: Int, address: PostgresAddress)]

    /// Creates the partitions on a new store, inside its first migration's transaction.
    static func create(_ shards: [PostgresAddress], on session: PostgresSession) throws {
        let count = shards.count + 1
        try session.execute([
            "CREATE TABLE image_vector_0 PARTITION OF image_vector FOR VALUES WITH (MODULUS \(count), REMAINDER 0)",
            "ALTER TABLE image_vector_0 ADD PRIMARY KEY (image_id, k)",
        ], "cannot create the vectors' partition")
        guard !shards.isEmpty else { return }
        try session.execute(["CREATE EXTENSION IF NOT EXISTS postgres_fdw"], "cannot enable postgres_fdw for the shards")
        for (index, shard) in shards.enumerated() {
            let number = index + 1
            let remote = try PostgresSession.open(shard)
            defer { remote.close() }
            try remote.execute([
                "CREATE EXTENSION IF NOT EXISTS vector",
                """
                CREATE TABLE image_vector_\(number) (
                  image_id bigint NOT NULL,
                  model_key integer NOT NULL,
                  k smallint NOT NULL,
                  v vector NOT NULL,
                  PRIMARY KEY (image_id, k))
                """,
            ], "cannot create shard \(number)'s vectors table")
            var userOptions = "user \(literal(shard.user))"
            if let password = shard.password { userOptions += ", password \(literal(password))" }
            try session.execute([
                """
                CREATE SERVER imgsearch_shard_\(number) FOREIGN DATA WRAPPER postgres_fdw OPTIONS (
                  host \(literal(shard.host)), port \(literal(String(shard.port))), dbname \(literal(shard.database)),
                  sslmode \(literal(shard.tls.rawValue)),\(shard.rootCertificates.map { " sslrootcert \(literal($0))," } ?? "")
                  extensions 'vector', async_capable 'true', fetch_size '10000', batch_size '1000')
                """,
                "CREATE USER MAPPING FOR CURRENT_USER SERVER imgsearch_shard_\(number) OPTIONS (\(userOptions))",
                """
                CREATE FOREIGN TABLE image_vector_\(number) PARTITION OF image_vector
                  FOR VALUES WITH (MODULUS \(count), REMAINDER \(number))
                  SERVER imgsearch_shard_\(number) OPTIONS (table_name 'image_vector_\(number)')
                """,
            ], "cannot attach shard \(number) (\(shard))")
            try session.query("INSERT INTO shard (number, url) VALUES (\(number), \(shard.description))", "cannot record shard \(number)")
        }
    }

    /// The layout of an existing store, with each shard's password from the store's user
    /// mapping (the URLs it records carry none).
    static func read(on session: PostgresSession) throws -> PostgresShards {
        let rows = try session.query("""
            SELECT s.number, s.url, (SELECT option_value FROM pg_options_to_table(m.umoptions) WHERE option_name = 'password')
            FROM shard s LEFT JOIN pg_user_mappings m
              ON m.srvname = 'imgsearch_shard_' || s.number AND m.usename = CURRENT_USER
            ORDER BY s.number
            """, "cannot read the shards")
        return PostgresShards(shards: try rows.map { row in
            let (number, url, password) = try row.decode((Int, String, String?).self)
            let address = try PostgresAddress(url)
            return (number, password.map { PostgresAddress(address, password: $0) } ?? address)
        })
    }

    /// Fails unless `shards` are the store's shards, in order.
    static func check(_ shards: [PostgresAddress], on session: PostgresSession) throws {
        let recorded = try read(on: session).shards.map(\.address.description)
        guard recorded == shards.map(\.description) else {
            throw PostgresStoreError(store: session.server,
                                     "the store's vectors are laid out over shards [\(recorded.joined(separator: ", "))], "
                                         + "not [\(shards.map(\.description).joined(separator: ", "))]: the layout is fixed when the store is made")
        }
    }

    /// `text` with each foreign server it names ("imgsearch_shard_2") followed by the shard's
    /// number and URL: "imgsearch_shard_2 (shard 2, postgres://…)".
    func naming(_ text: String) -> String {
        shards.reduce(text) { text, shard in
            text.replacingOccurrences(of: "\"imgsearch_shard_\(shard.number)\"",
                                      with: "imgsearch_shard_\(shard.number) (shard \(shard.number), \(shard.address))")
        }
    }

    /// `text` as an SQL string literal.
    static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}

