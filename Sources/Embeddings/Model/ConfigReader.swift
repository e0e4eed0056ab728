import Foundation

/// One JSON value, decoded without losing the difference between `true` and `1`.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }
}

/// Typed access to one object of `config.json`, with errors naming the dotted key.
struct ConfigReader {
    let path: String
    let prefix: String
    let values: [String: JSONValue]

    init(path: String, prefix: String, values: [String: JSONValue]) {
        self.path = path
        self.prefix = prefix
        self.values = values
    }

    /// Reads a BLIP-2 `config.json` (`model_type` "blip-2").
    init(contentsOf url: URL) throws(ModelError) {
        let path = url.path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .missingFile(path: path, reason: "missing or unreadable (is this a Hugging Face snapshot directory?)")
        }
        let root: [String: JSONValue]
        do {
            root = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch {
            throw .invalidConfig(path: path, key: nil, reason: "not a valid JSON object")
        }
        self.init(path: path, prefix: "", values: root)
        let modelType: String? = try value("model_type")
        guard modelType == "blip-2" else {
            throw .invalidConfig(path: path, key: "model_type",
                                 reason: "is \(modelType.map { "\"\($0)\"" } ?? "missing"), expected \"blip-2\" (a BLIP-2 snapshot)")
        }
    }

    func section(_ key: String) throws(ModelError) -> ConfigReader {
        switch values[key] {
        case nil, .null?:
            return ConfigReader(path: path, prefix: prefix + key + ".", values: [:])
        case .object(let object)?:
            return ConfigReader(path: path, prefix: prefix + key + ".", values: object)
        default:
            throw .invalidConfig(path: path, key: prefix + key, reason: "is not a JSON object")
        }
    }

    func value(_ key: String) throws(ModelError) -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let number)? where number == number.rounded() && abs(number) < 1e15: return Int(number)
        case let other?: throw mismatch(key, "an integer", other)
        }
    }

    func value(_ key: String) throws(ModelError) -> Double? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let number)?: return number
        case let other?: throw mismatch(key, "a number", other)
        }
    }

    func value(_ key: String) throws(ModelError) -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let flag)?: return flag
        case let other?: throw mismatch(key, "true or false", other)
        }
    }

    func value(_ key: String) throws(ModelError) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let text)?: return text
        case let other?: throw mismatch(key, "a string", other)
        }
    }

    /// The strings of a JSON array of strings, or nil when the key is absent.
    func strings(_ key: String) throws(ModelError) -> [String]? {
        switch values[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else { throw mismatch(key, "an array of strings", .array(items)) }
                strings.append(text)
            }
            return strings
        case let other?: throw mismatch(key, "an array of strings", other)
        }
    }

    /// Fails unless the key, when present, holds `expected` (an option the engine does not implement).
    func require(_ key: String, equals expected: String) throws(ModelError) {
        let found: String? = try value(key)
        if let found, found != expected {
            throw .invalidConfig(path: path, key: prefix + key,
                                 reason: "\"\(found)\" is not supported, only \"\(expected)\"")
        }
    }

    /// Fails unless the key, when present, holds `expected`.
    func require(_ key: String, equals expected: Bool) throws(ModelError) {
        let found: Bool? = try value(key)
        if let found, found != expected {
            throw .invalidConfig(path: path, key: prefix + key, reason: "\(found) is not supported, only \(expected)")
        }
    }

    /// An error about `key` of this object.
    func invalid(_ key: String, _ reason: String) -> ModelError {
        .invalidConfig(path: path, key: prefix + key, reason: reason)
    }

    private func mismatch(_ key: String, _ expected: String, _ found: JSONValue) -> ModelError {
        .invalidConfig(path: path, key: prefix + key, reason: "expected \(expected), found \(found)")
    }
}
