import Foundation

/// What a file's name says about its content.
enum ImageFileName {
    /// Extensions of the image formats the decoders read (and their usual variants).
    static let imageExtensions: Set<String> = [
        "jpg", "jpeg", "jpe", "jfif", "png", "webp", "heic", "heif", "hif", "avif", "tif", "tiff", "gif",
    ]

    /// Whether the name ends in an image extension: such a file that holds no image is a
    /// failure worth reporting (damaged, truncated, mislabelled), not a file to pass over.
    static func looksLikeImage(_ path: String) -> Bool {
        imageExtensions.contains((path as NSString).pathExtension.lowercased())
    }
}
