import Embeddings
import Foundation
import TestSupport
import Testing

/// Metadata read without decoding, checked against what exiftool wrote (tools/
/// make_metadata_fixtures.sh) and what a real camera wrote.
@Suite struct ImageMetadataTests {
    static func fixture(_ name: String) -> String { Fixtures.root.appendingPathComponent("metadata/\(name)").path }

    @Test func aRealCameraPhoto() throws {
        // A Sony NEX-3N photo from Debian's plasma-workspace-wallpapers (ColorfulCups).
        let metadata = try ImageMetadata.read(path: Self.fixture("colorful-cups.jpg"))
        #expect(metadata.format == "JPEG" && metadata.width == 400 && metadata.height == 250)
        #expect(metadata.dateTaken == "2014-04-29 14:25:26" && metadata.utcOffset == nil)
        #expect(metadata.cameraMake == "SONY" && metadata.cameraModel == "NEX-3N")
        #expect(abs((metadata.latitude ?? 0) - 56.1559950833333) < 1e-9)
        #expect(abs((metadata.longitude ?? 0) - 10.2082047833333) < 1e-9)
    }

    @Test(arguments: [("exif.jpg", "JPEG", 451, 300), ("exif.png", "PNG", 90, 120), ("exif.tiff", "TIFF", 90, 120)])
    func everyContainerGivesTheSameEXIF(_ name: String, _ format: String, _ width: Int, _ height: Int) throws {
        let metadata = try ImageMetadata.read(path: Self.fixture(name))
        #expect(metadata.format == format && metadata.width == width && metadata.height == height)
        #expect(metadata.dateTaken == "2023-07-14 18:30:05" && metadata.utcOffset == "+02:00")
        #expect(metadata.cameraMake == "Canon" && metadata.cameraModel == "Canon EOS R6")
        #expect(abs((metadata.latitude ?? 0) - 48.8584) < 1e-6 && abs((metadata.longitude ?? 0) - 2.2945) < 1e-6)
    }

    @Test func webPAndHEICWithSouthAndWest() throws {
        let webp = try ImageMetadata.read(path: Self.fixture("exif.webp"))
        #expect(webp.format == "WebP" && webp.width == 640 && webp.height == 400)
        #expect(webp.dateTaken == "2022-12-31 23:59:59" && webp.cameraModel == "Pixel 7")
        #expect(abs((webp.latitude ?? 0) + 33.8568) < 1e-6 && abs((webp.longitude ?? 0) - 151.2153) < 1e-6)

        let heic = try ImageMetadata.read(path: Self.fixture("exif.heic"))
        #expect(heic.format == "HEIF" && heic.width == 480 && heic.height == 300)
        #expect(heic.dateTaken == "2024-01-02 03:04:05" && heic.utcOffset == "-05:00")
        #expect(heic.cameraMake == "Apple" && heic.cameraModel == "iPhone 15")
        #expect(abs((heic.latitude ?? 0) - 40.6892) < 1e-6 && abs((heic.longitude ?? 0) + 74.0445) < 1e-6)
    }

    @Test func noOrMalformedEXIFLeavesTheFieldsEmpty() throws {
        let plain = try ImageMetadata.read(path: Fixtures.root.appendingPathComponent("images/chelsea.png").path)
        #expect(plain == ImageMetadata(format: "PNG", width: 451, height: 300))
        let malformed = try ImageMetadata.read(path: Self.fixture("bad-exif.jpg"))
        #expect(malformed.format == "JPEG" && malformed.width == 451 && malformed.dateTaken == nil && malformed.cameraMake == nil)
    }

    @Test func notAnImageIsAnError() throws {
        let error = #expect(throws: ImageError.self) { try ImageMetadata.read(path: Fixtures.vocabulary.path) }
        #expect(error?.kind == .unsupportedFormat)
        let missing = #expect(throws: ImageError.self) { try ImageMetadata.read(path: "/nonexistent/photo.jpg") }
        #expect(missing?.kind == .unreadable && missing?.description.hasPrefix("/nonexistent/photo.jpg: cannot read") == true)
    }
}
