import ArgumentParser
import Embeddings
import Foundation
import Query
import Store

/// `imgsearch query`: rank the catalog's images for a text (or an image) with BLIP-2's ITC score.
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Search the catalog by text or by example image; best first, with scores.",
        discussion: """
            score (text): max over the image's 32 query embeddings of the cosine with the text's
            embedding, in [-1, 1]; the exact BLIP-2 ITC ranking.
            --not TEXT: score = max over queries of q·(text − w × not), w = --not-weight: images
            matching the negative text are pushed down.
            --image PATH: score = the best cosine between any of the example's 32 query
            embeddings and any of the image's; near-duplicates score close to 1.
            Every indexed copy of an image is printed, with the image's score.
            The exact and approximate indexes are cached next to the catalog (<db>.index/),
            and rebuilt whenever the catalog's images changed since.
            With --json, one {"path":P,"score":s} per line, best first.
            A text search goes through a running `imgsearch daemon` on the same catalog when
            there is one (no model load; it checks that the daemon uses the same model), else
            this command loads only the model's text side. --no-daemon always searches here.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var configOption: ConfigOption

    @Argument(help: "What to look for, in words.")
    var text: String?

    @Option(help: ArgumentHelp("Find images like this one instead of (or, with TEXT, in addition to) a text.", valueName: "path"))
    var image: String?

    @Option(name: .customLong("not"), help: ArgumentHelp("A concept to push down (repeatable).", valueName: "text"))
    var negatives: [String] = []

    @Option(help: "Weight of each --not text.")
    var notWeight: Float = 0.5

    @Option(help: "Number of images to return.")
    var limit = 20

    @Option(help: "Drop results scoring below this.")
    var minScore: Float?

    @Option(help: ArgumentHelp("Vector index: exact (default; `index` in the config file), approximate (for a million photos in less memory), or a FAISS index_factory string such as IVF1024,SQ8.", valueName: "kind"))
    var index: String?

    @Flag(help: "Print one JSON object per line.")
    var json = false

    @Flag(help: "Search in this process even when a daemon serves the catalog.")
    var noDaemon = false

    func validate() throws {
        if text == nil && image == nil { throw ValidationError("give a TEXT or --image PATH") }
        if image != nil && text != nil { throw ValidationError("give either a TEXT or --image, not both") }
        if image != nil && !negatives.isEmpty { throw ValidationError("--not applies to text searches") }
        if limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let config = try configOption.load()
        if let hits = try searchThroughDaemon(config) {
            try print(hits.flatMap { hit in hit.paths.map { ResultLine(path: $0, score: hit.score) } })
            return
        }
        let catalog = try catalogOptions.openExisting(config)
        let model = try modelOptions.load(parts: image == nil ? .text : .image, config: config)
        let identity = try ModelIdentity(snapshot: model.snapshot)
        guard let record = try catalog.model(id: identity.id) else {
            let known = try catalog.models().map { "\($0.id) (\($0.description))" }.joined(separator: ", ")
            throw CommandError("\(catalog.path) has no embeddings from \(model.snapshot.directory.path) (\(identity.id))"
                + (known.isEmpty ? "" : "; it has: \(known)") + ". Index with this model first.")
        }
        let search = try CatalogSearch(catalog: catalog, model: record, kind: IndexKind(index ?? config.index ?? "exact"),
                                       cacheDirectory: catalog.path + ".index")
        let results = try search.search(try request(model: model))
        try print(results.flatMap { result in result.paths.map { ResultLine(path: $0, score: result.score) } })
    }

    /// The daemon's answer for a text search (with the daemon's index: no --index given),
    /// or nil (no daemon for this catalog, or it uses another model).
    private func searchThroughDaemon(_ config: Configuration) throws -> [DaemonClient.Hit]? {
        guard !noDaemon, image == nil, index == nil, let text else { return nil }
        let token = config.apiToken
        guard let client = DaemonClient(catalogPath: catalogOptions.path(config), token: token) else { return nil }
        let modelID = try modelOptions.directory(config).map { directory in
            try ModelIdentity(snapshot: ModelSnapshot(directory: URL(fileURLWithPath: directory))).id
        }
        let hits = try client.search(text: text, negatives: negatives, negativeWeight: notWeight, limit: limit,
                                     minScore: minScore, modelID: modelID)
        if hits != nil { log.debug("answered by the daemon at \(client.baseURL.absoluteString)") }
        return hits
    }

    private func request(model: Blip2Model) throws -> SearchRequest {
        if let image {
            let pixels = try ImagePreprocessor(size: model.config.imageSize).pixels(path: image)
            let embedding = try model.embedImages(pixels: pixels, count: 1)[0]
            return SearchRequest(vectors: embedding.values, limit: limit, minScore: minScore)
        }
        guard let text else { throw CommandError("give a TEXT or --image PATH") }
        let embeddings = try model.embedTexts([text] + negatives)
        return .text(embeddings[0].values, excluding: embeddings.dropFirst().map(\.values), weight: notWeight,
                     limit: limit, minScore: minScore)
    }

    private func print(_ lines: [ResultLine]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for line in lines {
            if json {
                Swift.print(String(decoding: try encoder.encode(line), as: UTF8.self))
            } else {
                Swift.print(String(format: "%6.3f  ", line.score) + line.path)
            }
        }
    }

    private struct ResultLine: Encodable {
        let path: String
        let score: Float
    }
}
