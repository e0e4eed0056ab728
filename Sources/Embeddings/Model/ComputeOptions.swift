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

extension ComputeOptions {
    /// Validates these options and calls a native loader with load parameters carrying
    /// them (device, dtype; `load` may set more); its failure becomes `ModelError.loadFailed`.
    func loadNative(_ load: (inout blip2_load_params, inout blip2_error) -> OpaquePointer?) throws(ModelError) -> OpaquePointer {
        try validate()
        var params = blip2_default_load_params()
        params.dtype = Int32(precision.native.rawValue)
        var error = blip2_error()
        let loaded = device.withCString { device -> OpaquePointer? in
            params.device = device
            return load(&params, &error)
        }
        guard let loaded else { throw .loadFailed(code: error.code, message: error.text) }
        return loaded
    }
}

/// Where a loaded native model runs, as its describe function reports it.
enum NativePlacement {
    /// `describe(device, deviceLength, dtype, dtypeLength)` fills two C strings: the device
    /// ("cpu", "cuda:0") and the compute precision ("fp32", "fp16", "bf16").
    static func describe(_ describe: (UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<CChar>, Int) -> Int32)
        -> (device: String, precision: String) {
        var device = [CChar](repeating: 0, count: 64)
        var dtype = [CChar](repeating: 0, count: 16)
        _ = device.withUnsafeMutableBufferPointer { deviceBuffer in
            dtype.withUnsafeMutableBufferPointer { dtypeBuffer in
                describe(deviceBuffer.baseAddress!, deviceBuffer.count, dtypeBuffer.baseAddress!, dtypeBuffer.count)
            }
        }
        func text(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return (text(device), text(dtype))
    }
}

/// Compute precision. fp32 is the reference on the CPU; fp16/bf16 halve memory on a GPU.
/// On the CPU, bf16 keeps linear weights in bf16 and computes in fp32 (half the memory,
/// fp32's accuracy), and int8 runs the vision encoder's and Q-Former's linear layers in
/// int8 (faster, a third of the memory, approximate: its embeddings are kept apart).
public enum Precision: String, Sendable, CaseIterable {
    case auto, fp32, fp16, bf16, int8

    var native: blip2_dtype {
        switch self {
        case .auto: BLIP2_DTYPE_AUTO
        case .fp32: BLIP2_DTYPE_FP32
        case .fp16: BLIP2_DTYPE_FP16
        case .bf16: BLIP2_DTYPE_BF16
        case .int8: BLIP2_DTYPE_INT8
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
