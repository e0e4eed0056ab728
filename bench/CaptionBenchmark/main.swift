// Captioning speed and memory of imgsearch's native engine, measured the same way as
// bench/reference_caption.py measures transformers: the same pixels and prompt ids, greedy
// decoding, a 1-token run (time to first token: vision tower, Q-Former, prompt; run twice,
// the first also pages the mapped weights in) and an N-token run; tokens/s over the N-1
// tokens after the first. Prints one JSON line with the ids, for bench/caption.sh to compare.
import Embeddings
import Foundation

struct Arguments {
    var model = ""
    var pixels = ""
    var threads: Int?
    var newTokens = 20
    var precision = Precision.fp32

    init(_ argv: [String]) {
        var iterator = argv.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--model": model = value
            case "--pixels": pixels = value
            case "--threads": threads = Int(value)
            case "--new-tokens": newTokens = Int(value) ?? 20
            case "--precision": precision = Precision(rawValue: value) ?? .fp32
            default: fatalError("unknown option \(flag); see bench/caption.sh")
            }
        }
    }
}

/// Peak resident set (VmHWM) and the current anonymous and file-backed parts, in MB.
func memory() -> [String: Double] {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    var result = ["peak_rss_mb": Double(usage.ru_maxrss) / 1024]
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") {
        let parts = line.split(whereSeparator: \.isWhitespace)
        if parts.count >= 2, let kilobytes = Double(parts[1]) {
            if parts[0] == "RssAnon:" { result["rss_anon_mb"] = kilobytes / 1024 }
            if parts[0] == "RssFile:" { result["rss_file_mb"] = kilobytes / 1024 }
        }
    }
    return result
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

let arguments = Arguments(CommandLine.arguments)
if let threads = arguments.threads { ComputeThreads.set(threads) }
var generator: Blip2Generator!
let loadSeconds = try seconds {
    generator = try Blip2Generator(directory: URL(fileURLWithPath: arguments.model),
                                   options: ComputeOptions(device: "cpu", precision: arguments.precision))
}
let pixelData = try Data(contentsOf: URL(fileURLWithPath: arguments.pixels))
let pixels = pixelData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
let prompt = generator.snapshot.promptIDs("")
var ids: [[Int32]] = []
// The first call also pages the memory-mapped weights in; the second is the steady state.
let coldFirstTokenSeconds = try seconds {
    ids = try generator.generate(pixels: pixels, count: 1, prompts: [prompt], options: .greedy(maxNewTokens: 1))
}
let firstTokenSeconds = try seconds {
    ids = try generator.generate(pixels: pixels, count: 1, prompts: [prompt], options: .greedy(maxNewTokens: 1))
}
let allSeconds = try seconds {
    ids = try generator.generate(pixels: pixels, count: 1, prompts: [prompt], options: .greedy(maxNewTokens: arguments.newTokens))
}
let generated = ids[0].count
// The default `imgsearch caption` recipe (5 beams, 1 to 30 tokens) on the same image.
var captionIDs: [[Int32]] = []
let captionSeconds = try seconds {
    captionIDs = try generator.generate(pixels: pixels, count: 1, prompts: [prompt], options: .caption)
}
var report: [String: Any] = [
    "load_seconds": loadSeconds, "first_token_seconds": firstTokenSeconds, "total_seconds": allSeconds,
    "cold_first_token_seconds": coldFirstTokenSeconds, "caption_recipe_seconds": captionSeconds,
    "caption_recipe_tokens": captionIDs[0].count,
    "new_tokens": generated, "tokens_per_s": Double(generated - 1) / max(allSeconds - firstTokenSeconds, 1e-9),
    "ids": ids[0].map(Int.init), "prompt": prompt.map(Int.init), "threads": ComputeThreads.count,
    "precision": generator.precision, "blas": "\(BlasBackend.current())",
]
report.merge(memory()) { $1 }
print(String(decoding: try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys]), as: UTF8.self))
