import Foundation

/// Paths of the committed fixtures under `Tests/Fixtures` (see its README for the scripts
/// that regenerate them).
public enum Fixtures {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func model(_ name: String) -> URL {
        root.appendingPathComponent("models").appendingPathComponent(name)
    }

    public static var vocabulary: URL { root.appendingPathComponent("vocab.txt") }

    /// The bundled toy models and demo pictures (`Sources/imgsearch/Resources`).
    public static func resource(_ name: String) -> URL {
        root.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/imgsearch/Resources").appendingPathComponent(name)
    }

    /// Coloured shapes drawn by a second, independent renderer (`tools/make_shape_holdout.py`).
    public static var shapesHoldout: URL { root.appendingPathComponent("shapes-holdout") }

    /// A fresh temporary directory; the caller removes it.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("imgsearch-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A fresh temporary directory holding a `photos` folder with copies of fixture files
    /// (paths relative to `Tests/Fixtures`, copied under their own names); the caller
    /// removes the directory.
    public static func photoFolder(copying files: [String]) throws -> (directory: URL, photos: URL) {
        let directory = try temporaryDirectory()
        let photos = directory.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for file in files {
            try FileManager.default.copyItem(at: root.appendingPathComponent(file),
                                             to: photos.appendingPathComponent((file as NSString).lastPathComponent))
        }
        return (directory, photos)
    }

    /// Copies a fixture model into a temporary directory the test may damage.
    public static func copyOfModel(_ name: String) throws -> URL {
        let directory = try temporaryDirectory()
        let source = model(name)
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(file).resolvingSymlinksInPath()
            try FileManager.default.copyItem(at: from, to: directory.appendingPathComponent(file))
        }
        return directory
    }

    public static func readFloats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
    }
}

/// The reference outputs `tools/make_fixtures.py` computed with transformers.
public struct ExpectedOutputs: Decodable {
    public let texts: [String]
    public let input_ids: [[Int32]]
    public let attention_mask: [[Int32]]
    public let pixels_shape: [Int]
    public let image_embeddings: [[[Float]]]
    public let text_embeddings: [[Float]]
    public let itc: [[Float]]
    public let itm: [[Float]]

    public static func load(model name: String) throws -> ExpectedOutputs {
        let data = try Data(contentsOf: Fixtures.model(name).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(ExpectedOutputs.self, from: data)
    }

    /// The reference's ids of text `index`, without the right padding.
    public func unpaddedIDs(_ index: Int) -> [Int32] {
        zip(input_ids[index], attention_mask[index]).filter { $0.1 == 1 }.map(\.0)
    }
}

public func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

extension Fixtures {
    /// A tiny Blip2ForConditionalGeneration snapshot of `tools/make_generation_fixtures.py`.
    public static func generationModel(_ name: String) -> URL {
        root.appendingPathComponent("generation").appendingPathComponent(name)
    }

    /// A real tokenizer's files under `Tests/Fixtures/tokenizers` (gpt2, sp-en, sp-ja).
    public static func tokenizer(_ name: String) -> URL {
        root.appendingPathComponent("tokenizers").appendingPathComponent(name)
    }
}

/// transformers' outputs for one tiny captioning model (`expected.json`).
public struct ExpectedGeneration: Decodable {
    /// One `generate()` call: the prompt rows it was given and the new tokens it returned.
    public struct Run: Decodable {
        public let label: String
        public let prompts: [String]
        public let ids: [[Int32]]
        public let mask: [[Int32]]
        public let generate: Settings
        public let tokens: [[Int32]]

        /// Row `index` without its padding.
        public func unpaddedIDs(_ index: Int) -> [Int32] {
            zip(ids[index], mask[index]).filter { $0.1 == 1 }.map(\.0)
        }
    }

    /// The keyword arguments given to `generate()`.
    public struct Settings: Decodable {
        public let max_new_tokens: Int
        public let num_beams: Int
        public let length_penalty: Float?
        public let repetition_penalty: Float?
        public let no_repeat_ngram_size: Int?
        public let min_new_tokens: Int?
    }

    /// The first new token's logits for `ids`/`mask`, before any processor.
    public struct FirstLogits: Decodable {
        public let ids: [[Int32]]
        public let mask: [[Int32]]
        public let logits: [[Float]]
    }

    public let eos_token_id: Int32
    public let pad_token_id: Int32
    public let image_token_index: Int32?
    public let runs: [Run]
    public let first_logits: FirstLogits
    public let decoded: [String]

    public static func load(model name: String) throws -> ExpectedGeneration {
        let data = try Data(contentsOf: Fixtures.generationModel(name).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(ExpectedGeneration.self, from: data)
    }
}
