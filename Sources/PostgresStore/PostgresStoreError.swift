import Foundation
import PostgresNIO

/// Why the PostgreSQL store could not do something, in one line naming the server.
public struct PostgresStoreError: Error, CustomStringConvertible {
    /// The store's URL without password (or a shard's).
    public let store: String
    public let reason: String
    /// The SQLSTATE the server answered with, when it answered.
    public let sqlState: String?

    public init(store: String, _ reason: String, sqlState: String? = nil) {
        self.store = store
        self.reason = reason
        self.sqlState = sqlState
    }

    public var description: String { "\(store): \(reason)" }

    /// `error` (from PostgresNIO, or already ours) explained for the store at `store`.
    static func explaining(_ error: any Error, store: String, doing what: String) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        guard let error = error as? PSQLError else { return PostgresStoreError(store: store, "\(what): \(error)") }
        if let info = error.serverInfo, let message = info[.message] {
            let state = info[.sqlState]
            let hint = state.flatMap(Self.hints) ?? ""
            let detail = info[.detail].map { " (\($0))" } ?? ""
            return PostgresStoreError(store: store, "\(what): \(message)\(detail)\(hint)", sqlState: state)
        }
        switch error.code {
        case .connectionError:
            let cause = error.underlying.map { "\($0)" } ?? "no answer"
            return PostgresStoreError(store: store, "cannot connect: \(cause); is the server running and listening there?")
        case .sslUnsupported:
            return PostgresStoreError(store: store, "\(what): the server does not offer TLS, which the URL's sslmode requires "
                                          + "(turn ssl on in the server's postgresql.conf, or use sslmode=prefer or disable)")
        case .serverClosedConnection, .clientClosedConnection:
            return PostgresStoreError(store: store, "\(what): the connection closed (the server stopped or restarted)")
        default:
            let cause = error.underlying.map { ": \($0)" } ?? ""
            return PostgresStoreError(store: store, "\(what): \(error.code)\(cause)")
        }
    }

    /// What to do about some server answers.
    private static func hints(_ sqlState: String) -> String? {
        switch sqlState {
        case "28P01", "28000": "; check the user and password in the URL"
        case "3D000": "; create the database first (createdb)"
        case "0A000", "58P01": "; the server needs the pgvector extension (CREATE EXTENSION vector)"
        default: nil
        }
    }
}
