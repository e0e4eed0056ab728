import ArgumentParser
import Embeddings
import Foundation
import Library
import PostgresStore
import Query
import Store

extension SearchMode: ExpressibleByArgument {}

/// `imgsearch query`: rank the catalog's images for a text (or an image) with BLIP-2's ITC score.
struct Search: AsyncParsableCommand {
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
            Plain output is one "score  path" per line; in paths, a backslash, a line break or
            another control character is escaped (\\\\, \\n, \\t, \\r, \\xNN, \\u{NNNN}), so that
            every line is one result. With --json, one {"path":P,"score":s} per line, best first.
            Files whose drive is unplugged (offline, see `imgsearch status`) are not searched.
            A text search goes through a running `imgsearch daemon` on the same catalog when
            there is one (no model load; it checks that the daemon uses the same model), else
            this command loads only the model's text side. --no-daemon always searches here.
            --mode keyword searches the captions (`index --captions`) for every word of TEXT
            (whole words, case and accents ignored; score = −BM25, or ts_rank on a PostgreSQL
            store; higher is better) and needs no model; --mode hybrid fuses the semantic and
            keyword rankings by reciprocal rank, score = Σ 1/(60 + rank) over the two lists
            (the top max(3 × limit, 100) of each).
            With --json, rows gain "caption" when the photo has one, and "taken" (its date).
            Filters (--after, --before, --under, --camera, --format, --near) are applied inside
            the search: the results are the exact top K among the photos they keep. Dates are
            the EXIF date taken (the camera's local time), else the file's modification time;
            a photo without metadata matches no metadata filter. `imgsearch status` shows the
            catalog's date range and cameras. --sort date prints the same results newest first.
            --rerank N re-scores the semantic top N with BLIP-2's image-text matching head
            (LAVIS's protocol: ITC for candidates, then ITM) and orders them by its match
            probability, printed beside the score ("itm" in JSON); the rest keep their order.
            It runs the vision tower again on those N photos: about 3.5 s per photo with the
            full-size model on a 2-core CPU (0.29 photos/s, bench/embed.sh), milliseconds on
            a GPU. It loads the whole model and searches in this process.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup var configOption: ConfigOption
    @OptionGroup(title: "Filters") var filters: FilterOptions
    @OptionGroup(title: "PostgreSQL store") var storeOptions: StoreOptions

    @Option(help: "With --store: approximate (each partition's HNSW index, candidates re-scored exactly; the default) or exact (every vector, grouped by image on each server).")
    var storeSearch: PostgresSearchMode = .approximate

    @Option(help: ArgumentHelp("With --store --store-search approximate: nearest vectors taken from each partition per search vector (default max(160 × limit, 1600)); more is slower and finds more.", valueName: "n"))
    var candidates: Int?

    @Argument(help: "What to look for, in words.")
    var text: String?

    @Option(help: ArgumentHelp("Find images like this one instead of (or, with TEXT, in addition to) a text.", valueName: "path"))
    var image: String?

    @Option(name: .customLong("not"), help: ArgumentHelp("A concept to push down (repeatable).", valueName: "text"))
    var negatives: [String] = []

    @Option(help: "Weight of each --not text.")
    var notWeight: Float = 0.5

    @Option(help: "Number of images to return (at most \(Search.maxLimit)).")
    var limit = 20

    @Option(help: "Drop results scoring below this.")
    var minScore: Float?

    @Option(help: ArgumentHelp("Vector index: exact (default; `index` in the config file), approximate (for a million photos in less memory), or a FAISS index_factory string such as IVF1024,SQ8.", valueName: "kind"))
    var index: String?

    @Option(help: "semantic (BLIP-2 similarity, exact; the default), keyword (words of the captions) or hybrid (both, fused).")
    var mode: SearchMode = .semantic

    @Option(help: ArgumentHelp("Re-rank the top N by BLIP-2's image-text matching (1…\(MatchRerank.maxCount); a vision pass per photo, ~3.5 s each on a 2-core CPU).", valueName: "N"))
    var rerank: Int?

    @Flag(help: "Print one JSON object per line.")
    var json = false

    @Flag(help: "Search in this process even when a daemon serves the catalog.")
    var noDaemon = false

    func validate() throws {
        if text == nil && image == nil { throw ValidationError("give a TEXT or --image PATH") }
        if image != nil && text != nil { throw ValidationError("give either a TEXT or --image, not both") }
        if image != nil && !negatives.isEmpty { throw ValidationError("--not applies to text searches") }
        if mode != .semantic && text == nil { throw ValidationError("--mode \(mode.rawValue) searches captions for a TEXT") }
        if mode == .keyword && !negatives.isEmpty { throw ValidationError("--not applies to semantic and hybrid searches") }
        guard (1...Self.maxLimit).contains(limit) else { throw ValidationError("--limit must be from 1 to \(Self.maxLimit)") }
        guard notWeight.isFinite, (0...10).contains(notWeight) else {
            throw ValidationError("--not-weight must be a number from 0 to 10")
        }
        if let minScore, !minScore.isFinite { throw ValidationError("--min-score must be a finite number") }
        if let rerank {
            guard (1...MatchRerank.maxCount).contains(rerank) else { throw ValidationError("--rerank must be from 1 to \(MatchRerank.maxCount)") }
            guard text != nil, mode == .semantic else { throw ValidationError("--rerank re-scores a semantic text search") }
        }
    }

    /// The largest --limit: past it, re-scoring reads most of a large catalog's vectors.
    static let maxLimit = 10_000

    func run() async throws {
        let config = try configOption.load()
        if let store = try storeOptions.postgres(config, besides: catalogOptions, create: false) {
            defer { store.close() }
            try searchStore(store, config: config)
            return
        }
        let library = try catalogOptions.library(config)
        let catalog = library.catalog
        let filter = try filters.filter()
        if mode == .semantic && rerank != nil {
            try printReranked(library: library, config: config, filter: filter)
            return
        }
        if mode == .semantic, filter.isEmpty, let hits = try await searchThroughDaemon(library: library, config: config) {
            try print(hits.flatMap { hit in hit.paths.map { ResultLine(path: $0, score: hit.score) } }, details: catalog)
            return
        }
        try printSearch(filter: filter, catalog: catalog) { limit in
            try semanticSearch(library: library, config: config, limit: limit, filter: filter)
        }
    }

    /// Prints the --mode search among the photos `filter` keeps: `semantic` gives the BLIP-2
    /// ranking to a depth, `catalog` the caption searches, captions and dates.
    private func printSearch(filter: PhotoFilter, catalog: any ResultDetails,
                             semantic: (Int) throws -> [SearchResult]) throws {
        let folders = filter.folder.map { [$0] }
        // The contents the filter keeps, for the caption searches.
        func contents() throws -> Set<String>? { filter.isEmpty ? nil : try catalog.contentHashes(matching: filter) }
        switch mode {
        case .semantic:
            let results = try semantic(limit)
            try print(results.flatMap { result in result.paths.map { ResultLine(path: $0, score: result.score) } }, details: catalog)
        case .keyword:
            let hits = try catalog.keywordSearch(text ?? "", limit: limit, under: folders, among: try contents())
            try print(hits.flatMap { hit in hit.paths.map { ResultLine(path: $0, score: hit.score) } }, details: catalog)
        case .hybrid:
            let depth = ReciprocalRankFusion.depth(forLimit: limit)
            let ranked = try semantic(min(depth, Self.maxLimit))
            let fused = try catalog.hybridSearch(text ?? "", semantic: ranked, limit: limit, under: folders, among: try contents())
            try print(fused.flatMap { hit in hit.paths.map { ResultLine(path: $0, score: hit.score) } }, details: catalog)
        }
    }

    /// A search of a PostgreSQL store (`--store`), on its servers.
    private func searchStore(_ store: PostgresCatalog, config: Configuration) throws {
        guard rerank == nil, index == nil else {
            throw ValidationError("with --store, --rerank and --index are not available yet (a store is searched on its servers: --store-search)")
        }
        if let candidates, candidates < 1 { throw ValidationError("--candidates must be at least 1") }
        let filter = try filters.filter()
        try printSearch(filter: filter, catalog: store) { limit in
            let model = try modelOptions.load(parts: image == nil ? .text : .image, config: config)
            let record = try ModelRecord(model: model)
            guard try store.model(id: record.id) != nil else {
                throw CommandError("\(store.location) has no embeddings from \(model.snapshot.directory.path) (\(record.id)). Index with this model first.")
            }
            let request = try subject.request(with: model, limit: limit, minScore: minScore)
            let allowed = filter.isEmpty ? nil : try store.imageIDs(modelId: record.id, matching: filter)
            return try store.search(vectors: request.vectors, modelId: record.id, limit: limit, minScore: minScore,
                                    mode: storeSearch, candidates: candidates, under: filter.folder.map { [$0] }, among: allowed)
        }
    }

    /// The semantic ranking with its top --rerank re-ordered by ITM, both scores printed.
    private func printReranked(library: PhotoLibrary, config: Configuration, filter: PhotoFilter) throws {
        guard let rerank, let text else { return }
        let model = try modelOptions.load(parts: .all, config: config)
        let results = try semanticSearch(library: library, config: config, limit: max(limit, rerank), filter: filter, model: model)
        let started = Date()
        let reranker = MatchRerank(model: model, count: rerank)
        let reranked = try reranker.rerank(results, text: text, paths: \.paths) { path, error in
            log.warning("\(path): not re-ranked: \(error)")
        }
        log.info("re-ranked \(min(reranker.count, results.count)) photos by ITM in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        try print(reranked.prefix(limit).flatMap { result, itm in
            result.paths.map { ResultLine(path: $0, score: result.score, itm: itm) }
        }, details: library.catalog)
    }

    /// The exact (or --index) BLIP-2 ranking among the photos `filter` keeps, searched in this
    /// process (with `model` when one is loaded already).
    private func semanticSearch(library: PhotoLibrary, config: Configuration, limit: Int, filter: PhotoFilter,
                                model: Blip2Model? = nil) throws -> [SearchResult] {
        let model = try model ?? modelOptions.load(parts: image == nil ? .text : .image, config: config)
        let record = try library.record(of: model)
        let search = try library.search(model: record, kind: IndexKind(index ?? config.index ?? "exact"))
        let allowed = filter.isEmpty ? nil : try library.catalog.imageIDs(modelId: record.id, matching: filter)
        return try search.search(try subject.request(with: model, limit: limit, minScore: minScore),
                                 under: filter.folder.map { [$0] }, among: allowed)
    }

    /// What the command line asks for.
    private var subject: SearchSubject {
        if let image { return .image(path: image) }
        return .text(text ?? "", negatives: negatives, negativeWeight: notWeight)
    }

    /// The daemon's answer for a text search (with the daemon's index: no --index given),
    /// or nil (no daemon for this catalog, or it uses another model, or serves only some of
    /// the catalog's folders).
    private func searchThroughDaemon(library: PhotoLibrary, config: Configuration) async throws -> [DaemonClient.Hit]? {
        guard !noDaemon, image == nil, index == nil, let text,
              FileManager.default.fileExists(atPath: library.files.daemonStatus) else { return nil }
        let catalog = library.catalog
        guard let client = DaemonClient(files: library.files, catalogID: try catalog.identity().id,
                                        catalogRoots: try catalog.fileRoots(), token: config.apiToken) else { return nil }
        let modelID = try modelOptions.directory(config).map { try modelOptions.embeddingID(directory: $0, config: config) }
        let hits = try await client.search(text: text, negatives: negatives, negativeWeight: notWeight, limit: limit,
                                     minScore: minScore, modelID: modelID)
        if hits != nil { log.debug("answered by the daemon at \(client.baseURL.absoluteString)") }
        return hits
    }

    /// Prints `lines`, with their captions and dates from `details`.
    private func print(_ lines: [ResultLine], details: any ResultDetails) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let captions = json ? try details.captions(ofPaths: lines.map(\.path)) : [:]
        let metadata = json || filters.sort == .date ? try details.metadata(ofPaths: lines.map(\.path)) : [:]
        let ordered = filters.sort == .date ? PhotoMetadata.newestFirst(lines) { metadata[$0.path]?.takenAt } : lines
        for var line in ordered {
            line.caption = captions[line.path]
            line.taken = metadata[line.path]?.takenAt
            if json {
                Swift.print(String(decoding: try encoder.encode(line), as: UTF8.self))
            } else {
                let itm = rerank == nil ? "" : line.itm.map { String(format: "%6.3f  ", $0) } ?? "     -  "
                Swift.print(String(format: "%6.3f  ", line.score) + itm + Self.escaped(line.path))
            }
        }
    }

    /// `path` with backslashes and control characters escaped, so it fits on one line and
    /// reads back unambiguously.
    static func escaped(_ path: String) -> String {
        var text = ""
        for scalar in path.unicodeScalars {
            switch scalar {
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\t": text += "\\t"
            case "\r": text += "\\r"
            case _ where scalar.properties.generalCategory == .control:
                text += scalar.value < 0x80 ? String(format: "\\x%02X", scalar.value) : String(format: "\\u{%04X}", scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text
    }

    private struct ResultLine: Encodable {
        let path: String
        let score: Float
        /// The ITM match probability (--rerank).
        var itm: Float?
        var caption: String?
        /// When the photo was taken (EXIF, else the file's time), "YYYY-MM-DD HH:MM:SS".
        var taken: String?
    }
}

/// What `query` reads besides the semantic ranking (caption searches, the filter's contents,
/// what it prints beside each path): the SQLite catalog, or a PostgreSQL store.
protocol ResultDetails: CaptionedCatalog {
    /// The contents of indexed, online files that `filter` keeps.
    func contentHashes(matching filter: PhotoFilter) throws -> Set<String>
    /// The newest caption of the content of each of these files, by path.
    func captions(ofPaths paths: [String]) throws -> [String: String]
    /// What the content of each of these files says about itself, by path.
    func metadata(ofPaths paths: [String]) throws -> [String: PhotoMetadata]
}

extension Catalog: ResultDetails {}
extension PostgresCatalog: ResultDetails {}
