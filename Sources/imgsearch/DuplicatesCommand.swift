import ArgumentParser
import Embeddings
import Foundation
import Library
import PostgresStore
import Store

/// `imgsearch duplicates`: groups of copies, re-encodes, resizes, crops and (with --scene)
/// near-repeats of the same scene, best photo first.
struct Duplicates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List groups of duplicate photos: byte-identical copies, re-encodes, resizes, crops and small edits (a perceptual signature read while indexing), and with --scene the same scene (BLIP-2 embeddings). The best photo (largest, then newest) comes first.",
        discussion: """
            Every pair of photos is compared, exactly: at 100k photos the perceptual level \
            takes about 20 s and both levels (--scene) about 80 s on 2 cores (bench/duplicates/scale.sh). \
            The --scene threshold is provisional: it was not measured with the real BLIP-2 weights.
            """)

    @OptionGroup var catalogOptions: CatalogOptions
    @OptionGroup(title: "PostgreSQL store") var storeOptions: StoreOptions
    @OptionGroup var configOption: ConfigOption
    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("Largest perceptual distance (bits of 63) between duplicates; 10 finds re-encodes, resizes, 10 % crops and small edits with precision 1.0 and recall 0.997 on real photos (bench/duplicates).", valueName: "bits"))
    var threshold = PerceptualSignature.defaultThreshold

    @Flag(help: "Also group photos of the same scene (bursts, slight reframing) by their BLIP-2 embeddings: --model's, or the catalog's only model.")
    var scene = false

    @Option(help: ArgumentHelp("Cosine of the mean embeddings above which --scene groups two photos (provisional default \(DuplicateFinder.defaultSceneThreshold)).", valueName: "cosine"))
    var sceneThreshold: Float?

    @Option(help: ArgumentHelp("Only files under this folder (repeatable).", valueName: "folder"))
    var under: [String] = []

    @Flag(help: "Print one JSON object per group.")
    var json = false

    func validate() throws {
        guard (0...63).contains(threshold) else { throw ValidationError("--threshold is a number of bits from 0 to 63") }
        if let sceneThreshold, !(-1...1).contains(sceneThreshold) { throw ValidationError("--scene-threshold is a cosine from -1 to 1") }
    }

    func run() async throws {
        let config = try configOption.load()
        let store = try storeOptions.postgres(config, besides: catalogOptions, create: false)
        defer { store?.close() }
        let catalog: any PictureCatalog = try store ?? catalogOptions.library(config).catalog
        let roots = under.isEmpty ? nil : under.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        let finder = DuplicateFinder(threshold: threshold,
                                     sceneThreshold: scene || sceneThreshold != nil ? sceneThreshold ?? DuplicateFinder.defaultSceneThreshold : nil)
        let modelId = finder.sceneThreshold == nil ? nil : try sceneModel(catalog, config: config)
        let groups = try finder.groups(in: catalog, under: roots, modelId: modelId)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for group in groups { print(String(decoding: try encoder.encode(group), as: UTF8.self)) }
            return
        }
        for (number, group) in groups.enumerated() {
            if number > 0 { print("") }
            for photo in group.photos { print(Self.line(photo)) }
        }
        let photos = groups.reduce(0) { $0 + $1.photos.count }
        let groupsText = groups.count == 1 ? "1 group" : "\(groups.count) groups"
        FileHandle.standardError.write(Data("\(groupsText), \(photos) photos; \(photos - groups.count) could go, keeping the first of each\n".utf8))
    }

    /// The model whose embeddings --scene compares: --model (or the config's), else the
    /// catalog's only one.
    private func sceneModel(_ catalog: any PictureCatalog, config: Configuration) throws -> String {
        if let directory = try modelOptions.directory(config) {
            return try modelOptions.embeddingID(directory: directory, config: config)
        }
        let models = try catalog.models()
        guard models.count == 1 else {
            throw CommandError(models.isEmpty ? "--scene needs embeddings: the catalog has none"
                               : "--scene: the catalog has embeddings from \(models.count) models; choose one with --model")
        }
        return models[0].id
    }

    /// "  keep  PATH  (W×H, taken)" or "  dup   PATH  (...; distance 3)".
    static func line(_ photo: DuplicatePhoto) -> String {
        let picture = photo.picture
        var details: [String] = []
        if let width = picture.width, let height = picture.height { details.append("\(width)×\(height)") }
        if let taken = picture.takenAt { details.append(taken) }
        switch photo.match {
        case .best: return "keep  \(picture.path)  (\(details.joined(separator: ", ")))"
        case .identical: details.append("identical")
        case .perceptual(let distance): details.append("perceptual distance \(distance)")
        case .scene(let similarity): details.append(String(format: "same scene %.3f", similarity))
        }
        return "dup   \(picture.path)  (\(details.joined(separator: ", ")))"
    }
}
