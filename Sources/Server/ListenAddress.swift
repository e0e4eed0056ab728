/// Where the daemon listens: `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (loopback).
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// Why a listen address was refused.
    public struct Invalid: Error, CustomStringConvertible {
        public let text: String
        public var description: String { "listen address \"\(text)\" is not HOST:PORT (e.g. 127.0.0.1:7878)" }
    }

    public let host: String
    public let port: Int

    public init(_ text: String) throws(Invalid) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw Invalid(text: text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.contains(":") || text.hasPrefix("[") else { throw Invalid(text: text) }  // IPv6 needs brackets
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    /// Whether only this machine can connect.
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
