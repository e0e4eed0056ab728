internal import CImageDecode
import Foundation

/// Small JPEG previews of any image the decoders read (HEIC and TIFF included, which
/// browsers do not show): decoded upright, JPEGs at a reduced DCT scale, shrunk with PIL's
/// bicubic filter to fit `maxSide` × `maxSide` (never enlarged), aspect ratio kept.
public struct Thumbnailer: Sendable {
    public let maxSide: Int
    public let quality: Int

    public init(maxSide: Int, quality: Int = 85) {
        precondition(maxSide > 0, "thumbnail side must be positive")
        self.maxSide = maxSide
        self.quality = quality
    }

    /// The JPEG bytes of the thumbnail of the image at `path`.
    public func jpeg(path: String) throws(ImageError) -> Data {
        var params = imgdec_default_params()
        params.jpeg_dct_min_side = Int32(maxSide)
        var error = imgdec_error()
        guard let image = imgdec_decode_file(path, &params, &error) else {
            throw ImageError(path: path, kind: ImagePreprocessor.kind(of: error.code), reason: error.text)
        }
        defer { imgdec_image_free(image) }
        let source = image.pointee
        let scale = min(1, Double(maxSide) / Double(max(source.content_width, source.content_height)))
        let width = max(1, Int32((Double(source.content_width) * scale).rounded()))
        let height = max(1, Int32((Double(source.content_height) * scale).rounded()))
        var small = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
        let box: [Float] = [source.content_x, source.content_y,
                            source.content_x + source.content_width, source.content_y + source.content_height]
        var status = imgdec_resize_bicubic_box(source.pixels, source.width, source.height, box,
                                               &small, width, height, &error)
        var bytes: UnsafeMutablePointer<UInt8>?
        var count = 0
        if status == IMGDEC_OK {
            status = imgdec_encode_jpeg(small, width, height, Int32(quality), &bytes, &count, &error)
        }
        guard status == IMGDEC_OK, let bytes else {
            throw ImageError(path: path, kind: ImagePreprocessor.kind(of: status), reason: error.text)
        }
        defer { imgdec_buffer_free(bytes) }
        return Data(bytes: bytes, count: count)
    }
}

/// An image file's media type, by its content (magic bytes), for serving the original.
public enum ImageMediaType {
    /// What the first bytes of a file say it is.
    public enum Sniffed: Sendable, Equatable {
        /// An image the decoders read, with its media type.
        case image(String)
        /// Bytes that are no image the decoders read.
        case notImage
        /// A file of 0 bytes.
        case empty
        /// The file could not be opened or read; why (strerror).
        case unreadable(String)
    }

    /// `image/jpeg`, `image/png`, … or nil for content that is no image the decoders read.
    public static func of(fileAt path: String) -> String? {
        if case .image(let type) = sniff(fileAt: path) { return type }
        return nil
    }

    /// Reads the first bytes of the file at `path`, telling an unreadable or empty file
    /// apart from one that is not an image.
    public static func sniff(fileAt path: String) -> Sniffed {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { return .unreadable(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var header = [UInt8](repeating: 0, count: 64)
        let count = read(descriptor, &header, header.count)
        guard count >= 0 else { return .unreadable(String(cString: strerror(errno))) }
        guard count > 0 else { return .empty }
        return of(header: Data(header[0..<count])).map(Sniffed.image) ?? .notImage
    }

    /// The media type the first bytes of a file announce, or nil.
    static func of(header: Data) -> String? {
        let format = header.withUnsafeBytes { raw in
            imgdec_detect_format(raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
        }
        switch format {
        case IMGDEC_FORMAT_JPEG: return "image/jpeg"
        case IMGDEC_FORMAT_PNG: return "image/png"
        case IMGDEC_FORMAT_WEBP: return "image/webp"
        case IMGDEC_FORMAT_HEIF: return "image/heic"
        case IMGDEC_FORMAT_AVIF: return "image/avif"
        case IMGDEC_FORMAT_TIFF: return "image/tiff"
        case IMGDEC_FORMAT_GIF: return "image/gif"
        default: return nil
        }
    }
}
