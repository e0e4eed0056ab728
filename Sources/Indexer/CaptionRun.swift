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
    public let secondsPerImage: Double
}

/// Captions every indexed content that has no caption by this captioning model, a batch
/// at a time, each batch committed in its own transaction: a killed pass loses at most one
/// batch and the next resumes. Contents are captioned once, whichever file holds them.
public struct CaptionRun: Sendable {
    public let catalog: Catalog
    public let generator: Blip2Generator
    public let captionModelId: String
    public var prompt = ""
    public var options = GenerationOptions.greedy(maxNewTokens: 30)
    public var batchSize = 4

    public init(catalog: Catalog, generator: Blip2Generator, captionModelId: String) {
        self.catalog = catalog
        self.generator = generator
        self.captionModelId = captionModelId
    }

    public func run(shouldStop: () -> Bool = { false }, progress: (CaptionProgress) -> Void = { _ in }) throws -> CaptionSummary {
        var summary = CaptionSummary()
        let total = try catalog.uncaptionedCount(captionModelId: captionModelId)
        let preprocessor = ImagePreprocessor(size: generator.config.visual.imageSize)
        let promptIDs = generator.snapshot.promptIDs(prompt)
        var failedHashes: Set<String> = []
        var done = 0
        while !shouldStop() {
            // Contents that failed stay uncaptioned: skip them, not loop on them.
            let candidates = try catalog.uncaptioned(captionModelId: captionModelId, limit: batchSize + failedHashes.count)
                .filter { !failedHashes.contains($0.contentHash) }.prefix(batchSize)
            guard !candidates.isEmpty else { break }
            let start = DispatchTime.now().uptimeNanoseconds
            var pixels: [Float] = []
            var readable: [CaptionCandidate] = []
            for candidate in candidates {
                do {
                    pixels += try preprocessor.pixels(path: candidate.path)
                    readable.append(candidate)
                } catch {
                    summary.failures.append((candidate.path, "\(error)"))
                    failedHashes.insert(candidate.contentHash)
                }
            }
            guard !readable.isEmpty else { continue }
            let tokens = try generator.generate(pixels: pixels, count: readable.count,
                                                prompts: Array(repeating: promptIDs, count: readable.count), options: options)
            let captions = zip(readable, tokens).map { candidate, ids in
                StoredCaption(contentHash: candidate.contentHash, captionModelId: captionModelId,
                              text: generator.snapshot.text(of: ids), prompt: prompt)
            }
            try catalog.write { try $0.store(captions: captions) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(readable.count)
            if summary.secondsPerImage == nil { summary.secondsPerImage = seconds }
            summary.captioned += captions.count
            done += candidates.count
            progress(CaptionProgress(done: done, total: total, secondsPerImage: summary.secondsPerImage ?? seconds))
        }
        summary.stoppedEarly = shouldStop()
        return summary
    }
}
