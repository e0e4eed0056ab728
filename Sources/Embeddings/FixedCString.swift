/// The text of a fixed-size C character array imported as a tuple (an error message, an
/// EXIF field): its bytes up to the first NUL, as UTF-8.
func fixedCString<Characters>(_ characters: Characters) -> String {
    withUnsafeBytes(of: characters) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
}
