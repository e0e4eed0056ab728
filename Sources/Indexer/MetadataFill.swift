import Embeddings
import Foundation
import Store

/// Reads the metadata (`ImageMetadata`: EXIF date, camera, place; size, format) and the
/// perceptual signature (`PerceptualHash`) of the indexed contents that have none, new photos
/// and those of a catalog made before metadata existed alike, without touching their
/// embeddings; a batch at a time, each committed. A photo without an EXIF date is dated by
/// its file's modification time, marked as such.
enum MetadataFill {
    /// Returns how many contents got metadata.
    static func run(on catalog: any IndexingStore, batchSize: Int = 256, shouldStop: () -> Bool) throws -> Int {
        var stored = 0
        var last: String?
        while !shouldStop() {
            let batch = try catalog.contentsWithoutMetadata(after: last, limit: batchSize)
            guard let end = batch.last else { break }
            let rows = batch.map(metadata)
            try catalog.update { tx in try tx.store(rows) }
            stored += rows.count
            last = end.contentHash
        }
        return stored
    }

    /// The content's metadata, read from `candidate`'s file. A file whose container cannot be
    /// read (it changed since it was indexed) gets format "unknown" and its file's date, so
    /// that it is not read again on every pass; a new version of it is a new content.
    static func metadata(of candidate: MetadataCandidate) -> PhotoMetadata {
        let data = try? ImageMetadata.contents(ofFile: candidate.path)
        let read = data.flatMap { try? ImageMetadata.read(data: $0, path: candidate.path) } ?? ImageMetadata(format: "unknown")
        // A flat picture, or one that no longer decodes, is stored as having no signature.
        let hashes = data.flatMap { try? PerceptualHash.signature(of: $0, path: candidate.path) }
        let signature = hashes.map { PerceptualSignature(whole: $0.whole, center: $0.center).data } ?? Data()
        let modified = Date(timeIntervalSince1970: Double(candidate.modifiedNanoseconds) / 1e9)
        return PhotoMetadata(
            contentHash: candidate.contentHash, format: read.format, width: read.width, height: read.height,
            takenAt: read.dateTaken ?? localTime.string(from: modified), takenAtSource: read.dateTaken == nil ? .mtime : .exif,
            utcOffset: read.utcOffset, cameraMake: read.cameraMake, cameraModel: read.cameraModel,
            latitude: read.latitude, longitude: read.longitude, signature: signature)
    }

    /// "YYYY-MM-DD HH:MM:SS" in this machine's time zone, as EXIF dates are written.
    nonisolated(unsafe) static let localTime: DateFormatter = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .current
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter
    }()
}
