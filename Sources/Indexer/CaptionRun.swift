import Embeddings
import Foundation
import Store

/// What a captioning pass did.
public struct CaptionSummary: Sendable {
    /// Contents captioned in this pass.
    public var captioned = 0
    /// Files that could not be read or decoded, with the reason; their contents stay uncaptioned.
    public var failures: [(path: String, reason: String)] = []
    public var stoppedEarly = false
    /// Seconds per captioned image, measured on the first batch (the cost announced up front).
    public var secondsPerImage: Double?
}

/// Where a captioning pass stands, after each batch.
public struct CaptionProgress: Sendable {
    public let done: Int
    public let total: Int
    /// Measured on the first batch.
    public let secondsPerImage: Double
    /// Over the pass so far.
    public let imagesPerSecond: Double
}

/// Captions every indexed content (with `roots`, every one a file under them holds) that has
/// no caption by this captioning model, a batch at a time, each batch claimed and committed in
/// its own transaction: a killed pass loses at most one batch and the next resumes. Contents
/// are captioned once, whichever file holds them and however many processes caption a shared
/// store (each skips the contents another has claimed).
public struct CaptionRun: Sendable {
    public let catalog: any IndexingStore
    public let generator: Blip2Generator
    public let captionModelId: String
    public var prompt = ""
    public var options = GenerationOptions.greedy(maxNewTokens: 30)
    public var batchSize = 4
    /// The folders whose photos are captioned; nil: every photo of the catalog.
    public var roots: [String]?

    public init(catalog: any IndexingStore, generator: Blip2Generator, captionModelId: String) {
        self.catalog = catalog
        self.generator = generator
        self.captionModelId = captionModelId
    }

    public func run(shouldStop: () -> Bool = { false }, progress: (CaptionProgress) -> Void = { _ in }) throws -> CaptionSummary {
        var summary = CaptionSummary()
        // Read once: a content whose file fails stays uncaptioned and is not tried again this pass.
        let candidates = try catalog.uncaptioned(captionModelId: captionModelId, under: roots)
        var done = 0
        let started = DispatchTime.now().uptimeNanoseconds
        for start in stride(from: 0, to: candidates.count, by: batchSize) where !shouldStop() {
            let listed = candidates[start..<min(start + batchSize, candidates.count)]
            let claim = try catalog.claimCaptioning(of: listed.map(\.contentHash), captionModelId: captionModelId)
            let batch = listed.filter { claim.claimed.contains($0.contentHash) }
            done += listed.count - batch.count
            guard !batch.isEmpty else {
                try claim.commit { _ in }  // gives back what it locked
                continue
            }
            let began = DispatchTime.now().uptimeNanoseconds
            let texts = try generator.texts(ofImagesAt: batch.map(\.path), prompt: prompt, options: options)
            var captions: [StoredCaption] = []
            for (candidate, (path, text)) in zip(batch, texts) {
                switch text {
                case .success(let text):
                    captions.append(StoredCaption(contentHash: candidate.contentHash, captionModelId: captionModelId,
                                                  text: text, prompt: prompt))
                case .failure(let error):
                    summary.failures.append((path, "\(error)"))
                }
            }
            done += batch.count
            try claim.commit { try $0.store(captions: captions) }
            guard !captions.isEmpty else { continue }
            summary.captioned += captions.count
            if summary.secondsPerImage == nil {
                summary.secondsPerImage = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9 / Double(captions.count)
            }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            progress(CaptionProgress(done: done, total: candidates.count, secondsPerImage: summary.secondsPerImage!,
                                     imagesPerSecond: Double(done) / max(elapsed, 1e-9)))
        }
        summary.stoppedEarly = shouldStop()
        return summary
    }
}
