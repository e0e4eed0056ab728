import Embeddings
import Foundation
import Store

/// What an index run did, for the summary line and the tests.
public struct IndexSummary: Sendable {
    /// Files whose content was embedded in this run.
    public var embedded = 0
    /// Contents captioned from the same vision pass as their embedding.
    public var captioned = 0
    /// Files whose content already had an embedding (moved, renamed, copied, touched).
    public var reused = 0
    /// Files whose content another process sharing the store embedded during this run.
    public var embeddedElsewhere = 0
    public var unchanged = 0
    public var removed = 0
    /// Files that could not be indexed in this run, with the reason: unreadable, empty,
    /// undecodable, or named like an image without being one.
    public var failures: [(path: String, reason: String)] = []
    /// Files that failed in an earlier run and have not changed since (not retried).
    public var stillFailing = 0
    /// Files skipped because they are not images (a video, a sidecar), by path.
    public var skipped: [String] = []
    /// Roots whose files were kept offline instead of removed, with why (missing, empty).
    public var offlineRoots: [(root: String, reason: String)] = []
    /// Files marked offline in this run (their root is missing, empty or another disk).
    public var wentOffline = 0
    /// Offline files found again.
    public var backOnline = 0
    /// Paths the crawl could not read.
    public var crawlProblems: [Crawler.Problem] = []
    public var stoppedEarly = false
    /// Files modified too recently to be complete; left for a later pass.
    public var deferred = 0
    /// Contents whose metadata (EXIF date, camera, place; size, format) was read in this run.
    public var described = 0
    /// Wall-clock seconds per stage: crawl, prepare (sniff + hash + decode, on all cores), embed,
    /// commit, metadata.
    public var stageSeconds: [String: Double] = [:]
}

/// Adds the seconds `body` takes to `stage`.
private func timed<T>(_ stage: String, _ summary: inout IndexSummary, _ body: () throws -> T) rethrows -> T {
    let start = DispatchTime.now().uptimeNanoseconds
    defer { summary.stageSeconds[stage, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
    return try body()
}

/// Where a run stands, after each batch.
public struct IndexProgress: Codable, Sendable {
    public let done: Int
    public let total: Int
    public let failed: Int
    /// Contents captioned with their embedding (`IndexRun.sharedCaptions`).
    public let captioned: Int
    public let imagesPerSecond: Double
}

/// One `imgsearch index` pass: crawl the roots, compare with the catalog (size + mtime +
/// inode, then content hash), embed only contents the model has never seen, and commit
/// each batch in one transaction, so a killed run resumes where it stopped. Files gone
/// from disk leave the catalog; the embeddings no file uses any more are kept for
/// `vanishedGraceSeconds`, then deleted.
///
/// A root that is missing, or empty where files were indexed (the mount point of an
/// unplugged drive), is never pruned: its files are marked offline (kept, not searched)
/// until they are found again or `imgsearch prune` forgets them. Nor is a root that is on
/// another file system than when it was indexed: files not found there go offline.
public struct IndexRun: Sendable {
    public let catalog: any IndexingStore
    public let model: Blip2Model
    public let modelRecord: ModelRecord
    public let batchSize: Int
    public let preprocessor: ImagePreprocessor
    /// A file modified less than this many seconds ago may still be being written (a copy,
    /// a camera import): it is deferred, not indexed half-written. The daemon sets it.
    public var settleSeconds: Double = 0
    /// How long an embedding no file uses any more is kept (30 days by default).
    public var vanishedGraceSeconds: TimeInterval = 30 * 86_400
    /// Captions each new content from the vision pass of its embedding, committed with it
    /// (see `shareVisionPass(with:)`); contents embedded earlier are left to a `CaptionRun`.
    public private(set) var sharedCaptions: CaptionRun?

    public init(catalog: any IndexingStore, model: Blip2Model, modelRecord: ModelRecord, batchSize: Int) {
        self.catalog = catalog
        self.model = model
        self.modelRecord = modelRecord
        self.batchSize = max(1, batchSize)
        preprocessor = ImagePreprocessor(size: model.config.imageSize)
    }

    /// Makes this run caption each new content with `captions` from the vision pass of its
    /// embedding, when the captioning model's vision encoder is this model's
    /// (`Blip2Generator.sharesVisionPass`); returns false, changing nothing, otherwise.
    public mutating func shareVisionPass(with captions: CaptionRun) throws(ModelError) -> Bool {
        guard try captions.generator.sharesVisionPass(with: model) else { return false }
        sharedCaptions = captions
        return true
    }

    public func run(_ crawler: Crawler, shouldStop: @Sendable () -> Bool = { false },
                    progress: (IndexProgress) -> Void = { _ in }) throws -> IndexSummary {
        var summary = IndexSummary()
        try catalog.update { tx in try tx.register(modelRecord) }
        let crawl = timed("crawl", &summary) { crawler.scan() }
        summary.crawlProblems = crawl.problems
        let known = Dictionary(try catalog.files(inRoots: crawler.roots).map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let embeddedHashes = try catalog.embeddedHashes(known.values.compactMap(\.contentHash), modelId: modelRecord.id)
        let rootCheck = RootCheck(crawler: crawler, crawl: crawl, known: known, recorded: try catalog.indexedRoots())
        summary.offlineRoots = rootCheck.offline.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if !rootCheck.offline.isEmpty {
            summary.wentOffline += try catalog.update { tx in
                try rootCheck.offline.keys.reduce(0) { $0 + (try tx.markOffline(root: $1)) }
            }
        }

        var pending: [FoundFile] = []
        var foundAgain: [String] = []
        let settledBefore = Int64((Date().timeIntervalSince1970 - settleSeconds) * 1e9)
        for file in crawl.files {
            if let record = known[file.path], Self.sameStat(record, file),
               (record.state == .failed && !Self.isUnreadableFailure(record.lastError))
                || record.contentHash.map(embeddedHashes.contains) == true {
                summary.unchanged += 1
                if record.state == .failed { summary.stillFailing += 1 }
                if record.offlineSince != nil { foundAgain.append(file.path) }
            } else if settleSeconds > 0 && file.modifiedNanoseconds > settledBefore {
                summary.deferred += 1
            } else {
                pending.append(file)
            }
        }
        if !foundAgain.isEmpty {
            summary.backOnline = try catalog.update { tx in try tx.markOnline(paths: foundAgain) }
        }
        let started = Date()
        var done = 0
        let batches = stride(from: 0, to: pending.count, by: batchSize).map {
            Array(pending[$0..<min($0 + batchSize, pending.count)])
        }
        let preparer = DispatchQueue(label: "imgsearch.prepare")
        // Files whose content another process sharing the store was embedding.
        var heldElsewhere: [FoundFile] = []
        var next = batches.first.map { batch in PreparedAhead(on: preparer) { prepare(batch) } }
        for (number, batch) in batches.enumerated() {
            if shouldStop() {
                summary.stoppedEarly = true
                break
            }
            // The stage time of "prepare" is only the wait for it: the rest overlaps embedding.
            let prepared = timed("prepare", &summary) { next!.wait() }
            next = number + 1 < batches.count
                ? PreparedAhead(on: preparer) { [batch = batches[number + 1]] in prepare(batch) } : nil
            heldElsewhere += try index(prepared, waiting: false, summary: &summary)
            done += batch.count
            let elapsed = Date().timeIntervalSince(started)
            progress(IndexProgress(done: done, total: pending.count, failed: summary.failures.count,
                                   captioned: summary.captioned, imagesPerSecond: elapsed > 0 ? Double(done) / elapsed : 0))
        }
        // Their contents are committed by the other process by now, or left to this one if it died.
        for start in stride(from: 0, to: heldElsewhere.count, by: batchSize) where !summary.stoppedEarly {
            let batch = Array(heldElsewhere[start..<min(start + batchSize, heldElsewhere.count)])
            _ = try index(timed("prepare", &summary) { prepare(batch) }, waiting: true, summary: &summary)
        }
        // After the new files are in: a moved file's content is then still referenced, so
        // its embedding survives the removal of the old path.
        if !summary.stoppedEarly {
            try removeVanished(known: known, crawl: crawl, rootCheck: rootCheck, changedFiles: !pending.isEmpty,
                               summary: &summary)
            let catalog = self.catalog
            summary.described = try timed("metadata", &summary) { try MetadataFill.run(on: catalog, shouldStop: shouldStop) }
        }
        return summary
    }

    static func sameStat(_ record: CatalogFile, _ file: FoundFile) -> Bool {
        record.device == file.device && record.inode == file.inode && record.size == file.size
            && record.modifiedNanoseconds == file.modifiedNanoseconds
    }

    /// The start of a failure's reason when the file could not be read: such a file is
    /// retried on every pass (a permission change does not change its mtime).
    static let unreadablePrefix = "cannot read"

    static func isUnreadableFailure(_ reason: String?) -> Bool {
        reason?.hasPrefix(unreadablePrefix) == true
    }

    /// Catalog files under the roots that the crawl did not find: removed, or marked offline
    /// when their root is on another file system than before. Nothing is touched under a
    /// folder the crawl could not read, nor under an offline root. Then the embeddings no
    /// file uses any more are marked (when files changed or vanished), those past their
    /// grace period deleted, and the roots' file systems recorded.
    private func removeVanished(known: [String: CatalogFile], crawl: Crawler.Crawl, rootCheck: RootCheck,
                                changedFiles: Bool, summary: inout IndexSummary) throws {
        let present = Set(crawl.files.map(\.path))
        let vanished = known.values.filter { record in
            !present.contains(record.path) && rootCheck.offline[record.root] == nil
                && !crawl.problems.contains { record.path == $0.path || Catalog.path(record.path, isUnder: $0.path) }
        }
        let keep = vanished.filter { rootCheck.movedDevice.contains($0.root) }.map(\.path)
        let remove = vanished.filter { !rootCheck.movedDevice.contains($0.root) }.map(\.path)
        let grace = vanishedGraceSeconds
        try catalog.update { tx in
            summary.removed = try tx.removeFiles(paths: remove)
            summary.wentOffline += try tx.markOffline(paths: keep)
            if changedFiles || !vanished.isEmpty {
                try tx.removeOrphanImages(keepingFor: grace)
            } else {
                try tx.removeExpiredOrphanImages(keptFor: grace)
            }
            for (root, device) in rootCheck.devicesToRecord {
                try tx.recordRoot(IndexedRoot(path: root, device: device))
            }
        }
    }

    /// Embeds and commits one prepared batch; returns the files left out because another
    /// process sharing the store holds the right to embed their content (none when `waiting`).
    private func index(_ prepared: [PreparedFile], waiting: Bool, summary: inout IndexSummary) throws -> [FoundFile] {
        // Embed each new content once, even when the batch holds several copies of it.
        var candidates: [(hash: String, pixels: [Float])] = []
        var seen: Set<String> = []
        for item in prepared {
            guard let hash = item.hash, let pixels = item.pixels, !seen.contains(hash) else { continue }
            seen.insert(hash)
            candidates.append((hash, pixels))
        }
        let claim = try catalog.claimEmbedding(of: candidates.map(\.hash), modelId: modelRecord.id, waiting: waiting)
        let toEmbed = candidates.filter { claim.claimed.contains($0.hash) }
        let isHeldElsewhere = { (item: PreparedFile) in item.hash.map(claim.heldElsewhere.contains) == true }
        let (now, later) = (prepared.filter { !isHeldElsewhere($0) }, prepared.filter(isHeldElsewhere))
        let (embeddings, captions) = try embedAndCaption(toEmbed, summary: &summary)
        try timed("commit", &summary) {
            try claim.commit { tx in
                try commit(prepared: now, embedded: Array(zip(toEmbed.map(\.hash), embeddings)), captions: captions, in: tx)
            }
        }
        summary.captioned += captions.count
        // Each embedded content stands for its first file; the other indexed files reused an
        // embedding, or another process made it since they were prepared.
        let indexed = now.filter { $0.failure == nil && $0.hash != nil }
        let elsewhere = indexed.filter { $0.pixels != nil && !claim.claimed.contains($0.hash!) }.count
        summary.embedded += toEmbed.count
        summary.embeddedElsewhere += elsewhere
        summary.reused += indexed.count - toEmbed.count - elsewhere
        summary.failures += now.compactMap { item in item.failure.map { (item.file.path, $0) } }
        summary.skipped += now.filter(\.skipped).map(\.file.path)
        return later.map(\.file)
    }

    /// The embeddings of `toEmbed`, and with `sharedCaptions` the captions of those not yet
    /// captioned, from one vision pass.
    private func embedAndCaption(_ toEmbed: [(hash: String, pixels: [Float])],
                                 summary: inout IndexSummary) throws -> ([ImageEmbedding], [StoredCaption]) {
        guard !toEmbed.isEmpty else { return ([], []) }
        let pixels = toEmbed.flatMap(\.pixels)
        guard let captioning = sharedCaptions else {
            return (try timed("embed", &summary) { try model.embedImages(pixels: pixels, count: toEmbed.count) }, [])
        }
        let (encoded, embeddings) = try timed("embed", &summary) {
            let encoded = try model.encodeImages(pixels: pixels, count: toEmbed.count)
            return (encoded, try model.embedImages(encoded: encoded))
        }
        let captioned = try catalog.captionedHashes(toEmbed.map(\.hash), captionModelId: captioning.captionModelId)
        let uncaptioned = toEmbed.indices.filter { !captioned.contains(toEmbed[$0].hash) }
        guard !uncaptioned.isEmpty else { return (embeddings, []) }
        let texts = try timed("caption", &summary) {
            try captioning.generator.texts(of: encoded.selecting(uncaptioned), prompt: captioning.prompt,
                                           options: captioning.options)
        }
        let captions = zip(uncaptioned, texts).map { index, text in
            StoredCaption(contentHash: toEmbed[index].hash, captionModelId: captioning.captionModelId, text: text,
                          prompt: captioning.prompt)
        }
        return (embeddings, captions)
    }

    /// Within one transaction: the new embeddings and captions, then every file of the batch
    /// as indexed or failed.
    private func commit(prepared: [PreparedFile], embedded: [(String, ImageEmbedding)], captions: [StoredCaption],
                        in tx: any CatalogUpdates) throws {
        try tx.storeImages(embedded.map { hash, embedding in
            StoredImage(contentHash: hash, modelId: modelRecord.id, vectors: embedding.values)
        })
        var records: [CatalogFile] = []
        for item in prepared {
            let file = item.file
            var record = CatalogFile(root: file.root, path: file.path, device: file.device, inode: file.inode,
                                     size: file.size, modifiedNanoseconds: file.modifiedNanoseconds,
                                     contentHash: item.hash, state: .indexed)
            if let failure = item.failure {
                record.state = .failed
                record.lastError = failure
            } else if item.hash == nil {
                try tx.removeFiles(paths: [file.path])  // not an image (any more)
                continue
            }
            records.append(record)
        }
        try tx.upsert(files: records)
        try tx.store(captions: captions)
    }

    private struct PreparedFile: Sendable {
        let file: FoundFile
        var hash: String?
        /// Present when the content may need embedding.
        var pixels: [Float]?
        var failure: String?
        /// Not an image, nor named like one: left out without a failure.
        var skipped = false
    }

    /// Sniffs, hashes and preprocesses every file of the batch on all cores. Files whose
    /// content already has an embedding are hashed but not decoded.
    private func prepare(_ batch: [FoundFile]) -> [PreparedFile] {
        var results = batch.map { PreparedFile(file: $0) }
        let preprocessor = self.preprocessor
        let catalog = self.catalog
        let modelId = modelRecord.id
        results.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let slots = buffer
            DispatchQueue.concurrentPerform(iterations: slots.count) { index in
                let path = slots[index].file.path
                switch ImageMediaType.sniff(fileAt: path) {
                case .image:
                    break
                case .unreadable(let reason):
                    slots[index].failure = "\(Self.unreadablePrefix): \(reason)"
                    return
                case .empty:
                    slots[index].failure = "empty file (0 bytes)"
                    return
                case .notImage:
                    if ImageFileName.looksLikeImage(path) {
                        slots[index].failure = "not an image: the content is not JPEG, PNG, WebP, HEIC, AVIF, TIFF or GIF"
                    } else {
                        slots[index].skipped = true
                    }
                    return
                }
                do {
                    let hash = try ContentHash.of(fileAt: path)
                    slots[index].hash = hash
                    if (try? catalog.embeddedHashes([hash], modelId: modelId).isEmpty) ?? true {
                        slots[index].pixels = try preprocessor.pixels(path: path)
                    }
                } catch let error as ImageError {
                    slots[index].failure = error.reason
                } catch {
                    slots[index].failure = "\(Self.unreadablePrefix): \(error)"
                }
            }
        }
        return results
    }
}
