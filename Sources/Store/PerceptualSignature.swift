import Foundation

/// A picture's perceptual signature as the catalog keeps it (`Embeddings.PerceptualHash`
/// computes it): DCT hashes of the whole picture and of its central 90 %.
public struct PerceptualSignature: Sendable, Hashable {
    public let whole: UInt64
    public let center: UInt64

    public init(whole: UInt64, center: UInt64) {
        self.whole = whole
        self.center = center
    }

    /// The default largest distance between near-duplicates, calibrated on 331 real pictures
    /// with made variants (bench/duplicates/run.sh).
    public static let defaultThreshold = 10

    /// Bits that differ, whole against whole or either whole against the other's centre: a
    /// picture cropped by 10 % is close to the original's centre.
    @inline(__always)
    public func distance(to other: PerceptualSignature) -> Int {
        min((whole ^ other.whole).nonzeroBitCount,
            min((whole ^ other.center).nonzeroBitCount, (center ^ other.whole).nonzeroBitCount))
    }

    /// The 16 bytes stored in the catalog (little-endian whole, then centre).
    public var data: Data {
        var bytes = Data(capacity: 16)
        withUnsafeBytes(of: whole.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: center.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The signature stored as `data`; nil for anything but 16 bytes (the empty value of a
    /// picture without one).
    public init?(data: Data) {
        guard data.count == 16 else { return nil }
        let words = data.withUnsafeBytes { raw in (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                                                   raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        self.init(whole: UInt64(littleEndian: words.0), center: UInt64(littleEndian: words.1))
    }
}
