import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Refuses requests that name a host this daemon is not (421): a web page on another site
/// can point its own name at 127.0.0.1 (DNS rebinding) and read the API from the user's
/// browser, but its requests still carry its name. Accepted: the listen address,
/// `localhost`, any IP literal (a rebinding needs a name), and the `allowed_hosts` of the
/// config file. A request that changes state (not GET or HEAD) sent by a browser from
/// another origin is refused too (403): its `Origin` must name the same host and port.
struct HostCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    private let allowedNames: Set<String>

    init(listenHost: String, allowedHosts: [String]) {
        allowedNames = Set((["localhost", listenHost] + allowedHosts).map(Self.normalized))
    }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authority = request.head.authority, !authority.isEmpty else {
            throw APIError(.badRequest, "the request has no Host header")
        }
        let name = Self.hostName(ofAuthority: authority)
        guard isAllowed(name) else {
            throw APIError(.misdirectedRequest, "this daemon does not answer to the host name \"\(name)\"; "
                + "if that name is yours, add it to allowed_hosts in the config file")
        }
        if request.method != .get && request.method != .head, let origin = request.headers[.origin] {
            guard let url = URLComponents(string: origin), url.scheme == "http", let originHost = url.host,
                  isAllowed(Self.normalized(originHost)),
                  Self.normalized(Self.authority(host: originHost, port: url.port)) == Self.normalized(authority) else {
                throw APIError(.forbidden, "cross-origin \(request.method) from \(origin) refused")
            }
        }
        return try await next(request, context)
    }

    private func isAllowed(_ name: String) -> Bool {
        allowedNames.contains(name) || Self.isIPLiteral(name)
    }

    /// The host of `host[:port]` or `[v6]:port`, lower-cased, without a trailing dot.
    static func hostName(ofAuthority authority: String) -> String {
        var host = Substring(authority)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        return normalized(String(host))
    }

    private static func normalized(_ name: String) -> String {
        var name = name.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        while name.hasSuffix(".") { name.removeLast() }
        return name
    }

    private static func authority(host: String, port: Int?) -> String {
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return port.map { "\(bracketed):\($0)" } ?? bracketed
    }

    private static func isIPLiteral(_ name: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }
}

/// Request heads the router should not read: a URL over 8 KiB is a 414, header fields over
/// 32 KiB in all a 431, each with the JSON error body. (Past 80 KiB, NIO's parser stops
/// reading; `OversizedRequestHandler` answers those.)
struct RequestSizeMiddleware<Context: RequestContext>: RouterMiddleware {
    static var maxURLBytes: Int { 8 * 1024 }
    static var maxHeaderBytes: Int { 32 * 1024 }

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.description.utf8.count <= Self.maxURLBytes else {
            throw APIError(.uriTooLong, "the URL is longer than \(Self.maxURLBytes) bytes")
        }
        let headerBytes = request.headers.reduce(0) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count + 4 }
        guard headerBytes <= Self.maxHeaderBytes else {
            throw APIError(.requestHeaderFieldsTooLarge, "the request's header fields exceed \(Self.maxHeaderBytes) bytes")
        }
        return try await next(request, context)
    }
}

/// Answers a request head too large for NIO's HTTP parser (over 80 KiB of URL and header
/// fields) with a 431 and the JSON error body, then closes the connection; without it the
/// client would get an empty 400.
final class OversizedRequestHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundOut = HTTPResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError, parserError == .headerOverflow else {
            context.fireErrorCaught(error)
            return
        }
        let body = ByteBuffer(string: #"{"error":{"message":"the request's URL and header fields exceed 80 KiB"}}"#)
        let head = HTTPResponse(status: .requestHeaderFieldsTooLarge,
                                headerFields: [.contentType: "application/json; charset=utf-8",
                                               .contentLength: String(body.readableBytes), .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}
