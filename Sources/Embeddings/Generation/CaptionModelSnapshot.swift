import Foundation

/// A Hugging Face snapshot directory of a `Blip2ForConditionalGeneration` model: its
/// `config.json`, weights, and the language model's tokenizer (OPT: `vocab.json` +
/// `merges.txt`; T5: `spiece.model`).
public struct CaptionModelSnapshot: Sendable {
    public let directory: URL
    public let config: CaptionModelConfig
    public let tokenizer: any GenerationTokenizer

    public init(directory: URL) throws(ModelError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .missingFile(path: directory.path, reason: "no such model directory")
        }
        self.directory = directory
        config = try CaptionModelConfig(contentsOf: directory.appendingPathComponent("config.json"))
        do {
            switch config.language.family {
            case .opt: tokenizer = try ByteLevelBPETokenizer(directory: directory)
            case .t5: tokenizer = try SentencePieceTokenizer(directory: directory)
            }
        } catch {
            throw .tokenizer(error)
        }
    }

    /// The prompt ids the model reads: the tokenizer's ids of `text`, after
    /// `num_query_tokens` image placeholders when the config has an `image_token_index`
    /// (transformers' Blip2Processor layout).
    public func promptIDs(_ text: String) -> [Int32] {
        let ids = tokenizer.encode(text)
        guard let placeholder = config.imageTokenIndex else { return ids }
        return [Int32](repeating: Int32(placeholder), count: config.visual.queryTokenCount) + ids
    }

    /// The text of generated ids: special tokens left out, surrounding whitespace trimmed.
    public func text(of ids: [Int32]) -> String {
        tokenizer.decode(ids).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
