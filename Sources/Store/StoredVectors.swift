import Foundation

/// One image's query vectors as the catalog stores them: fp32 values, one query vector
/// after another, in the machine's byte order (little-endian everywhere imgsearch runs).
/// Every conversion between the stored bytes and floats goes through here, with one check.
public enum StoredVectors {
    /// The stored form of `floats`.
    public static func data(_ floats: [Float]) -> Data {
        floats.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    /// The floats of image `id`'s stored `data`, which must hold `count` of them; otherwise
    /// the catalog at `catalogPath` is damaged, and the error names the image.
    public static func floats(_ data: Data, count: Int, image id: Int64, catalogPath: String) throws(CatalogError) -> [Float] {
        var values: [Float] = []
        try append(data, count: count, image: id, catalogPath: catalogPath, to: &values)
        return values
    }

    /// Appends the floats of image `id`'s stored `data` to `values` (checked as `floats`).
    public static func append(_ data: Data, count: Int, image id: Int64, catalogPath: String,
                              to values: inout [Float]) throws(CatalogError) {
        guard data.count == count * MemoryLayout<Float>.size else {
            throw CatalogError(path: catalogPath, kind: .damaged,
                               reason: "image \(id) has \(data.count) bytes of vectors, expected \(count * MemoryLayout<Float>.size)")
        }
        let start = values.count
        values.append(contentsOf: repeatElement(0, count: count))
        values.withUnsafeMutableBytes { target in
            data.withUnsafeBytes { source in
                target.baseAddress!.advanced(by: start * MemoryLayout<Float>.size).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
        }
    }
}
