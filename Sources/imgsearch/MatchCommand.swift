import ArgumentParser
import Embeddings
import Foundation

/// `imgsearch match`: how well each text describes one image, by ITC and by ITM.
struct Match: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score texts against one image: ITC cosine (max over the 32 queries) and ITM match probability.",
        discussion: """
            itc is the cosine in [-1, 1] between the text embedding and the best of the image's
            query embeddings (what search ranks by); itm is the probability in [0, 1] from
            BLIP-2's image-text matching head, slower and more precise (used for re-ranking).
            With --json, one {"path":P,"text":T,"itc":x,"itm":y} per line, in the texts' order.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var configOption: ConfigOption

    @Argument(help: ArgumentHelp("The image file.", valueName: "image"))
    var image: String

    @Argument(help: ArgumentHelp("One or more texts to score.", valueName: "text"))
    var texts: [String]

    @Flag(help: "Print one JSON object per line.")
    var json = false

    func validate() throws {
        if texts.isEmpty { throw ValidationError("give at least one text") }
    }

    func run() async throws {
        let model = try modelOptions.load(parts: .all, config: try configOption.load())
        let tokens = try texts.map { try model.snapshot.tokenize($0) }
        let pixels = try ImagePreprocessor(size: model.config.imageSize).pixels(path: image)
        let match = try model.match(pixels: pixels, texts: tokens)
        let itc = try model.embedTexts(tokens).map { match.image.maxOverQueries($0) }
        let itm = match.probabilities

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if !json { print("   itc     itm  text") }
        for (index, text) in texts.enumerated() {
            if json {
                let line = MatchLine(path: image, text: text, itc: itc[index], itm: itm[index])
                print(String(decoding: try encoder.encode(line), as: UTF8.self))
            } else {
                print(String(format: "%6.3f  %6.3f  ", itc[index], itm[index]) + text)
            }
        }
    }

    private struct MatchLine: Encodable {
        let path: String
        let text: String
        let itc: Float
        let itm: Float
    }
}
