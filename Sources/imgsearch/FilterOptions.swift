import ArgumentParser
import Foundation
import Store

/// The order of a search's results.
enum ResultOrder: String, ExpressibleByArgument {
    /// Best score first.
    case score
    /// The same results, newest first (photos without a date last).
    case date
}

/// `query`'s filters: which photos a search may return (by date taken, folder, camera,
/// format and place), applied inside the search so that the top K stays exact, and the
/// order of the results.
struct FilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only photos taken at or after DATE (YYYY, YYYY-MM, YYYY-MM-DD, optionally HH:MM[:SS]): the EXIF date taken, else the file's modification time.", valueName: "date"))
    var after: String?

    @Option(help: ArgumentHelp("Only photos taken before DATE (same forms; from the start of the period named).", valueName: "date"))
    var before: String?

    @Option(help: ArgumentHelp("Only photos with a file under this folder (their copies elsewhere are not printed).", valueName: "folder"))
    var under: String?

    @Option(help: ArgumentHelp("Only photos from a camera whose make and model hold these words, e.g. \"pixel 7\".", valueName: "text"))
    var camera: String?

    @Option(help: ArgumentHelp("Only photos of this format (repeatable): jpeg, png, webp, heif, avif, tiff, gif.", valueName: "format"))
    var format: [String] = []

    @Option(help: ArgumentHelp("Only photos taken within --within km of this place (EXIF GPS), e.g. 48.8584,2.2945; south or west of 0: --near=-33.86,151.21.", valueName: "lat,lon"))
    var near: String?

    @Option(help: ArgumentHelp("Radius of --near in kilometres (default 10).", valueName: "km"))
    var within: Double?

    @Option(help: "score (best first; the default) or date (the same results, newest first).")
    var sort: ResultOrder = .score

    func validate() throws {
        _ = try filter()
    }

    /// The filter the options describe (empty without any).
    func filter() throws -> PhotoFilter {
        do {
            return try PhotoFilter(after: after, before: before, under: under, camera: camera, formats: format, near: near,
                                   within: within)
        } catch {
            throw ValidationError("--\(error.field) \(error.message)")
        }
    }
}
