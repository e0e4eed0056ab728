import Foundation

/// What a command's `device` and `precision` settings resolve to on this machine, without
/// loading a model, and the processor they run on: `imgsearch status` reports it.
///
/// `auto` is CUDA in fp16 where the linked libtorch has a GPU. On a CPU it is fp32 on every
/// family, those where int8 measures fastest included (AVX-512 VNNI, README "Precision on
/// the CPU"): int8's vectors are close to fp32's but not equal, a catalog made with one is
/// not searched with the other, and their accuracy with the real weights is not measured.
public struct AutoCompute: Sendable, Encodable, Equatable {
    /// The device models run on: "cpu" or "cuda:0".
    public let device: String
    /// The precision models compute in: "fp32", "fp16", "bf16" or "int8".
    public let precision: String
    /// The processor's name, as /proc/cpuinfo gives it, or "unknown".
    public let processor: String
    /// The int8 dot products oneDNN can use on it: "AVX-512 VNNI", "AVX-VNNI", "AVX2" or "none".
    public let int8Instructions: String

    /// Resolves `options` (their `auto`s) for this machine, whose /proc/cpuinfo is `cpuInfo`.
    public static func resolve(_ options: ComputeOptions,
                               cpuInfo: String = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "",
                               cudaAvailable: Bool = ComputeThreads.cudaAvailable) -> AutoCompute {
        let device = options.device == "auto" ? (cudaAvailable ? "cuda:0" : "cpu")
            : options.device == "cuda" ? "cuda:0" : options.device
        let precision = options.precision == .auto ? (device == "cpu" ? "fp32" : "fp16") : options.precision.rawValue
        let processor = Self.field("model name", in: cpuInfo) ?? "unknown"
        let flags = Set((Self.field("flags", in: cpuInfo) ?? "").split(separator: " ").map(String.init))
        let int8Instructions = flags.contains("avx512_vnni") ? "AVX-512 VNNI"
            : flags.contains("avx_vnni") ? "AVX-VNNI"
            : flags.contains("avx2") ? "AVX2" : "none"
        return AutoCompute(device: device, precision: precision, processor: processor, int8Instructions: int8Instructions)
    }

    /// The value of the first "name : value" line of `cpuInfo` with this name.
    private static func field(_ name: String, in cpuInfo: String) -> String? {
        for line in cpuInfo.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
