import Foundation

/// Why a query string or one of its values was refused; the server answers 400 with it.
struct RequestParameterError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A request's query string, decoded as browsers encode forms (`+` is a space, `%XX` are
/// UTF-8 bytes) and validated: malformed percent-escapes, bytes that are not UTF-8 and
/// control characters (other than tab and line breaks) are a 400, never a guess.
/// (Hummingbird's `queryParameters` keeps `+` and falls back to the raw text on invalid
/// UTF-8, hence this small parser.) Free of server types, so that `scripts/fuzz-query`
/// builds it alone.
struct RequestParameters {
    private var values: [String: [String]] = [:]

    init(query: String?) throws {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try Self.decode(parts[0]), value = try Self.decode(parts.count > 1 ? parts[1] : "")
            values[key, default: []].append(value)
        }
    }

    private static func decode(_ text: Substring) throws -> String {
        guard let decoded = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
            throw RequestParameterError(message: "the query string is not valid percent-encoded UTF-8")
        }
        if let control = decoded.unicodeScalars.first(where: { $0.properties.generalCategory == .control && !"\t\n\r".unicodeScalars.contains($0) }) {
            throw RequestParameterError(message: "the query string holds the control character U+\(String(format: "%04X", control.value))")
        }
        return decoded
    }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func string(_ name: String) -> String? { values[name]?.last }

    /// An integer in `range`, or `default` when absent.
    func integer(_ name: String, in range: ClosedRange<Int>, default value: Int) throws -> Int {
        guard let text = string(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw RequestParameterError(message: "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// One of `choices`, or `default` when absent.
    func choice(_ name: String, among choices: [String], default value: String) throws -> String {
        guard let text = string(name) else { return value }
        guard choices.contains(text) else {
            throw RequestParameterError(message: "\(name) must be \(choices.joined(separator: " or ")), not \(text)")
        }
        return text
    }

    /// A finite number in `range`, or nil when absent.
    func number(_ name: String, in range: ClosedRange<Float>) throws -> Float? {
        guard let text = string(name) else { return nil }
        guard let number = Float(text), number.isFinite, range.contains(number) else {
            throw RequestParameterError(message: "\(name) must be a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
