internal import CBlip2

/// Where and how the model runs: device, precision, which parts to load.
public struct ComputeOptions: Sendable {
    /// `auto` (CUDA when the linked libtorch has it), `cpu`, `cuda` or `cuda:N`.
    public var device: String = "auto"
    public var precision: Precision = .auto
    public var parts: ModelParts = .all

    public init(device: String = "auto", precision: Precision = .auto, parts: ModelParts = .all) {
        self.device = device
        self.precision = precision
        self.parts = parts
    }

    /// Fails on a device name the engine would not understand, before any weight is read.
    public func validate() throws(ModelError) {
        let valid = device == "auto" || device == "cpu" || device == "cuda"
            || (device.hasPrefix("cuda:") && UInt(device.dropFirst(5)) != nil)
        guard valid else {
            throw .invalidOption(name: "device", value: device, reason: "use auto, cpu, cuda or cuda:N")
        }
    }
}

/// Compute precision. fp32 is the reference on the CPU; fp16/bf16 halve memory on a GPU.
public enum Precision: String, Sendable, CaseIterable {
    case auto, fp32, fp16, bf16

    var native: blip2_dtype {
        switch self {
        case .auto: BLIP2_DTYPE_AUTO
        case .fp32: BLIP2_DTYPE_FP32
        case .fp16: BLIP2_DTYPE_FP16
        case .bf16: BLIP2_DTYPE_BF16
        }
    }
}

/// Which halves of the model to load: a text-only search needs no 1B-parameter vision tower.
public struct ModelParts: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let image = ModelParts(rawValue: Int32(BLIP2_PART_IMAGE.rawValue))
    public static let text = ModelParts(rawValue: Int32(BLIP2_PART_TEXT.rawValue))
    public static let matching = ModelParts(rawValue: Int32(BLIP2_PART_ITM.rawValue))
    public static let all: ModelParts = [.image, .text, .matching]
}

/// libtorch's process-wide CPU thread pool.
public enum ComputeThreads {
    public static var count: Int { Int(blip2_get_num_threads()) }

    public static func set(_ threads: Int) {
        blip2_set_num_threads(Int32(clamping: threads))
    }

    public static var cudaAvailable: Bool { blip2_cuda_available() != 0 }
}
