import ArgumentParser
import Foundation
import Yams

/// The user's config file (`Config/config.yaml` documents every key), read once per command.
/// Flags override it; a missing file is an empty configuration; a malformed one is an error
/// naming the file and the key.
struct Configuration: Decodable {
    var model: String?
    var captionModel: String?
    var captions: String?
    var device: String?
    var precision: String?
    var threads: Int?
    var database: String?
    var roots: [String]?
    var exclude: [String]?
    var includeHidden: Bool?
    var batch: Int?
    var rescanSeconds: Double?
    var listen: String?
    var token: String?
    var index: String?
    var allowedHosts: [String]?
    var keepVanishedDays: Double?
    var store: String?
    var storeShards: [String]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, device, precision, threads, database, roots, exclude, batch, listen, token, index
        case includeHidden = "include_hidden"
        case rescanSeconds = "rescan_seconds"
        case allowedHosts = "allowed_hosts"
        case keepVanishedDays = "keep_vanished_days"
        case captionModel = "caption_model"
        case captions, store
        case storeShards = "store_shards"
    }

    /// How long the embedding of a file that vanished is kept (a file moved away and back is
    /// not embedded again): `keep_vanished_days`, 30 days by default.
    func vanishedGraceSeconds() throws -> TimeInterval {
        let days = keepVanishedDays ?? 30
        guard days.isFinite, days >= 0 else { throw CommandError("config: keep_vanished_days must be a number ≥ 0") }
        return days * 86_400
    }

    /// The HTTP API's bearer token: IMGSEARCH_TOKEN when set, else `token`. The daemon
    /// requires it; `imgsearch query` sends it.
    var apiToken: String? {
        ProcessInfo.processInfo.environment["IMGSEARCH_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? token
    }

    /// `$XDG_CONFIG_HOME/imgsearch/config.yaml`, or `~/.config/imgsearch/config.yaml`.
    static var defaultPath: String {
        let configHome = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".config")
        return (configHome as NSString).appendingPathComponent("imgsearch/config.yaml")
    }

    /// Reads `path` (or the default path); only an explicitly named file must exist.
    static func load(path: String?) throws -> Configuration {
        let file = path ?? defaultPath
        guard let data = FileManager.default.contents(atPath: file) else {
            if path != nil { throw CommandError("\(file): no such config file") }
            return Configuration()
        }
        do {
            let text = String(decoding: data, as: UTF8.self)
            if let keys = (try Yams.load(yaml: text) as? [String: Any])?.keys {
                let known = Set(CodingKeys.allCases.map(\.rawValue))
                if let unknown = keys.sorted().first(where: { !known.contains($0) }) {
                    throw CommandError("\(file): unknown key \"\(unknown)\" (known: \(known.sorted().joined(separator: ", ")))")
                }
            }
            return try YAMLDecoder().decode(Configuration.self, from: text).expandingHome()
        } catch let error as CommandError {
            throw error
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw CommandError("\(file): \(key): expected \(type)")
        } catch {
            throw CommandError("\(file): \(error)")
        }
    }

    private func expandingHome() -> Configuration {
        func expand(_ path: String) -> String { (path as NSString).expandingTildeInPath }
        var copy = self
        copy.model = model.map(expand)
        copy.captionModel = captionModel.map(expand)
        copy.captions = captions.map(expand)
        copy.database = database.map(expand)
        copy.roots = roots?.map(expand)
        return copy
    }
}

/// The `--config` option every command has.
struct ConfigOption: ParsableArguments {
    @Option(help: ArgumentHelp("Config file (default: $XDG_CONFIG_HOME/imgsearch/config.yaml; see Config/config.yaml).", valueName: "path"))
    var config: String?

    func load() throws -> Configuration { try Configuration.load(path: config) }
}
