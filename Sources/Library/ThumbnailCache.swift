import Foundation

/// Thumbnails on disk beside the catalog (`<db>.thumbnails/<content hash>-<side>.jpg`):
/// keyed by content, so a moved photo keeps its thumbnail and an edited one gets a new one.
/// Written atomically; a damaged or missing entry is simply made again.
struct ThumbnailCache: Sendable {
    let directory: String

    func jpeg(contentHash: String, side: Int, make: () throws -> Data) throws -> Data {
        let path = "\(directory)/\(contentHash)-\(side).jpg"
        if let cached = FileManager.default.contents(atPath: path), !cached.isEmpty { return cached }
        let data = try make()
        // A cache that cannot be written (read-only disk, full disk) costs speed, not the answer.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
        return data
    }
}
