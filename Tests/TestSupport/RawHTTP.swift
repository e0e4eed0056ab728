import Foundation

/// HTTP/1.1 GETs over a plain socket, sending the request target byte for byte: URL
/// libraries normalise `..` and escape what they consider invalid, which is exactly what the
/// path-traversal tests must send.
public enum RawHTTP {
    public struct Reply: Sendable {
        public let status: Int
        public let headers: [String: String]
        public let body: Data

        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The `{"error":{"message":…}}` body's message, if the body is one.
        public var errorMessage: String? {
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                  let error = object["error"] as? [String: Any] else { return nil }
            return error["message"] as? String
        }

        /// The body decoded as `type` from JSON; any status but 200 is a failure naming the body.
        public func decoded<T: Decodable>(as type: T.Type) throws -> T {
            guard status == 200 else { throw Failure(description: "HTTP \(status): \(text)") }
            return try JSONDecoder().decode(type, from: body)
        }

        public func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw CocoaError(.propertyListReadCorrupt)
            }
            return object
        }
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public static func get(host: String, port: UInt16, target: String, headers: [String: String] = [:]) throws -> Reply {
        try request("GET", host: host, port: port, target: target, headers: headers)
    }

    /// Sends one request; a `Host` in `headers` replaces the one naming `host:port`.
    public static func request(_ method: String, host: String, port: UInt16, target: String,
                               headers: [String: String] = [:], body: Data = Data()) throws -> Reply {
        let socket = try connect(host: host, port: port)
        defer { close(socket) }
        var request = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.keys.contains(where: { $0.lowercased() == "host" }) { request += "Host: \(host):\(port)\r\n" }
        request += "Connection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if method != "GET" && method != "HEAD" { request += "Content-Length: \(body.count)\r\n" }
        request += "\r\n"
        try send(socket, Array(request.utf8) + Array(body))
        return try parse(receiveAll(socket))
    }

    /// A connected TCP socket to `host:port` (the caller closes it), with a 60 s read timeout.
    public static func connect(host: String, port: UInt16) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(socket)
            throw Failure(description: "connect to \(host):\(port): errno \(errno)")
        }
        return socket
    }

    public static func send(_ socket: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            sent += count
        }
    }

    /// Everything the server sends until it closes the connection.
    public static func receiveAll(_ socket: Int32) -> Data {
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response.append(contentsOf: buffer[0..<count])
        }
        return response
    }

    public static func parse(_ response: Data) throws -> Reply {
        guard let end = response.firstRange(of: Data("\r\n\r\n".utf8)) else {
            throw Failure(description: "no HTTP header in \(response.count) bytes")
        }
        let head = String(decoding: response[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(head[0])") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(response[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        return Reply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) throws -> Data {
        var output = Data()
        var rest = data[...]
        while let lineEnd = rest.firstRange(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else { throw Failure(description: "bad chunk size") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            output.append(rest[start..<start + size])
            rest = rest[(start + size + 2)...]
        }
        return output
    }
}
