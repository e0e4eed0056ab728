import ArgumentParser
import Embeddings
import Foundation

extension Precision: ExpressibleByArgument {}

/// Options shared by every command that loads the model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Hugging Face snapshot directory of a BLIP-2 retrieval model (config.json, model.safetensors, vocab.txt).",
        valueName: "dir"))
    var model: String

    @Option(help: "Where the model runs: auto (CUDA when this build's libtorch has it), cpu, cuda or cuda:N.")
    var device = "auto"

    @Option(help: "Compute precision: auto (fp32 on CPU, fp16 on CUDA), fp32, fp16 (GPU only) or bf16.")
    var precision: Precision = .auto

    @Option(help: "CPU threads for the model (default: libtorch's choice, one per core).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        do {
            try ComputeOptions(device: device).validate()
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Loads the model's `parts`, after applying the thread count; warns about a slow BLAS.
    func load(parts: ModelParts) throws -> Blip2Model {
        if let threads { ComputeThreads.set(threads) }
        let model = try Blip2Model(directory: URL(fileURLWithPath: self.model),
                                   options: ComputeOptions(device: device, precision: precision, parts: parts))
        if model.device == "cpu", let warning = BlasBackend.current().warning {
            log.warning("\(warning)")
        }
        log.debug("loaded \(self.model) on \(model.device) in \(model.precision)")
        return model
    }
}
