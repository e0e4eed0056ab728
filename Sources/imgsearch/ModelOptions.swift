import ArgumentParser
import Embeddings
import Foundation
import Library
import Store
import ModelHub

extension Precision: ExpressibleByArgument {}

/// Options shared by every command that loads the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A BLIP-2 snapshot folder (config.json, safetensors weights, tokenizer files) or a hub id found in the Hugging Face cache: a retrieval model like Salesforce/blip2-itm-vit-g for search, embed and match (default: `model` in the config file), a captioning model like Salesforce/blip2-opt-2.7b for caption and ask (default: `caption_model`).",
        valueName: "dir"))
    var model: String?

    @Option(help: "Where the model runs: auto (CUDA when this build's libtorch has it), cpu, cuda or cuda:N (default: auto).")
    var device: String?

    @Option(help: "Compute precision: auto (fp32 on CPU, fp16 on CUDA), fp32, fp16 (GPU only), bf16 (on a CPU: half the memory, fp32 accuracy) or int8 (CPU only: ~2x faster, a third of the memory, approximate; its embeddings are kept apart from fp32 ones).")
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
        try directory(named: model ?? config.model)
    }

    /// `directory(_:)` for a name given directly (a flag or another config key).
    func directory(named name: String?) throws -> String? {
        guard let name else { return nil }
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
        let model = try Blip2Model(directory: URL(fileURLWithPath: directory),
                                   options: try computeOptions(parts: parts, config: config))
        announce(directory: directory, device: model.device, precision: model.precision)
        return model
    }

    /// Loads a captioning model: --model, else `caption_model` in the config file.
    func loadGenerator(config: Configuration) throws -> Blip2Generator {
        try loadGenerator(named: model ?? config.captionModel, config: config)
    }

    /// Loads the captioning model `name` (a folder or a cached hub id) with these options' device and precision.
    func loadGenerator(named name: String?, config: Configuration) throws -> Blip2Generator {
        guard let directory = try directory(named: name) else {
            throw CommandError("no captioning model: pass --model DIR (e.g. Salesforce/blip2-opt-2.7b) or set `caption_model` in \(Configuration.defaultPath)")
        }
        let generator = try Blip2Generator(directory: URL(fileURLWithPath: directory),
                                           options: try computeOptions(parts: .all, config: config))
        announce(directory: directory, device: generator.device, precision: generator.precision)
        return generator
    }

    /// Device and precision from the flags, then the config file; applies the thread count.
    private func computeOptions(parts: ModelParts, config: Configuration) throws -> ComputeOptions {
        let configured = try Self.configuredCompute(config)
        let device = self.device ?? configured.device
        try Self.check(device: device)
        if let threads = threads ?? config.threads { ComputeThreads.set(threads) }
        return ComputeOptions(device: device, precision: self.precision ?? configured.precision, parts: parts)
    }

    /// The precision from the flag, then the config file (default auto).
    func precision(_ config: Configuration) throws -> Precision {
        try self.precision ?? Self.configuredCompute(config).precision
    }

    /// Device and precision from the config file alone (default auto); what `status` reports.
    static func configuredCompute(_ config: Configuration) throws -> ComputeOptions {
        let precision = try config.precision.map { text in
            guard let value = Precision(rawValue: text) else {
                throw CommandError("config: precision \"\(text)\" is not one of \(Precision.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return value
        } ?? .auto
        return ComputeOptions(device: config.device ?? "auto", precision: precision)
    }

    /// The catalog id of the embeddings the model in `directory` makes at the asked precision.
    func embeddingID(directory: String, config: Configuration) throws -> String {
        ModelRecord.id(snapshotIdentity: try ModelIdentity(snapshot: ModelSnapshot(directory: URL(fileURLWithPath: directory))).id,
                       precision: try precision(config).rawValue)
    }

    private func announce(directory: String, device: String, precision: String) {
        if device == "cpu", let warning = BlasBackend.current().warning {
            log.warning("\(warning)")
        }
        log.debug("loaded \(directory) on \(device) in \(precision)")
    }
}
