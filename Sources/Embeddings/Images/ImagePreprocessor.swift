internal import CImageDecode
import Foundation

/// Turns an image file into BLIP-2's input: decoded by content (JPEG, PNG, WebP, HEIC/AVIF,
/// TIFF, GIF: first frame), turned upright by its EXIF orientation, converted to RGB,
/// resized straight to `size`×`size` with PIL's bicubic filter, scaled by 1/255 and
/// normalised with CLIP's mean and std, CHW float32 (transformers' BlipImageProcessor).
///
/// JPEGs are decoded with libjpeg's DCT scaling at the smallest scale still at least
/// twice `size` on both sides: a 12-megapixel photo is decoded at 1/4 of its size, most of
/// the speed-up, while staying within a few uint8 levels of PIL (at exactly `size` the
/// error doubles, up to 15 levels). `exactReference` decodes at full size, bit-exact with PIL.
public struct ImagePreprocessor: Sendable {
    public let size: Int
    /// Images whose header declares more pixels are refused before decoding (decompression bombs).
    public var maxPixels: Int64
    /// Decode at full size, as PIL does, for bit-exact parity with the reference.
    public var exactReference: Bool
    /// Rotate and mirror by the EXIF orientation tag, so a phone photo is embedded upright.
    /// The reference processor does not (it sees the raw pixels); turn off to compare with it.
    public var applyExifOrientation: Bool

    public init(size: Int, maxPixels: Int64 = 178_956_970, exactReference: Bool = false,
                applyExifOrientation: Bool = true) {
        self.size = size
        self.maxPixels = maxPixels
        self.exactReference = exactReference
        self.applyExifOrientation = applyExifOrientation
    }

    public var floatsPerImage: Int { 3 * size * size }

    /// Preprocesses the image at `path` into `buffer`, which holds `floatsPerImage` floats.
    public func preprocess(path: String, into buffer: UnsafeMutableBufferPointer<Float>) throws(ImageError) {
        precondition(buffer.count >= floatsPerImage, "buffer too small")
        var params = imgdec_default_params()
        params.size = Int32(size)
        params.max_pixels = maxPixels
        params.jpeg_dct_scaling = !exactReference
        params.jpeg_dct_min_side = Int32(2 * size)
        params.apply_exif_orientation = applyExifOrientation
        var error = imgdec_error()
        let status = imgdec_load_preprocessed_with_params(path, &params, buffer.baseAddress, &error)
        guard status == IMGDEC_OK else {
            throw ImageError(path: path, kind: Self.kind(of: status), reason: error.text)
        }
    }

    /// Whether the file's first bytes are those of a format the decoders read (by content,
    /// not by name). An unreadable file answers false.
    public static func recognizesContent(ofFileAt path: String) -> Bool {
        ImageMediaType.of(fileAt: path) != nil
    }

    /// Preprocesses one image into a new array.
    public func pixels(path: String) throws(ImageError) -> [Float] {
        var pixels = [Float](repeating: 0, count: floatsPerImage)
        let failure: ImageError? = pixels.withUnsafeMutableBufferPointer { buffer in
            do throws(ImageError) {
                try preprocess(path: path, into: buffer)
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
        return pixels
    }

    static func kind(of status: imgdec_status) -> ImageError.Kind {
        switch status {
        case IMGDEC_ERROR_IO: .unreadable
        case IMGDEC_ERROR_UNSUPPORTED_FORMAT: .unsupportedFormat
        case IMGDEC_ERROR_TOO_LARGE: .tooLarge
        case IMGDEC_ERROR_OUT_OF_MEMORY: .outOfMemory
        case IMGDEC_ERROR_INVALID_ARGUMENT: .invalidArgument
        default: .corrupt
        }
    }
}

extension imgdec_error {
    var text: String { fixedCString(message) }
}
