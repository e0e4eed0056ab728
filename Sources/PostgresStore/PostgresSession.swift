import Foundation
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

/// One connection to a PostgreSQL server, used synchronously: the catalog's callers are
/// synchronous, and PostgresNIO's work runs on its own event loop threads, so waiting here
/// never starves them.
final class PostgresSession: Sendable {
    let connection: PostgresConnection
    /// The server's URL without password, for messages.
    let server: String

    private static let logger = Logger(label: "imgsearch.postgres") { _ in SwiftLogNoOpLogHandler() }
    private static let connectionIDs = Atomic<Int>(0)

    private init(connection: PostgresConnection, server: String) {
        self.connection = connection
        self.server = server
    }

    static func open(_ address: PostgresAddress) throws(PostgresStoreError) -> PostgresSession {
        let id = connectionIDs.add(1, ordering: .relaxed).newValue
        let configuration = try address.configuration()
        do {
            let connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id,
                logger: logger).wait()
            return PostgresSession(connection: connection, server: address.description)
        } catch {
            throw PostgresStoreError.explaining(error, store: address.description, doing: "cannot connect")
        }
    }

    /// Runs `query`; `what` says what it was for in the error.
    @discardableResult
    func query(_ query: PostgresQuery, _ what: String) throws(PostgresStoreError) -> PostgresQueryResult {
        do {
            return try connection.query(query, logger: Self.logger).wait()
        } catch {
            throw PostgresStoreError.explaining(error, store: server, doing: what)
        }
    }

    /// Runs statements without parameters, one after another.
    func execute(_ statements: [String], _ what: String) throws(PostgresStoreError) {
        for statement in statements { try query(PostgresQuery(unsafeSQL: statement), what) }
    }

    var isClosed: Bool { connection.isClosed }

    func close() {
        try? connection.close().wait()
    }
}

/// Connections to one server, opened when needed and kept for reuse: an index run reads
/// from several threads at once while a claim holds a transaction open on another.
final class PostgresSessions: Sendable {
    let address: PostgresAddress
    private let idle = Mutex<[PostgresSession]>([])

    init(address: PostgresAddress) {
        self.address = address
    }

    /// An idle connection, or a new one.
    func take() throws(PostgresStoreError) -> PostgresSession {
        while let session = idle.withLock({ $0.popLast() }) {
            if !session.isClosed { return session }
        }
        return try PostgresSession.open(address)
    }

    /// Returns a connection that is not inside a transaction.
    func giveBack(_ session: PostgresSession) {
        guard !session.isClosed else { return }
        idle.withLock { $0.append(session) }
    }

    /// Runs `body` on a connection; after an error the connection is closed, not reused.
    func with<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let session = try take()
        do {
            let result = try body(session)
            giveBack(session)
            return result
        } catch {
            session.close()
            throw error
        }
    }

    /// Runs `body` inside a transaction, committed when it returns, rolled back when it throws.
    func transaction<T>(_ what: String, _ body: (PostgresSession) throws -> T) throws -> T {
        try with { session in
            try session.query("BEGIN", what)
            let result = try body(session)
            try session.query("COMMIT", what)
            return result
        }
    }

    func closeAll() {
        for session in idle.withLock({ sessions in defer { sessions = [] }; return sessions }) { session.close() }
    }

    deinit {
        closeAll()
    }
}
