import Foundation
import PostgresNIO

/// A PostgreSQL server and database, from a `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` URL,
/// with libpq's `sslmode` and `sslrootcert` parameters.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String
    public private(set) var password: String?
    public let database: String
    public let tls: TLSMode
    /// The certificate authorities (a PEM file) that verify-ca and verify-full trust; nil:
    /// the system's.
    public let rootCertificates: String?

    /// How the connection is encrypted and the server checked, as libpq's `sslmode`.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Never encrypted.
        case disable
        /// Encrypted when the server offers it, the server not checked (libpq's default).
        case prefer
        /// Always encrypted, the server not checked.
        case require
        /// Always encrypted, the server's certificate signed by a trusted authority.
        case verifyCA = "verify-ca"
        /// As verify-ca, and the certificate names the host.
        case verifyFull = "verify-full"
    }

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
        var tls = TLSMode.prefer, rootCertificates: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw PostgresStoreError(store: Self.redacted(url), "sslmode=\(item.value ?? ""): expected one of "
                                                 + TLSMode.allCases.map(\.rawValue).joined(separator: ", "))
                }
                tls = mode
            case "sslrootcert":
                rootCertificates = item.value
            default:
                throw PostgresStoreError(store: Self.redacted(url), "unsupported URL parameter \(item.name)=\(item.value ?? ""): "
                                             + "only sslmode and sslrootcert are read")
            }
        }
        if rootCertificates != nil && ![.verifyCA, .verifyFull].contains(tls) {
            throw PostgresStoreError(store: Self.redacted(url), "sslrootcert is read with sslmode=verify-ca or verify-full")
        }
        self.tls = tls
        self.rootCertificates = rootCertificates
        self.host = host
        port = components.port ?? 5432
        self.user = user
        password = components.password
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : path
    }

    /// `address` with `password` (a shard's, from the store's user mapping).
    init(_ address: PostgresAddress, password: String?) {
        self = address
        self.password = password
    }

    /// The URL without its password: what messages show (and the shard table records).
    public var description: String {
        var parameters: [String] = []
        if tls != .prefer { parameters.append("sslmode=\(tls.rawValue)") }
        if let rootCertificates { parameters.append("sslrootcert=\(rootCertificates)") }
        return "postgres://\(user)@\(host):\(port)/\(database)" + (parameters.isEmpty ? "" : "?" + parameters.joined(separator: "&"))
    }

    /// `url` with any password replaced, for messages about a URL that may not parse.
    public static func redacted(_ url: String) -> String {
        url.replacingOccurrences(of: #"://([^:/@]*):[^@]*@"#, with: "://$1:***@", options: .regularExpression)
    }

    /// How PostgresNIO connects; an unreadable `sslrootcert` is an error naming it.
    func configuration() throws(PostgresStoreError) -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password,
                                                             database: database, tls: try tlsSetting())
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }

    private func tlsSetting() throws(PostgresStoreError) -> PostgresConnection.Configuration.TLS {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable: return .disable
        case .prefer, .require: tlsConfiguration.certificateVerification = .none
        case .verifyCA: tlsConfiguration.certificateVerification = .noHostnameVerification
        case .verifyFull: tlsConfiguration.certificateVerification = .fullVerification
        }
        do {
            if let rootCertificates {
                tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(rootCertificates))
            }
            let context = try NIOSSLContext(configuration: tlsConfiguration)
            return tls == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw PostgresStoreError(store: description, "cannot set up TLS"
                                         + (rootCertificates.map { " with sslrootcert \($0)" } ?? "") + ": \(error)")
        }
    }
}
