import Testing
@testable import Embeddings

/// What `status` says a command would run on: `auto` resolved per device, and the CPU's
/// int8 instructions read from /proc/cpuinfo.
struct AutoComputeTests {
    /// A /proc/cpuinfo of one core with these flags (the real file repeats it per core).
    static func cpuInfo(name: String, flags: String) -> String {
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: \(name)\nflags\t\t: \(flags)\nbogomips\t: 4000\n\nprocessor\t: 1\nmodel name\t: \(name)\nflags\t\t: \(flags)\n"
    }

    @Test(arguments: [
        ("fpu sse4_1 avx fma avx2", "AVX2"),
        ("fpu avx2 avx512f avx512bw avx512_vnni avx512_bf16", "AVX-512 VNNI"),
        ("fpu avx2 avx_vnni", "AVX-VNNI"),
        ("fpu sse2 sse4_2", "none"),
        ("fpu avx2 avx512f", "AVX2"),
    ])
    func theInt8InstructionsComeFromTheFlags(flags: String, expected: String) {
        let compute = AutoCompute.resolve(ComputeOptions(), cpuInfo: Self.cpuInfo(name: "Test CPU @ 3.0GHz", flags: flags),
                                          cudaAvailable: false)
        #expect(compute.int8Instructions == expected)
        #expect(compute.processor == "Test CPU @ 3.0GHz")
    }

    @Test func autoIsFp32OnTheCpuAndFp16OnAGpu() {
        let info = Self.cpuInfo(name: "AMD EPYC", flags: "avx2 avx512_vnni")
        #expect(AutoCompute.resolve(ComputeOptions(), cpuInfo: info, cudaAvailable: false)
            == AutoCompute(device: "cpu", precision: "fp32", processor: "AMD EPYC", int8Instructions: "AVX-512 VNNI"))
        let gpu = AutoCompute.resolve(ComputeOptions(), cpuInfo: info, cudaAvailable: true)
        #expect((gpu.device, gpu.precision) == ("cuda:0", "fp16"))
        let forcedCPU = AutoCompute.resolve(ComputeOptions(device: "cpu"), cpuInfo: info, cudaAvailable: true)
        #expect((forcedCPU.device, forcedCPU.precision) == ("cpu", "fp32"))
        let named = AutoCompute.resolve(ComputeOptions(device: "cuda", precision: .bf16), cpuInfo: info, cudaAvailable: true)
        #expect((named.device, named.precision) == ("cuda:0", "bf16"))
        let int8 = AutoCompute.resolve(ComputeOptions(precision: .int8), cpuInfo: info, cudaAvailable: false)
        #expect((int8.device, int8.precision) == ("cpu", "int8"))
    }

    @Test func anUnreadableCpuInfoSaysUnknown() {
        let compute = AutoCompute.resolve(ComputeOptions(), cpuInfo: "", cudaAvailable: false)
        #expect(compute.processor == "unknown")
        #expect(compute.int8Instructions == "none")
    }
}
