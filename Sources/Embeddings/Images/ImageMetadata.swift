internal import CImageDecode
import Foundation

/// What a photo file says about itself, read from its container and EXIF block without
/// decoding pixels: format, stored size, date taken, camera, location.
public struct ImageMetadata: Sendable, Equatable {
    /// "JPEG", "PNG", "WebP", "HEIF", "AVIF", "TIFF" or "GIF".
    public var format: String
    /// The stored size (HEIF: as displayed); nil when the header gives none.
    public var width: Int?
    public var height: Int?
    /// EXIF DateTimeOriginal, "YYYY-MM-DD HH:MM:SS" in the camera's local time.
    public var dateTaken: String?
    /// EXIF OffsetTimeOriginal, "+HH:MM": the camera's time zone when it wrote it.
    public var utcOffset: String?
    public var cameraMake: String?
    public var cameraModel: String?
    /// Degrees, north and east positive.
    public var latitude: Double?
    public var longitude: Double?

    public init(format: String, width: Int? = nil, height: Int? = nil, dateTaken: String? = nil, utcOffset: String? = nil,
                cameraMake: String? = nil, cameraModel: String? = nil, latitude: Double? = nil, longitude: Double? = nil) {
        self.format = format
        self.width = width
        self.height = height
        self.dateTaken = dateTaken
        self.utcOffset = utcOffset
        self.cameraMake = cameraMake
        self.cameraModel = cameraModel
        self.latitude = latitude
        self.longitude = longitude
    }

    /// Reads the metadata of the file at `path`; an unreadable file, or content that is no
    /// image the decoders read, is an `ImageError`. Malformed EXIF leaves its fields nil.
    public static func read(path: String) throws(ImageError) -> ImageMetadata {
        try read(data: contents(ofFile: path), path: path)
    }

    /// The bytes of the file at `path`, memory-mapped where that is safe.
    public static func contents(ofFile path: String) throws(ImageError) -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw ImageError(path: path, kind: .unreadable, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
    }

    /// As `read(path:)`, from the file's bytes; `path` names it in errors.
    public static func read(data: Data, path: String) throws(ImageError) -> ImageMetadata {
        var metadata = imgdec_metadata()
        var failure = imgdec_error()
        let status = data.withUnsafeBytes { raw in
            imgdec_read_metadata(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &metadata, &failure)
        }
        guard status == IMGDEC_OK else {
            throw ImageError(path: path, kind: status == IMGDEC_ERROR_UNSUPPORTED_FORMAT ? .unsupportedFormat : .corrupt,
                             reason: failure.text)
        }
        return ImageMetadata(
            format: String(cString: imgdec_format_name(metadata.format)),
            width: metadata.width > 0 ? Int(metadata.width) : nil,
            height: metadata.height > 0 ? Int(metadata.height) : nil,
            dateTaken: nonEmpty(metadata.date_taken),
            utcOffset: nonEmpty(metadata.utc_offset),
            cameraMake: nonEmpty(metadata.make),
            cameraModel: nonEmpty(metadata.model),
            latitude: metadata.has_location ? metadata.latitude : nil,
            longitude: metadata.has_location ? metadata.longitude : nil)
    }

    /// A C string field as text, nil when empty.
    private static func nonEmpty<Field>(_ field: Field) -> String? {
        let text = fixedCString(field)
        return text.isEmpty ? nil : text
    }
}
