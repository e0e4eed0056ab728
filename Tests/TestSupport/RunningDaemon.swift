import Foundation

/// `imgsearch daemon` as a real child process on a temporary folder, listening on a free
/// loopback port, with its status file read back for the tests.
public final class RunningDaemon {
    public struct Counters: Decodable, Sendable {
        public let passes: Int
        public let embedded: Int
        public let reused: Int
        public let removed: Int
        public let failed: Int
        public let serverURL: String?
    }

    public struct Timeout: Error, CustomStringConvertible {
        public let description: String
    }

    public let process = Process()
    public let statusPath: String
    public let database: String

    /// `model`: a fixture model's name, or a snapshot's path. `store`: a PostgreSQL store's
    /// URL to keep instead of a SQLite catalog in `directory`.
    public init(folder: URL, directory: URL, model: String = "tiny-a", store: String? = nil, arguments: [String] = [],
                environment: [String: String] = [:]) throws {
        database = directory.appendingPathComponent("catalog.sqlite").path
        statusPath = directory.appendingPathComponent("catalog.sqlite.daemon.json").path
        process.executableURL = CommandRunner.productsDirectory.appendingPathComponent("imgsearch")
        let modelPath = model.hasPrefix("/") ? model : Fixtures.model(model).path
        process.arguments = ["daemon"] + (store.map { ["--store", $0] } ?? ["--db", database]) + ["--model", modelPath, "--device", "cpu",
                             "--listen", "127.0.0.1:0", "--status-file", statusPath, folder.path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    public var counters: Counters? {
        (try? Data(contentsOf: URL(fileURLWithPath: statusPath))).flatMap { try? JSONDecoder().decode(Counters.self, from: $0) }
    }

    /// Waits (up to `seconds`) until the counters satisfy `condition`.
    @discardableResult
    public func waitFor(_ what: String, seconds: Double = 15, _ condition: (Counters) -> Bool) throws -> Counters {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let counters, condition(counters) { return counters }
            guard process.isRunning else { throw Timeout(description: "the daemon exited while waiting for \(what)") }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw Timeout(description: "timed out waiting for \(what); counters: \(String(describing: counters))")
    }

    /// A GET of `target` from the daemon's API.
    public func get(_ target: String) throws -> RawHTTP.Reply {
        let (host, port) = try server()
        return try RawHTTP.get(host: host, port: port, target: target)
    }

    /// The API's host and port, once the daemon has written them.
    public func server() throws -> (host: String, port: UInt16) {
        let counters = try waitFor("the HTTP server") { $0.serverURL != nil }
        guard let url = counters.serverURL.flatMap(URLComponents.init(string:)), let host = url.host,
              let port = url.port else { throw Timeout(description: "unreadable server URL \(String(describing: counters.serverURL))") }
        return (host, UInt16(port))
    }
}
