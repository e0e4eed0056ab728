import Foundation
import PostgresNIO

/// A PostgreSQL server and database, from a `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` URL.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String
    public let password: String?
    public let database: String

    /// Parses `url`; the error says what is missing or wrong in it.
    public init(_ url: String) throws(PostgresStoreError) {
        guard let components = URLComponents(string: url),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw PostgresStoreError(store: Self.redacted(url), "not a PostgreSQL URL: expected postgres://USER@HOST:PORT/DATABASE")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresStoreError(store: Self.redacted(url), "the URL names no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresStoreError(store: Self.redacted(url), "the URL names no user (postgres://USER@HOST/DATABASE)")
        }
        for item in components.queryItems ?? [] where !(item.name == "sslmode" && item.value == "disable") {
            throw PostgresStoreError(store: Self.redacted(url),
                                     "unsupported URL parameter \(item.name)=\(item.value ?? ""): TLS is not supported yet (only sslmode=disable)")
        }
        self.host = host
        port = components.port ?? 5432
        self.user = user
        password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : path
    }

    init(host: String, port: Int, user: String, password: String?, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
    }

    /// The URL without its password: what messages show.
    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }

    /// `url` with any password replaced, for messages about a URL that may not parse.
    public static func redacted(_ url: String) -> String {
        url.replacingOccurrences(of: #"://([^:/@]*):[^@]*@"#, with: "://$1:***@", options: .regularExpression)
    }

    var configuration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: .disable)
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
