import Foundation

/// A Hugging Face snapshot directory of a BLIP-2 retrieval model: `config.json`,
/// `model.safetensors` (or its sharded index) and the BERT `vocab.txt`.
public struct ModelSnapshot: Sendable {
    public let directory: URL
    public let config: ModelConfig
    public let tokenizer: BertTokenizer

    public init(directory: URL) throws(ModelError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue
        else {
            throw .missingFile(path: directory.path, reason: "no such model directory")
        }
        self.directory = directory
        config = try ModelConfig(contentsOf: directory.appendingPathComponent("config.json"))
        let vocabulary = directory.appendingPathComponent("vocab.txt")
        guard FileManager.default.fileExists(atPath: vocabulary.path) else {
            throw .missingFile(path: vocabulary.path, reason: "missing: the BERT uncased vocabulary is needed to tokenize text")
        }
        do {
            tokenizer = try BertTokenizer(vocabularyURL: vocabulary)
        } catch {
            throw .tokenizer(error)
        }
        if tokenizer.vocabulary.count > config.vocabularySize {
            throw .invalidConfig(path: directory.appendingPathComponent("config.json").path,
                                 key: "qformer_config.vocab_size",
                                 reason: "\(config.vocabularySize) is smaller than vocab.txt's \(tokenizer.vocabulary.count) tokens")
        }
    }

    /// Tokenizes `text` for this model: `[CLS] … [SEP]`, at most the model's position limit.
    public func tokenize(_ text: String) throws(ModelError) -> TokenizedText {
        do {
            return try tokenizer.encodeNonEmpty(text, maxLength: config.maxPositionEmbeddings)
        } catch {
            throw .tokenizer(error)
        }
    }
}
