// Image-embedding throughput of imgsearch's native engine, measured the same way as
// bench/reference_embed.py measures transformers: one batch, one untimed warm-up pass,
// then --runs timed passes; prints one JSON line. bench/embed.sh runs both and compares.
import Embeddings
import Foundation

struct Arguments {
    var model = ""
    var pixels = ""
    var threads: Int?
    var runs = 1
    var device = "cpu"
    var precision = Precision.fp32
    var embeddingsOut: String?

    init(_ argv: [String]) {
        var iterator = argv.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--model": model = value
            case "--pixels": pixels = value
            case "--threads": threads = Int(value)
            case "--runs": runs = Int(value) ?? 1
            case "--device": device = value
            case "--precision": precision = Precision(rawValue: value) ?? .fp32
            case "--embeddings-out": embeddingsOut = value
            default: fatalError("unknown option \(flag); see bench/embed.sh")
            }
        }
    }
}

func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // KiB on Linux
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let arguments = Arguments(CommandLine.arguments)
if let threads = arguments.threads { ComputeThreads.set(threads) }
var model: Blip2Model!
let loadSeconds = try seconds {
    model = try Blip2Model(directory: URL(fileURLWithPath: arguments.model),
                           options: ComputeOptions(device: arguments.device, precision: arguments.precision, parts: .image))
}
let loadedResidentMegabytes = peakResidentMegabytes()
let pixelData = try Data(contentsOf: URL(fileURLWithPath: arguments.pixels))
let pixels = pixelData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
let batch = pixels.count / model.pixelsPerImage
var embeddings = try model.embedImages(pixels: pixels, count: batch)  // warm-up
var runSeconds: [Double] = []
for _ in 0..<arguments.runs {
    runSeconds.append(try seconds { embeddings = try model.embedImages(pixels: pixels, count: batch) })
}
if let out = arguments.embeddingsOut {
    let flat = embeddings.flatMap(\.values)
    try flat.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: out))
}
let median = runSeconds.sorted()[runSeconds.count / 2]
let report: [String: Any] = [
    "images_per_s": Double(batch) / median, "seconds": median, "run_seconds": runSeconds,
    "load_seconds": loadSeconds, "peak_rss_mb": peakResidentMegabytes(), "peak_rss_after_load_mb": loadedResidentMegabytes, "batch": batch,
    "threads": ComputeThreads.count, "device": model.device, "precision": model.precision,
    "blas": "\(BlasBackend.current())",
]
print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
