import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// The image front end against the reference (`Tests/Fixtures/images/reference.json`, made by
/// tools/make_image_fixtures.py with PIL 9.4 + exif_transpose + BICUBIC resize, which equals
/// BlipImageProcessor before normalisation): every format, the EXIF orientations, and every
/// malformed file's error.
@Suite struct ImagePreprocessorTests {
    struct Reference: Decodable {
        struct Image: Decodable {
            let file: String
            let format: String
            let exif_rotated: Bool
            let references: [String: String]
        }

        struct Malformed: Decodable {
            let file: String
            let error: String?
        }

        let images: [Image]
        let malformed: [Malformed]
    }

    static let imagesFolder = Fixtures.root.appendingPathComponent("images")
    static let reference: Reference = {
        let data = try! Data(contentsOf: imagesFolder.appendingPathComponent("reference.json"))
        return try! JSONDecoder().decode(Reference.self, from: data)
    }()

    static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// Mean and largest difference in uint8 levels between our CHW floats and a reference RGB image.
    func levelDifference(_ ours: [Float], referenceRGB: Data, size: Int) -> (mean: Double, max: Float) {
        var total = 0.0
        var largest: Float = 0
        for channel in 0..<3 {
            for pixel in 0..<(size * size) {
                let value = Float(referenceRGB[referenceRGB.startIndex + pixel * 3 + channel])
                let expected = (value * (1 / 255) - Self.mean[channel]) / Self.std[channel]
                let levels = abs(ours[channel * size * size + pixel] - expected) * Self.std[channel] * 255
                total += Double(levels)
                largest = max(largest, levels)
            }
        }
        return (total / Double(3 * size * size), largest)
    }

    static var referenceCases: [(file: String, size: Int, path: String)] {
        reference.images.flatMap { image in
            image.references.map { (image.file, Int($0.key)!, $0.value) }
        }
    }

    @Test func everyFormatMatchesTheReferenceExactlyWithoutDCTScaling() throws {
        #expect(Set(Self.reference.images.map(\.format)).isSuperset(of: ["JPEG", "PNG", "WebP", "TIFF", "GIF", "HEIF", "AVIF"]))
        for (file, size, path) in Self.referenceCases {
            let ours = try ImagePreprocessor(size: size, exactReference: true)
                .pixels(path: Self.imagesFolder.appendingPathComponent(file).path)
            let expected = try Data(contentsOf: Self.imagesFolder.appendingPathComponent(path))
            let difference = levelDifference(ours, referenceRGB: expected, size: size)
            #expect(difference.max < 0.01, "\(file) at \(size): max \(difference.max) levels")
        }
    }

    @Test func dctScaledJPEGsStayWithinALevelOnAverage() throws {
        for (file, size, path) in Self.referenceCases {
            let ours = try ImagePreprocessor(size: size).pixels(path: Self.imagesFolder.appendingPathComponent(file).path)
            let expected = try Data(contentsOf: Self.imagesFolder.appendingPathComponent(path))
            let difference = levelDifference(ours, referenceRGB: expected, size: size)
            #expect(difference.mean <= 1.0 && difference.max <= 8, "\(file) at \(size): mean \(difference.mean), max \(difference.max)")
        }
    }

    @Test func exifRotatedPhotosComeOutUpright() throws {
        let rotated = Self.reference.images.filter(\.exif_rotated)
        #expect(rotated.count >= 8)
        for image in rotated {
            let size = 64
            let path = Self.imagesFolder.appendingPathComponent(image.file).path
            let expected = try Data(contentsOf: Self.imagesFolder.appendingPathComponent(image.references["64"]!))
            let upright = levelDifference(try ImagePreprocessor(size: size).pixels(path: path), referenceRGB: expected, size: size)
            #expect(upright.mean <= 1.0, "\(image.file): mean \(upright.mean) levels from the upright reference")
            if !image.file.hasSuffix(".tiff") {  // TIFF orientation is always applied, as PIL does on load
                let raw = levelDifference(try ImagePreprocessor(size: size, applyExifOrientation: false).pixels(path: path),
                                          referenceRGB: expected, size: size)
                if !image.file.contains("orient_1") {
                    #expect(raw.mean > 5, "\(image.file): unrotated pixels should differ from the upright reference")
                }
            }
        }
    }

    @Test func everyMalformedFileGivesItsTypedErrorNamingTheFile() {
        let kinds: [String: ImageError.Kind] = ["io": .unreadable, "unsupported": .unsupportedFormat,
                                                "corrupt": .corrupt, "too_large": .tooLarge]
        #expect(Self.reference.malformed.count >= 15)
        for entry in Self.reference.malformed {
            let path = Self.imagesFolder.appendingPathComponent(entry.file).path
            do {
                _ = try ImagePreprocessor(size: 64).pixels(path: path)
                #expect(entry.error == nil, "\(entry.file) should have failed with \(entry.error ?? "")")
            } catch {
                #expect(error.kind == entry.error.flatMap { kinds[$0] }, "\(entry.file): \(error)")
                #expect(error.description.hasPrefix(path + ": "))
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func aFifoNamedLikeAPhotoFailsInsteadOfHanging() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("camera.jpg").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: ImageError.self) { try ImagePreprocessor(size: 64).pixels(path: fifo) }
        #expect(!ImagePreprocessor.recognizesContent(ofFileAt: directory.appendingPathComponent("missing.jpg").path))
    }

    @Test func decodingOnEveryCoreGivesTheSamePixels() throws {
        let files = Self.reference.images.map { Self.imagesFolder.appendingPathComponent($0.file).path }
        let preprocessor = ImagePreprocessor(size: 64)
        let sequential = try files.map { try preprocessor.pixels(path: $0) }
        nonisolated(unsafe) var parallel = [[Float]](repeating: [], count: files.count)
        parallel.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let slots = buffer
            DispatchQueue.concurrentPerform(iterations: files.count * 4) { index in
                if let pixels = try? preprocessor.pixels(path: files[index % files.count]), index < files.count {
                    slots[index] = pixels
                }
            }
        }
        #expect(parallel == sequential)
    }
}
