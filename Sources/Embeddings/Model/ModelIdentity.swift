import Crypto
import Foundation

/// A fingerprint of a model snapshot, stamped on every embedding the catalog stores, so
/// vectors of two models are never compared and a model change is noticed.
///
/// Hashing 4.7 GB of weights on every start would take seconds, so the digest covers what
/// defines the model cheaply: config.json, vocab.txt, and for each weight file its size,
/// its safetensors header (names, dtypes, shapes, offsets) and 16 samples of 64 KiB spread
/// over its data. Two checkpoints of one architecture differ in those samples.
public struct ModelIdentity: Sendable, Hashable, CustomStringConvertible {
    /// "blip2-" and 24 hex digits of SHA-256.
    public let id: String

    public var description: String { id }

    public init(snapshot: ModelSnapshot) throws(ModelError) {
        try self.init(directory: snapshot.directory, files: ["config.json", "vocab.txt"], prefix: "blip2-")
    }

    /// The identity of a captioning snapshot ("blip2cap-…"): its config, tokenizer files and
    /// weights, so that captions of two models or tokenizers are told apart.
    public init(captionSnapshot snapshot: CaptionModelSnapshot) throws(ModelError) {
        let tokenizerFiles = ["vocab.json", "merges.txt", "spiece.model", "tokenizer_config.json", "added_tokens.json"]
            .filter { FileManager.default.fileExists(atPath: snapshot.directory.appendingPathComponent($0).path) }
        try self.init(directory: snapshot.directory, files: ["config.json"] + tokenizerFiles, prefix: "blip2cap-")
    }

    private init(directory: URL, files: [String], prefix: String) throws(ModelError) {
        var hasher = SHA256()
        for name in files {
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw .missingFile(path: url.path, reason: "unreadable")
            }
            hasher.update(data: Data(name.utf8))
            hasher.update(data: data)
        }
        for file in try Self.weightFiles(in: directory) {
            try Self.fingerprint(file, into: &hasher)
        }
        id = prefix + hasher.finalize().prefix(12).map { String(format: "%02x", $0) }.joined()
    }

    /// `model.safetensors`, or the shards its index lists, sorted.
    static func weightFiles(in directory: URL) throws(ModelError) -> [URL] {
        let single = directory.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: single.path) { return [single] }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        guard let data = FileManager.default.contents(atPath: index.path),
              let parsed = try? JSONDecoder().decode([String: JSONValue].self, from: data),
              case .object(let weightMap)? = parsed["weight_map"]
        else {
            throw .missingFile(path: directory.path, reason: "no model.safetensors or readable model.safetensors.index.json")
        }
        let shards = Set(weightMap.values.compactMap { value -> String? in
            if case .string(let name) = value { return name } else { return nil }
        })
        return shards.sorted().map { directory.appendingPathComponent($0) }
    }

    private static func fingerprint(_ url: URL, into hasher: inout SHA256) throws(ModelError) {
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw .missingFile(path: url.path, reason: "unreadable")
        }
        defer { try? handle.close() }
        do {
            let size = try handle.seekToEnd()
            hasher.update(data: Data(url.lastPathComponent.utf8))
            withUnsafeBytes(of: size.littleEndian) { hasher.update(bufferPointer: $0) }
            try handle.seek(toOffset: 0)
            let lengthBytes = try handle.read(upToCount: 8) ?? Data()
            guard lengthBytes.count == 8 else { throw ModelError.missingFile(path: url.path, reason: "truncated") }
            let headerLength = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
            guard headerLength <= size - 8 else { throw ModelError.missingFile(path: url.path, reason: "truncated header") }
            hasher.update(data: try handle.read(upToCount: Int(headerLength)) ?? Data())
            let dataStart = 8 + headerLength
            let dataSize = size - dataStart
            let sample: UInt64 = 64 * 1024
            for step in UInt64(0)..<16 {
                let offset = dataStart + (dataSize > sample ? (dataSize - sample) * step / 15 : 0)
                try handle.seek(toOffset: offset)
                hasher.update(data: try handle.read(upToCount: Int(min(sample, dataSize))) ?? Data())
            }
        } catch let error as ModelError {
            throw error
        } catch {
            throw .missingFile(path: url.path, reason: "cannot read: \(error)")
        }
    }
}
