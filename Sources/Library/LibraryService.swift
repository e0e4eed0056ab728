import Embeddings
import Foundation
import Indexer
import Query
import Store
import Synchronization

/// What the daemon serves: the catalog (SQLite with its live search index, or a PostgreSQL
/// store), the model's text side, the captioner and the daemon's activity. Every method
/// blocks (model, scan, decoding, database); the HTTP server calls them off its event loops.
/// Failures the client caused are `LibraryError`s, which the server turns into statuses.
///
/// Only what lies under the daemon's roots is shown: a catalog may also hold folders that
/// other `imgsearch index` runs added, and those are neither listed nor served here.
public final class LibraryService: Sendable {
    public let catalog: any ServedCatalog
    public let model: Blip2Model
    public let activity: DaemonActivity?
    /// The folders the daemon keeps and serves.
    public let roots: [String]
    let files: ServedFiles
    let thumbnails: ThumbnailCache
    /// The captioning model for on-demand captions and answers (`daemon --captions`), or nil.
    public let captioner: Blip2Generator?
    /// The caption or answer being computed, if any: one at a time (each takes the CPU for
    /// seconds), and `cancelDescription()` stops it.
    private let currentDescription = Mutex<Cancellation?>(nil)

    /// `thumbnailDirectory`: where thumbnails are cached, by content hash.
    public init(catalog: any ServedCatalog, model: Blip2Model, roots: [String], thumbnailDirectory: String,
                activity: DaemonActivity?, captioner: Blip2Generator? = nil) {
        self.captioner = captioner
        self.catalog = catalog
        self.model = model
        self.activity = activity
        self.roots = roots
        files = ServedFiles(roots: roots)
        thumbnails = ThumbnailCache(directory: thumbnailDirectory)
    }

    /// The catalog's id: clients check it is the catalog they mean.
    public var catalogID: String { catalog.catalogID }

    /// The model's identity as the catalog knows it.
    public var modelID: String { catalog.model.id }

    /// The most results a search gives.
    public static let maxLimit = 500

    /// Images ranked for `text` by `mode`: semantic (see `semanticSearch`), keyword (the
    /// captions' words, score −BM25), or hybrid (both fused by reciprocal rank).
    /// With a `filter`, the exact top results among the photos it keeps.
    public func search(text: String, mode: SearchMode, negatives: [String], negativeWeight: Float, limit: Int,
                       minScore: Float?, filter: PhotoFilter = PhotoFilter()) throws -> [SearchResult] {
        switch mode {
        case .semantic:
            return try semanticSearch(text: text, negatives: negatives, negativeWeight: negativeWeight, limit: limit,
                                      minScore: minScore, filter: filter)
        case .keyword:
            let contents = try filteredContents(filter)
            return try catalog.keywordSearch(text, limit: limit, under: roots, embeddedBy: modelID, among: contents)
                .compactMap(Self.result)
        case .hybrid:
            let contents = try filteredContents(filter)
            let depth = min(ReciprocalRankFusion.depth(forLimit: limit), Self.maxLimit)
            let semantic = try semanticSearch(text: text, negatives: negatives, negativeWeight: negativeWeight, limit: depth,
                                              minScore: nil, filter: filter)
            return try catalog.hybridSearch(text, semantic: semantic, limit: limit, under: roots, embeddedBy: modelID,
                                            among: contents).compactMap(Self.result)
        }
    }

    /// The contents `filter` keeps, for the caption searches (nil without one).
    private func filteredContents(_ filter: PhotoFilter) throws -> Set<String>? {
        filter.isEmpty ? nil : try catalog.contentHashes(matching: filter)
    }

    /// A hit among this model's images as a search result.
    private static func result(_ hit: ContentHit) -> SearchResult? {
        hit.imageID.map { SearchResult(imageID: $0, paths: hit.paths, score: hit.score) }
    }

    /// Images ranked for `text`, pushed away from `negatives` (see `SearchRequest.text`).
    private func semanticSearch(text: String, negatives: [String], negativeWeight: Float, limit: Int,
                                minScore: Float?, filter: PhotoFilter) throws -> [SearchResult] {
        let subject = SearchSubject.text(text, negatives: negatives, negativeWeight: negativeWeight)
        let request = try subject.request(with: model, limit: limit, minScore: minScore)
        let allowed = try allowedImages(filter)
        do {
            return try catalog.search(request, under: roots, among: allowed)
        } catch let error as SearchRequestError {
            throw LibraryError(.invalidSearch, error.reason, cause: error)
        }
    }

    /// Images like `imageID`, best first, itself left out.
    public func similar(toImage imageID: Int64, limit: Int, minScore: Float?,
                        filter: PhotoFilter = PhotoFilter()) throws -> [SearchResult] {
        _ = try paths(ofImage: imageID)  // not found unless a file under the roots holds it
        let allowed = try allowedImages(filter)
        guard let results = try catalog.similar(toImage: imageID, limit: limit, minScore: minScore, under: roots,
                                                among: allowed) else {
            throw LibraryError(.notFound, "no image \(imageID)")
        }
        return results
    }

    /// The images `filter` keeps, nil without one.
    private func allowedImages(_ filter: PhotoFilter) throws -> Set<Int64>? {
        filter.isEmpty ? nil : try catalog.imageIDs(matching: filter)
    }

    /// A fresh caption of the image (LAVIS's recipe) or, with `question`, a short answer
    /// (LAVIS's VQA prompt and recipe); one at a time: a second request meanwhile is refused.
    public func describe(image imageID: Int64, question: String?) throws -> (text: String, seconds: Double) {
        guard let captioner else {
            throw LibraryError(.noCaptioner, "this daemon has no captioning model: start it with --captions MODEL")
        }
        let path = try paths(ofImage: imageID)[0]
        return try exclusively { cancellation in
            try describe(path: path, question: question, with: captioner, cancellation: cancellation)
        }
    }

    private func describe(path: String, question: String?, with captioner: Blip2Generator,
                          cancellation: Cancellation) throws -> (text: String, seconds: Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let prompt = question.map(VisualQuestion.prompt) ?? ""
        let options = question == nil ? GenerationOptions.caption : .answer(for: captioner.config.language.family)
        let text: Result<String, ImageError>
        do throws(any Error) {
            text = try captioner.texts(ofImagesAt: [path], prompt: prompt, options: options, cancellation: cancellation)[0].text
        } catch ModelError.cancelled {
            throw LibraryError(.cancelled, "cancelled: stopped by DELETE /api/jobs/current")
        }
        switch text {
        case .success(let text): return (text, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        case .failure(let error): throw LibraryError(.unreadableImage, "\(error)", cause: error)
        }
    }

    /// The semantic `results` of `text` with the first `count` ordered by BLIP-2's ITM
    /// probability, which each gets (LAVIS's re-ranking; a vision pass per photo, so one
    /// such job at a time, as captions and answers).
    public func rerank(_ results: [SearchResult], text: String, count: Int) throws -> [(candidate: SearchResult, probability: Float?)] {
        try exclusively { _ in try MatchRerank(model: model, count: count).rerank(results, text: text, paths: \.paths) }
    }

    /// Runs `body` unless another caption, answer or re-ranking is running (429 "busy").
    private func exclusively<T>(_ body: (Cancellation) throws -> T) throws -> T {
        let cancellation = Cancellation()
        guard currentDescription.withLock({ current in
            if current != nil { return false }
            current = cancellation
            return true
        }) else {
            throw LibraryError(.busy, "busy: another caption, answer or re-ranking is being computed; try again when it is done")
        }
        defer { currentDescription.withLock { $0 = nil } }
        return try body(cancellation)
    }

    /// Stops the caption or answer being computed (its request gets 409); false when none is.
    public func cancelDescription() -> Bool {
        currentDescription.withLock { current in
            current?.cancel()
            return current != nil
        }
    }

    /// What each image's content says about itself (date taken, camera, …), by image id.
    public func metadata(ofImages ids: [Int64]) throws -> [Int64: PhotoMetadata] {
        try catalog.metadata(ofImages: ids)
    }

    /// The folders under the roots that hold photos, with how many each holds directly.
    public func folders() throws -> [String: Int] {
        try catalog.folders(under: roots)
    }

    /// The groups of duplicate photos under the roots (`DuplicateFinder`; the scene level
    /// with this daemon's model when `sceneThreshold` is given), each photo with its image id.
    public func duplicates(threshold: Int, sceneThreshold: Float?, under folder: String?) throws -> [DuplicateGroup] {
        let scope = try folder.map { folder in
            guard Catalog.path(folder, isUnderAnyOf: roots) else { throw LibraryError(.forbidden, "\(folder) is not under the served folders") }
            return [folder]
        } ?? roots
        let groups = try DuplicateFinder(threshold: threshold, sceneThreshold: sceneThreshold)
            .groups(in: catalog.pictures, under: scope, modelId: modelID)
        let ids = try catalog.imageIDs(ofContents: Array(Set(groups.flatMap { $0.photos.map(\.picture.contentHash) })), modelId: modelID)
        return groups.map { group in
            DuplicateGroup(photos: group.photos.map { photo in
                var listed = photo
                listed.imageID = ids[photo.picture.contentHash]
                return listed
            })
        }
    }

    /// The newest caption of each image's content (`index --captions`), by image id.
    public func captions(ofImages ids: [Int64]) throws -> [Int64: String] {
        let hashes = try catalog.contentHashes(ofImages: ids)
        let captions = try catalog.captions(ofContents: Array(Set(hashes.values)))
        return hashes.compactMapValues { captions[$0] }
    }

    /// The image's indexed files under the roots, sorted by path; an image no such file holds
    /// is not found.
    public func paths(ofImage imageID: Int64) throws -> [String] {
        guard let paths = try catalog.paths(ofImages: [imageID], under: roots)[imageID], !paths.isEmpty else {
            throw LibraryError(.notFound, "no image \(imageID)")
        }
        return paths
    }

    /// A JPEG thumbnail fitting `side` × `side`, cached by content hash.
    public func thumbnail(ofImage imageID: Int64, side: Int) throws -> Data {
        guard let contentHash = try catalog.contentHashes(ofImages: [imageID])[imageID] else {
            throw LibraryError(.notFound, "no image \(imageID)")
        }
        let path = try files.readablePath(among: try paths(ofImage: imageID))
        return try thumbnails.jpeg(contentHash: contentHash, side: side) {
            do {
                return try Thumbnailer(maxSide: side).jpeg(path: path)
            } catch {
                throw LibraryError(.unreadableImage, "\(error)", cause: error)
            }
        }
    }

    /// The original file's bytes and media type.
    public func original(ofImage imageID: Int64) throws -> (data: Data, mediaType: String) {
        let path = try files.readablePath(among: try paths(ofImage: imageID))
        guard let data = FileManager.default.contents(atPath: path), let type = ImageMediaType.of(fileAt: path) else {
            throw LibraryError(.notFound, "\(path) is no longer a readable image")
        }
        return (data, type)
    }

    /// The catalog and the daemon as `GET /api/status` reports them.
    public func status() throws -> StatusReport {
        let (files, failures) = try catalog.fileStatus(recentFailures: 10)
        return StatusReport(
            catalog: catalog.location,
            catalogId: catalogID,
            roots: roots,
            files: files,
            images: try catalog.searchableImageCount(),
            index: catalog.searchKind,
            model: StatusReport.Model(id: modelID, path: model.snapshot.directory.path, device: model.device,
                                      precision: model.precision),
            daemon: activity?.counters,
            recentFailures: failures)
    }
}

/// `GET /api/status`.
public struct StatusReport: Codable, Sendable {
    public struct Model: Codable, Sendable {
        public let id: String
        public let path: String
        public let device: String
        public let precision: String
    }

    public struct Failure: Codable, Sendable {
        public let path: String
        public let error: String
    }

    public let catalog: String
    public let catalogId: String
    /// The folders this daemon keeps and serves.
    public let roots: [String]
    /// Per state (pending, indexed, failed), and "offline": kept while their drive is away.
    public let files: [String: Int]
    public let images: Int
    /// The search index in use: "exact" or "approximate".
    public let index: String
    public let model: Model
    public let daemon: DaemonCounters?
    public let recentFailures: [Failure]
}
