import Foundation
import PostgresNIO
import Store

/// The right to embed (or caption) some contents in a store that several indexing processes
/// share: a transaction holding row locks (`FOR UPDATE`) on their `embedding_claim` rows,
/// committed with their embeddings (or captions). Another process skips locked rows (`SKIP LOCKED`), or waits for
/// them; when this process dies, its server connection closes, the transaction rolls back,
/// and the rows are free again: nothing committed is lost and nothing is embedded twice.
/// Rows are locked in hash order, so two processes waiting for each other's rows cannot
/// deadlock.
final class PostgresClaim: ContentClaim {
    let claimed: Set<String>
    let heldElsewhere: Set<String>
    private let catalog: PostgresCatalog
    /// The claim rows' `model_id`: the model's id, or "caption:" and the captioning model's.
    private let claimKey: String
    private let locked: [String]
    private var session: PostgresSession?

    /// Claims `hashes` under `claimKey`; `done` reads which of them have their embedding (or
    /// caption) already.
    init(catalog: PostgresCatalog, hashes: [String], claimKey: String, waiting: Bool,
         done: (PostgresSession, [String]) throws -> Set<String>) throws {
        self.catalog = catalog
        self.claimKey = claimKey
        let session = try catalog.sessions.take()
        do {
            // In hash order, as every lock here: two processes inserting the same rows at once
            // would otherwise each wait for the other's uncommitted rows.
            let requested = Set(hashes).sorted()
            try session.query("""
                INSERT INTO embedding_claim (content_hash, model_id)
                SELECT h, \(claimKey) FROM unnest(\(requested)::text[]) AS h ORDER BY h
                ON CONFLICT DO NOTHING
                """, "cannot claim contents to embed")
            try session.query("BEGIN", "cannot claim contents to embed")
            locked = try session.query("""
                SELECT content_hash FROM embedding_claim WHERE model_id = \(claimKey) AND content_hash = ANY(\(requested))
                ORDER BY content_hash FOR UPDATE \(unescaped: waiting ? "" : "SKIP LOCKED")
                """, "cannot claim contents to embed").map { try $0.decode(String.self) }
            // Read after the locks: a process that held one has committed its work by now.
            let embedded = try done(session, requested)
            if waiting {
                claimed = Set(requested).subtracting(embedded)
                heldElsewhere = []
            } else {
                claimed = Set(locked).subtracting(embedded)
                heldElsewhere = Set(requested).subtracting(locked).subtracting(embedded)
            }
        } catch {
            session.close()
            throw error
        }
        self.session = session
    }

    func commit<T>(_ body: (any CatalogUpdates) throws -> T) throws -> T {
        guard let session else {
            throw PostgresStoreError(store: catalog.location, "an embedding claim was committed twice")
        }
        self.session = nil
        do {
            let result = try body(PostgresUpdates(catalog: catalog, session: session))
            try session.query("DELETE FROM embedding_claim WHERE model_id = \(claimKey) AND content_hash = ANY(\(locked))",
                              "cannot release claimed contents")
            try session.query("COMMIT", "cannot commit the claimed work")
            catalog.sessions.giveBack(session)
            return result
        } catch {
            session.close()
            throw error
        }
    }

    deinit {
        guard let session else { return }
        if (try? session.query("ROLLBACK", "cannot release claimed contents")) != nil {
            catalog.sessions.giveBack(session)
        } else {
            session.close()
        }
    }
}
