import Foundation

/// Which photos a search may return, by what they say about themselves (see
/// `PhotoMetadata`) and where their files are. Empty: every photo.
public struct PhotoFilter: Sendable, Equatable {
    /// Taken at or after this local time, "YYYY-MM-DD HH:MM:SS".
    public var takenFrom: String?
    /// Taken before this local time (exclusive).
    public var takenBefore: String?
    /// A file of the photo lies under this folder (an absolute path).
    public var folder: String?
    /// Each word occurs in the camera's make and model, case ignored (ASCII).
    public var cameraWords: [String] = []
    /// One of these formats ("JPEG", "HEIF", …), case ignored.
    public var formats: [String] = []
    /// Taken within a distance of a place (EXIF GPS).
    public var near: Place?

    public init() {}

    /// A filter as a user writes it (command-line options, query parameters), each value
    /// checked: dates as `periodStart` reads them, `under` made absolute, `camera` split into
    /// words, formats by the names users type (jpg, heic, …), `near` "LAT,LON" with `within`
    /// km (default 10). A bad value is a `PhotoFilterError` naming it.
    public init(after: String?, before: String?, under: String?, camera: String?, formats: [String],
                near: String?, within: Double?) throws(PhotoFilterError) {
        if let after {
            guard let start = Self.periodStart(after) else { throw PhotoFilterError(field: "after", "\(after): not a date like 2024, 2024-06 or 2024-06-01 18:30") }
            takenFrom = start
        }
        if let before {
            guard let start = Self.periodStart(before) else { throw PhotoFilterError(field: "before", "\(before): not a date like 2024, 2024-06 or 2024-06-01 18:30") }
            takenBefore = start
        }
        if let from = takenFrom, let to = takenBefore, from >= to {
            throw PhotoFilterError(field: "after", "\(after ?? "") is not before \(before ?? ""): no photo can match")
        }
        folder = under.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        cameraWords = (camera ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        self.formats = try formats.map { (name: String) throws(PhotoFilterError) -> String in
            guard let known = Self.formatNames[name.lowercased()] else {
                throw PhotoFilterError(field: "format", "\(name): one of jpeg, png, webp, heif, avif, tiff, gif")
            }
            return known
        }
        if let near {
            guard let place = Place(near, kilometres: within ?? 10) else {
                throw PhotoFilterError(field: "near", "\(near) (within \(within ?? 10) km): give LAT,LON in degrees and a positive radius in km")
            }
            self.near = place
        } else if within != nil {
            throw PhotoFilterError(field: "within", "is the radius of near")
        }
    }

    /// Format names as `PhotoMetadata` stores them, by what users type.
    static let formatNames = ["jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WebP", "heif": "HEIF", "heic": "HEIF",
                              "avif": "AVIF", "tiff": "TIFF", "tif": "TIFF", "gif": "GIF"]

    public var isEmpty: Bool { self == PhotoFilter() }

    /// The start of the period `text` names, as "YYYY-MM-DD HH:MM:SS": "2024", "2024-06",
    /// "2024-06-01", "2024-06-01 18:30" or "2024-06-01T18:30:05"; nil for anything else.
    public static func periodStart(_ text: String) -> String? {
        let pattern = /(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?)?)?/.asciiOnlyDigits()
        guard let match = text.trimmingCharacters(in: .whitespaces).wholeMatch(of: pattern) else { return nil }
        let fields = [match.1, match.2 ?? "01", match.3 ?? "01", match.4 ?? "00", match.5 ?? "00", match.6 ?? "00"]
        let numbers = fields.compactMap { Int($0) }
        let limits = [1...9999, 1...12, 1...31, 0...23, 0...59, 0...59]
        guard numbers.count == 6, zip(numbers, limits).allSatisfy({ $1.contains($0) }) else { return nil }
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5])
    }
}

/// A filter value that cannot mean anything, and which one (after, before, format, near, within).
public struct PhotoFilterError: Error, CustomStringConvertible {
    public let field: String
    public let message: String

    init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field) \(message)" }
}

/// A circle on the Earth: photos taken within `kilometres` of a point (great-circle distance).
public struct Place: Sendable, Equatable {
    public let latitude: Double
    public let longitude: Double
    public let kilometres: Double

    /// "LAT,LON" in degrees (north and east positive) and a positive radius; nil otherwise.
    public init?(_ text: String, kilometres: Double) {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let latitude = Double(parts[0]), let longitude = Double(parts[1]),
              (-90...90).contains(latitude), (-180...180).contains(longitude),
              kilometres.isFinite, kilometres > 0 else { return nil }
        self.latitude = latitude
        self.longitude = longitude
        self.kilometres = kilometres
    }

    static let earthRadius = 6371.0088  // km, the IUGG mean radius

    /// Whether a point lies within the circle (haversine).
    public func contains(latitude: Double, longitude: Double) -> Bool {
        let radians = Double.pi / 180
        let dLat = (latitude - self.latitude) * radians, dLon = (longitude - self.longitude) * radians
        let a = pow(sin(dLat / 2), 2) + cos(self.latitude * radians) * cos(latitude * radians) * pow(sin(dLon / 2), 2)
        return 2 * Self.earthRadius * asin(min(1, sqrt(a))) <= kilometres
    }

    /// Latitudes and longitudes that hold the circle (a pre-filter); no longitude bound near
    /// a pole or across the antimeridian.
    public var boundingBox: (latitudes: ClosedRange<Double>, longitudes: ClosedRange<Double>?) {
        let degrees = kilometres / Self.earthRadius * 180 / .pi
        let latitudes = max(-90, latitude - degrees)...min(90, latitude + degrees)
        let cosine = cos(max(abs(latitudes.lowerBound), abs(latitudes.upperBound)) * .pi / 180)
        guard cosine > 0.01 else { return (latitudes, nil) }
        let spread = degrees / cosine
        guard longitude - spread >= -180, longitude + spread <= 180 else { return (latitudes, nil) }
        return (latitudes, (longitude - spread)...(longitude + spread))
    }
}
