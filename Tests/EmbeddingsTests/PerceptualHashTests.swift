internal import CImageDecode
import Embeddings
import Foundation
import Store
import TestSupport
import Testing

/// The perceptual signature: the same picture re-encoded, resized or stored turned (EXIF
/// orientation) stays within the default threshold; different real photos do not; a flat
/// picture has none; a broken file is an error naming it.
@Suite struct PerceptualHashTests {
    func signature(_ data: Data, _ name: String = "test") throws -> PerceptualSignature? {
        try PerceptualHash.signature(of: data, path: name).map { PerceptualSignature(whole: $0.whole, center: $0.center) }
    }

    func signature(file name: String) throws -> PerceptualSignature {
        let url = Fixtures.root.appendingPathComponent(name)
        return try #require(try signature(try Data(contentsOf: url), name))
    }

    @Test func versionsOfOnePhotoStayClose() throws {
        let original = try signature(file: "metadata/colorful-cups.jpg")
        for side in [800, 320, 160] {
            let smaller = try Thumbnailer(maxSide: side).jpeg(path: Fixtures.root.appendingPathComponent("metadata/colorful-cups.jpg").path)
            let distance = try #require(try signature(smaller)).distance(to: original)
            #expect(distance <= PerceptualSignature.defaultThreshold, "resized to \(side) and re-encoded: \(distance) bits")
        }
        // photo.jpg is the wallpaper colorful-cups.jpg comes from, resized by another program (PIL).
        #expect(try signature(file: "images/photo.jpg").distance(to: original) <= PerceptualSignature.defaultThreshold)
        // The eight EXIF orientations of one picture decode upright: one signature.
        let upright = try signature(file: "images/orient_1.jpg")
        for orientation in 2...8 {
            let distance = try signature(file: "images/orient_\(orientation).jpg").distance(to: upright)
            #expect(distance <= 4, "orientation \(orientation): \(distance) bits")
        }
    }

    @Test func differentPhotosAreFarApart() throws {
        let names = ["metadata/colorful-cups.jpg", "images/astronaut.png", "images/coffee.png", "images/chelsea.png",
                     "images/orient_1.jpg"]
        let signatures = try names.map { try signature(file: $0) }
        for i in signatures.indices {
            for j in signatures.indices where j > i {
                let distance = signatures[i].distance(to: signatures[j])
                #expect(distance > PerceptualSignature.defaultThreshold + 4, "\(names[i]) and \(names[j]): \(distance) bits")
            }
        }
    }

    @Test func aFlatPictureHasNoneAndABrokenFileIsAnError() throws {
        let gray = [UInt8](repeating: 128, count: 64 * 48 * 3)
        var bytes: UnsafeMutablePointer<UInt8>?
        var size = 0
        var failure = imgdec_error()
        #expect(imgdec_encode_jpeg(gray, 64, 48, 90, &bytes, &size, &failure) == IMGDEC_OK)
        defer { imgdec_buffer_free(bytes) }
        #expect(try signature(Data(bytes: try #require(bytes), count: size)) == nil)

        let truncated = try Data(contentsOf: Fixtures.root.appendingPathComponent("images/photo.jpg")).prefix(300)
        #expect { try signature(truncated, "cut.jpg") } throws: { error in
            (error as? ImageError)?.path == "cut.jpg" && (error as? ImageError)?.kind == .corrupt
        }
    }

    @Test func storedSignaturesRoundTripAndMatchThroughTheCentre() throws {
        let signature = PerceptualSignature(whole: 0x0123_4567_89AB_CDEF, center: 0x7FFF_0000_FFFF_0000)
        #expect(PerceptualSignature(data: signature.data) == signature)
        #expect(PerceptualSignature(data: Data()) == nil && PerceptualSignature(data: Data(count: 15)) == nil)
        // A crop of the picture looks like its centre: close through whole/centre.
        let cropped = PerceptualSignature(whole: signature.center ^ 0b111, center: 0)
        #expect(cropped.distance(to: signature) == 3 && signature.distance(to: cropped) == 3)
    }
}
