import ArgumentParser
import Embeddings
import Foundation

extension Precision: ExpressibleByArgument {}

/// Options shared by every command that loads the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Hugging Face snapshot directory of a BLIP-2 retrieval model (config.json, model.safetensors, vocab.txt); default: `model` in the config file.",
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

    /// Loads the model's `parts` (flags first, then the config file), after applying the
    /// thread count; warns about a slow BLAS.
    func load(parts: ModelParts, config: Configuration) throws -> Blip2Model {
        guard let directory = model ?? config.model else {
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
