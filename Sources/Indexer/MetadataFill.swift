import Embeddings
import Foundation
import Store

/// Reads the metadata (`ImageMetadata`: EXIF date, camera, place; size, format) of the
/// indexed contents that have none, new photos and those of a catalog made before metadata
/// existed alike, without touching their embeddings; a batch at a time, each committed.
/// A photo without an EXIF date is dated by its file's modification time, marked as such.
enum MetadataFill {
    /// Returns how many contents got metadata.
    static func run(on catalog: Catalog, batchSize: Int = 256, shouldStop: () -> Bool) throws -> Int {
        let candidates = try catalog.contentsWithoutMetadata()
        var stored = 0
        for start in stride(from: 0, to: candidates.count, by: batchSize) {
            if shouldStop() { break }
            let rows = candidates[start..<min(start + batchSize, candidates.count)].compactMap(metadata)
            try catalog.write { tx in try tx.store(rows) }
            stored += rows.count
        }
        return stored
    }

    /// The content's metadata, read from `candidate`'s file; nil when it cannot be read (it
    /// is tried again on the next pass).
    static func metadata(of candidate: MetadataCandidate) -> PhotoMetadata? {
        guard let read = try? ImageMetadata.read(path: candidate.path) else { return nil }
        let modified = Date(timeIntervalSince1970: Double(candidate.modifiedNanoseconds) / 1e9)
        return PhotoMetadata(
            contentHash: candidate.contentHash, format: read.format, width: read.width, height: read.height,
            takenAt: read.dateTaken ?? localTime.string(from: modified), takenAtSource: read.dateTaken == nil ? .mtime : .exif,
            utcOffset: read.utcOffset, cameraMake: read.cameraMake, cameraModel: read.cameraModel,
            latitude: read.latitude, longitude: read.longitude)
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
