import Foundation

/// The PostgreSQL servers that `scripts/test` starts (`scripts/postgres`) for the tests of
/// the PostgreSQL store: each test makes its own database on them and drops it after.
public enum TestPostgres {
    public struct Missing: Error, CustomStringConvertible {
        public let variable: String
        public var description: String {
            "\(variable) is not set: run the tests through scripts/test, or start servers with "
                + "`scripts/postgres start DIR` and `eval \"$(scripts/postgres env DIR)\"`"
        }
    }

    /// The first server's URL (`IMGSEARCH_TEST_POSTGRES`).
    public static func server() throws -> String { try variable("IMGSEARCH_TEST_POSTGRES") }

    /// The second server's URL (`IMGSEARCH_TEST_POSTGRES_SHARD`).
    public static func shardServer() throws -> String { try variable("IMGSEARCH_TEST_POSTGRES_SHARD") }

    /// The first server behind a TLS front (`IMGSEARCH_TEST_POSTGRES_TLS`): the servers
    /// are built without SSL.
    public static func tlsFront() throws -> String { try variable("IMGSEARCH_TEST_POSTGRES_TLS") }

    /// The authority that signed the TLS front's certificate (`IMGSEARCH_TEST_POSTGRES_CA`).
    public static func certificateAuthority() throws -> String { try variable("IMGSEARCH_TEST_POSTGRES_CA") }

    /// An authority that signed none of them (`IMGSEARCH_TEST_POSTGRES_OTHER_CA`).
    public static func otherCertificateAuthority() throws -> String { try variable("IMGSEARCH_TEST_POSTGRES_OTHER_CA") }

    private static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { throw Missing(variable: name) }
        return value
    }

    /// A new, empty database on the server at `serverURL`; returns its URL.
    public static func createDatabase(on serverURL: String) throws -> String {
        let name = "imgsearch_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try sql("CREATE DATABASE \(name)", on: serverURL)
        return replacingDatabase(of: serverURL, with: String(name))
    }

    /// Drops the database at `url` (closing its connections).
    public static func dropDatabase(_ url: String) {
        guard let name = URLComponents(string: url)?.path.dropFirst(), !name.isEmpty else { return }
        try? sql("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", on: replacingDatabase(of: url, with: "postgres"))
    }

    /// Runs `statement` with psql; fails with psql's message.
    @discardableResult
    public static func sql(_ statement: String, on url: String) throws -> String {
        let psql = URL(fileURLWithPath: try variable("IMGSEARCH_TEST_POSTGRES_BIN")).appendingPathComponent("psql").path
        let outcome = try CommandRunner.run([psql, url, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement])
        guard outcome.status == 0 else {
            throw NSError(domain: "psql", code: Int(outcome.status),
                          userInfo: [NSLocalizedDescriptionKey: "psql \(statement): \(outcome.standardError)"])
        }
        return outcome.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func replacingDatabase(of url: String, with database: String) -> String {
        var components = URLComponents(string: url)!
        components.path = "/" + database
        return components.string!
    }
}
