import ArgumentParser
import Embeddings
import Foundation
import ModelHub

extension Precision: ExpressibleByArgument {}

/// Options shared by every command that loads the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A BLIP-2 retrieval model: a snapshot folder (config.json, model.safetensors, vocab.txt) or a hub id like Salesforce/blip2-itm-vit-g found in the Hugging Face cache; default: `model` in the config file.",
        valueName: "dir"))
    var model: String?

    @Option(help: "Where the model runs: auto (CUDA when this build's libtorch has it), cpu, cuda or cuda:N (default: auto).")
    var device: String?

    @Option(help: "Compute precision: auto (fp32 on CPU, fp16 on CUDA), fp32, fp16 (GPU only) or bf16.")
    var precision: Precision?

    @Option(help: "CPU threads for the model (default: one per core).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let device { try Self.check(device: device) }
    }

    private static func check(device: String) throws {
        do {
            try ComputeOptions(device: device).validate()
        } catch {
            throw CommandError(error.description)
        }
    }

    /// The snapshot folder named by --model or the config file: a folder as given, or a
    /// repository id (ORG/NAME) resolved in the Hugging Face cache; nil when none is named.
    func directory(_ config: Configuration) throws -> String? {
        guard let name = model ?? config.model else { return nil }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: name, isDirectory: &isFolder), isFolder.boolValue { return name }
        let parts = name.split(separator: "/")
        if parts.count == 2, !name.hasPrefix("."), !name.hasPrefix("/") {
            let cache = HubCache.standard()
            guard let snapshot = cache.snapshot(repo: name) else {
                throw CommandError("\(name): no such folder, and no snapshot of it in \(cache.root.path): run `imgsearch model pull \(name)`")
            }
            return snapshot.path
        }
        return name
    }

    /// Loads the model's `parts` (flags first, then the config file), after applying the
    /// thread count; warns about a slow BLAS.
    func load(parts: ModelParts, config: Configuration) throws -> Blip2Model {
        guard let directory = try directory(config) else {
            throw CommandError("no model: pass --model DIR or set `model` in \(Configuration.defaultPath)")
        }
        let device = self.device ?? config.device ?? "auto"
        try Self.check(device: device)
        let precision = try self.precision ?? config.precision.map { text in
            guard let value = Precision(rawValue: text) else {
                throw CommandError("config: precision \"\(text)\" is not one of auto, fp32, fp16, bf16")
            }
            return value
        } ?? .auto
        if let threads = threads ?? config.threads { ComputeThreads.set(threads) }
        let model = try Blip2Model(directory: URL(fileURLWithPath: directory),
                                   options: ComputeOptions(device: device, precision: precision, parts: parts))
        if model.device == "cpu", let warning = BlasBackend.current().warning {
            log.warning("\(warning)")
        }
        log.debug("loaded \(directory) on \(model.device) in \(model.precision)")
        return model
    }
}
