// libFuzzer target for the daemon's query-string parser (Sources/Server/RequestParameters.swift):
// any bytes, as Hummingbird hands over a request's query, -> RequestParameters. Built and run
// by scripts/fuzz-query (swiftc -sanitize=fuzzer,address).
//
// Besides crashes it checks the contract: a refusal has a non-empty one-line message; a
// parse keeps no control character but tab and line breaks; re-encoding the values of q and
// not and parsing them again gives the same values; an integer or number read in a range
// is in it (and finite), else refused.
import Foundation

func check(_ condition: Bool, _ what: String) {
    if !condition {
        FileHandle.standardError.write(Data("contract violated: \(what)\n".utf8))
        abort()
    }
}

/// Percent-encodes every byte but the unreserved ones, as a form would.
func formEncoded(_ text: String) -> String {
    var encoded = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            encoded.unicodeScalars.append(UnicodeScalar(byte))
        default:
            encoded += String(format: "%%%02X", byte)
        }
    }
    return encoded
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzQueryString(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let query = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let parameters: RequestParameters
    do {
        parameters = try RequestParameters(query: query)
    } catch let error as RequestParameterError {
        check(!error.message.isEmpty && !error.message.contains("\n"), "a refusal names its cause in one line")
        return 0
    } catch {
        check(false, "only RequestParameterError is thrown, not \(error)")
        return 0
    }
    let allowed: Set<Unicode.Scalar> = ["\t", "\n", "\r"]
    for name in ["q", "not", "limit", "min_score", "token"] {
        for value in parameters.all(name) {
            check(!value.unicodeScalars.contains { $0.properties.generalCategory == .control && !allowed.contains($0) },
                  "no control character in \(name)")
        }
    }
    let again = ["q", "not"].flatMap { name in parameters.all(name).map { "\(name)=\(formEncoded($0))" } }.joined(separator: "&")
    if let reparsed = try? RequestParameters(query: again) {
        check(reparsed.all("q") == parameters.all("q") && reparsed.all("not") == parameters.all("not"), "round trip")
    } else {
        check(false, "re-encoded values parse")
    }
    if let limit = try? parameters.integer("limit", in: 1...500, default: 20) { check((1...500).contains(limit), "limit in range") }
    if let score = try? parameters.number("min_score", in: -1...1) {
        check(score.isFinite && (-1...1).contains(score), "min_score finite and in range")
    }
    return 0
}
