import ArgumentParser
import Embeddings
import Foundation
import Indexer
import Library
import ModelHub
import Query

/// `imgsearch demo`: index the bundled demo pictures and search them, with no set-up.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Index the bundled demo pictures into a temporary catalog and search them.",
        discussion: """
            Uses the real BLIP-2 (Salesforce/blip2-itm-vit-g) when it is in the Hugging Face
            cache (`imgsearch model pull`), else the bundled TOY model: a tiny BLIP-2 trained
            on synthetic coloured shapes, which understands "a red circle" and nothing else.
            The demo pictures are shapes the toy model never saw in training. Each result
            is marked ✓ when its picture has the colour and shape the query names.
            Then the bundled TOY captioner (a tiny Blip2ForConditionalGeneration sharing the
            toy model's vision tower) describes three pictures and answers a question about
            a fourth, each marked ✓ when it names the right colour and shape.
            """)

    @Argument(help: "Queries (default: six colour + shape captions).")
    var queries: [String] = []

    @Option(help: "Results per query.")
    var limit = 3

    @Option(help: ArgumentHelp("A snapshot folder or hub id to use instead.", valueName: "dir"))
    var model: String?

    func run() async throws {
        let resources = try BundledResources.locate()
        let captions = try DemoCaptions(contentsOf: resources.demoImages.appendingPathComponent("captions.json"))
        let directory = try modelDirectory(resources)
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("imgsearch-demo-\(getpid())")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: workspace) }

        let blip2 = try Blip2Model(directory: directory, options: ComputeOptions(parts: [.image, .text]))
        let library = try PhotoLibrary(path: workspace.appendingPathComponent("catalog.sqlite").path, create: true)
        let indexRun = try library.indexRun(model: blip2, batchSize: 16)
        let summary = try indexRun.run(Crawler(roots: [resources.demoImages.path]))
        print("indexed \(summary.embedded) demo pictures from \(resources.demoImages.path)\n")

        let search = try library.search(model: indexRun.modelRecord, kind: .exact)
        var hits = 0
        let chosen = queries.isEmpty ? captions.sampleQueries : queries
        for query in chosen {
            let text = try blip2.embedTexts([query])[0]
            let results = try search.search(SearchRequest(vectors: text.values, limit: limit))
            print("\"\(query)\"")
            for (rank, result) in results.enumerated() {
                let name = (result.paths[0] as NSString).lastPathComponent
                let match = captions.matches(query: query, image: name)
                if rank == 0 && match == true { hits += 1 }
                let mark = match.map { $0 ? "✓" : "✗" } ?? " "
                print(String(format: "  %@ %6.3f  %@", mark, result.score, name))
            }
        }
        if queries.isEmpty { print("\n\(hits) of \(chosen.count) queries found a matching picture first.") }
        try describe(pictures: captions, in: resources)
    }

    /// Three captions and one answer by the toy captioner, each checked against the picture.
    private func describe(pictures captions: DemoCaptions, in resources: BundledResources) throws {
        let generator = try Blip2Generator(directory: resources.toyCaptioner, options: ComputeOptions(device: "cpu"))
        // Four pictures, no two of the same colour or shape.
        var chosen: [String] = []
        for name in captions.images.keys.sorted() where chosen.count < 4 {
            let picture = captions.images[name]!
            if !chosen.contains(where: { captions.images[$0]!.colour == picture.colour || captions.images[$0]!.shape == picture.shape }) {
                chosen.append(name)
            }
        }
        guard chosen.count == 4 else { return }
        let paths = chosen.map { resources.demoImages.appendingPathComponent($0).path }
        print("\ncaptions by the toy captioner (\(resources.toyCaptioner.lastPathComponent)):")
        for (name, (_, text)) in zip(chosen, try generator.texts(ofImagesAt: Array(paths.prefix(3)), prompt: "", options: .caption)) {
            let caption = (try? text.get()) ?? "(\(text))"
            let picture = captions.images[name]!
            let words = Set(caption.split(separator: " ").map(String.init))
            let right = words.contains(picture.colour) && words.contains(picture.shape)
            print("  \(right ? "✓" : "✗") \(name): \(caption)")
        }
        let question = "what colour is the shape?"
        let answer = try generator.texts(ofImagesAt: [paths[3]], prompt: VisualQuestion.prompt(question),
                                         options: .answer(for: generator.config.language.family))[0].text
        let text = (try? answer.get()) ?? "(\(answer))"
        print("  \(text == captions.images[chosen[3]]!.colour ? "✓" : "✗") \(chosen[3]): \(question) \(text)")
    }

    /// --model, else the real model from the cache, else the toy; says which.
    private func modelDirectory(_ resources: BundledResources) throws -> URL {
        if let model {
            return URL(fileURLWithPath: try ModelOptions.parse(["--model", model]).directory(Configuration()) ?? model)
        }
        if let real = HubCache.standard().snapshot(repo: Model.defaultRepository) {
            log.info("using BLIP-2 from \(real.path)")
            return real
        }
        log.notice("""
            no BLIP-2 weights in \(HubCache.standard().root.path): using the bundled TOY model (synthetic \
            coloured shapes only). `imgsearch model pull` downloads the real one (4.7 GB).
            """)
        return resources.toyModel
    }
}

/// The files installed beside the executable: SwiftPM's resource bundle, which the build
/// folder and the Debian package (`/usr/lib/imgsearch/`) both place next to the binary.
struct BundledResources {
    let toyModel: URL
    let toyCaptioner: URL
    let demoImages: URL

    static func locate() throws -> BundledResources {
        // The running binary's own path: argv[0] is only "imgsearch" when it was found on PATH.
        guard let resolved = realpath("/proc/self/exe", nil) else {
            throw CommandError("the demo files are missing: cannot find this program's own path (/proc/self/exe)")
        }
        defer { free(resolved) }
        let executable = URL(fileURLWithPath: String(cString: resolved))
        let folder = executable.deletingLastPathComponent().appendingPathComponent("imgsearch_imgsearch.resources/Resources")
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("toy-model/config.json").path) else {
            throw CommandError("the demo files are missing: no \(folder.path)/toy-model beside \(executable.path)")
        }
        return BundledResources(toyModel: folder.appendingPathComponent("toy-model"),
                                toyCaptioner: folder.appendingPathComponent("toy-captioner"),
                                demoImages: folder.appendingPathComponent("demo-images"))
    }
}

/// `demo-images/captions.json`: each picture's colour and shape, and the queries.
struct DemoCaptions: Decodable {
    struct Picture: Decodable {
        let colour: String
        let shape: String
    }

    let images: [String: Picture]
    let queries: [String]

    init(contentsOf url: URL) throws {
        self = try JSONDecoder().decode(DemoCaptions.self, from: Data(contentsOf: url))
    }

    /// One query in seven, so a run shows several colours and shapes.
    var sampleQueries: [String] { stride(from: 0, to: queries.count, by: 7).map { queries[$0] } }

    /// Whether `image` shows what `query` names ("a red circle"); nil when the query names
    /// no known colour and shape.
    func matches(query: String, image: String) -> Bool? {
        let words = Set(query.lowercased().split(whereSeparator: { !$0.isLetter }).map(String.init))
        let colours = Set(images.values.map(\.colour)), shapes = Set(images.values.map(\.shape))
        guard let colour = words.intersection(colours).first, let shape = words.intersection(shapes).first,
              let picture = images[image] else { return nil }
        return picture.colour == colour && picture.shape == shape
    }
}
