import ArgumentParser
import Embeddings
import Foundation

/// `imgsearch embed`: BLIP-2 embeddings of images and texts, as JSON lines or a `.npz`.
struct Embed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the BLIP-2 embeddings of images (32×256 per image) and texts (256).",
        discussion: """
            Images come first, then texts, each in the order given. With --json, one object per line:
              {"kind":"image","path":P,"embedding":[[256 floats] × 32]}
              {"kind":"text","text":T,"tokens":[ids],"embedding":[256 floats]}
            Otherwise --output FILE.npz gets numpy arrays image_embeddings [N,32,256],
            image_paths [N], text_embeddings [T,256] and texts [T] (np.load reads it).
            An image that cannot be read is reported on standard error and skipped; the exit
            status is then 1.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var configOption: ConfigOption

    @Option(name: .customLong("image"), help: ArgumentHelp("An image file to embed (repeatable).", valueName: "path"))
    var images: [String] = []

    @Option(name: .customLong("text"), help: ArgumentHelp("A text to embed (repeatable).", valueName: "string"))
    var texts: [String] = []

    @Flag(help: "Print one JSON object per line instead of writing --output.")
    var json = false

    @Option(help: ArgumentHelp("Where to write the .npz file (without --json).", valueName: "file"))
    var output: String?

    @Option(help: "Images embedded per forward pass.")
    var batch = 8

    func validate() throws {
        if images.isEmpty && texts.isEmpty { throw ValidationError("give at least one --image or --text") }
        if !json && output == nil { throw ValidationError("give --json or --output FILE.npz") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() async throws {
        var parts: ModelParts = []
        if !images.isEmpty { parts.insert(.image) }
        if !texts.isEmpty { parts.insert(.text) }
        let model = try modelOptions.load(parts: parts, config: try configOption.load())

        let tokens = try texts.map { try model.snapshot.tokenize($0) }
        let imageResult = try ImageBatchEmbedder(model: model, batchSize: batch).embed(paths: images)
        for failure in imageResult.failures { log.error("\(failure)") }
        let textEmbeddings = tokens.isEmpty ? [] : try model.embedTexts(tokens)

        if json {
            try printJSONLines(images: imageResult.embedded, texts: Array(zip(zip(texts, tokens), textEmbeddings)))
        } else if let output {
            try writeArchive(to: output, config: model.config, images: imageResult.embedded, textEmbeddings: textEmbeddings)
        }
        if !imageResult.failures.isEmpty { throw ExitCode.failure }
    }

    private func printJSONLines(images: [(path: String, embedding: ImageEmbedding)],
                                texts: [((String, TokenizedText), TextEmbedding)]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for (path, embedding) in images {
            let rows = (0..<embedding.queryCount).map { Array(embedding.query($0)) }
            print(String(decoding: try encoder.encode(ImageLine(path: path, embedding: rows)), as: UTF8.self))
        }
        for ((text, tokens), embedding) in texts {
            let line = TextLine(text: text, tokens: tokens.ids, embedding: embedding.values)
            print(String(decoding: try encoder.encode(line), as: UTF8.self))
        }
    }

    private func writeArchive(to output: String, config: ModelConfig, images: [(path: String, embedding: ImageEmbedding)],
                              textEmbeddings: [TextEmbedding]) throws {
        var archive = NumpyArchive()
        archive.add("image_embeddings", floats: images.flatMap(\.embedding.values),
                    shape: [images.count, config.queryTokenCount, config.embeddingDimension])
        archive.add("image_paths", strings: images.map(\.path))
        archive.add("text_embeddings", floats: textEmbeddings.flatMap(\.values),
                    shape: [textEmbeddings.count, config.embeddingDimension])
        archive.add("texts", strings: texts)
        try archive.write(to: URL(fileURLWithPath: output))
    }

    private struct ImageLine: Encodable {
        let kind = "image"
        let path: String
        let embedding: [[Float]]
    }

    private struct TextLine: Encodable {
        let kind = "text"
        let text: String
        let tokens: [Int32]
        let embedding: [Float]
    }
}
