// swift-tools-version:6.0
import Foundation
import PackageDescription

/// libtorch to build against: Debian's `libtorch-dev` (CPU) by default, or the root of any
/// other libtorch (a CUDA build, e.g. `python -c 'import torch,os;print(os.path.dirname(torch.__file__))'`)
/// named by IMGSEARCH_LIBTORCH. See README, "GPU build".
let customLibtorch = Context.environment["IMGSEARCH_LIBTORCH"]

/// libtorch 2.x headers (from 2.10 on) need C++20; Debian's 1.13 needs C++17 and fails under C++20.
let libtorchCompileFlags = customLibtorch.map {
    ["-I\($0)/include", "-I\($0)/include/torch/csrc/api/include", "-std=c++20"]
} ?? ["-I/usr/include/torch/csrc/api/include"]

let libtorchLinkFlags: [String] = customLibtorch.map { root in
    var flags = ["-L\(root)/lib", "-Xlinker", "-rpath", "-Xlinker", "\(root)/lib"]
    // A CUDA build: --no-as-needed keeps torch_cuda linked; nothing references it by
    // symbol, but its static initialisers register the CUDA backend.
    if FileManager.default.fileExists(atPath: "\(root)/lib/libtorch_cuda.so") {
        flags += ["-Xlinker", "--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Xlinker", "--as-needed"]
    }
    return flags
} ?? []

let package = Package(
    name: "imgsearch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "imgsearch", targets: ["imgsearch"]),
        .library(name: "Embeddings", targets: ["Embeddings"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.60.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        .target(
            name: "CBlip2",
            path: "Sources/Embeddings/CBlip2",
            cxxSettings: [.unsafeFlags(libtorchCompileFlags + ["-Wno-deprecated-declarations"])],
            linkerSettings: [
                .unsafeFlags(libtorchLinkFlags),
                .linkedLibrary("torch"),
                .linkedLibrary("torch_cpu"),
                .linkedLibrary("c10"),
                .linkedLibrary("dnnl"),
            ]
        ),
        .target(
            name: "CImageDecode",
            path: "Sources/Embeddings/CImageDecode",
            linkerSettings: [
                .linkedLibrary("jpeg"), .linkedLibrary("png"), .linkedLibrary("webp"), .linkedLibrary("webpdemux"),
                .linkedLibrary("heif"), .linkedLibrary("tiff"), .linkedLibrary("gif"), .linkedLibrary("exif"),
            ]
        ),
        .target(
            name: "Embeddings",
            dependencies: [
                "CBlip2",
                "CImageDecode",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["CBlip2", "CImageDecode"]
        ),
        .target(
            name: "Store",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "CFaiss",
            path: "Sources/Query/CFaiss",
            linkerSettings: [
                // Debian's FAISS is a static library: its BLAS, LAPACK and OpenMP come after it.
                .linkedLibrary("faiss"), .linkedLibrary("blas"), .linkedLibrary("lapack"),
                .linkedLibrary("gomp"), .linkedLibrary("m"),
            ]
        ),
        .target(
            name: "CQuantizedScan",
            path: "Sources/Query/CQuantizedScan",
            // The scan is the hot loop of every query: optimised in debug builds too.
            cxxSettings: [.unsafeFlags(["-O3"])]
        ),
        .target(
            name: "Query",
            dependencies: ["CFaiss", "CQuantizedScan", "Store"],
            exclude: ["CFaiss", "CQuantizedScan"]
        ),
        .target(
            name: "Indexer",
            dependencies: [
                "Embeddings",
                "Store",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Library",
            dependencies: [
                "Embeddings",
                "Indexer",
                "PostgresStore",
                "Query",
                "Store",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "PostgresStore",
            dependencies: [
                "Query",
                "Store",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ModelHub",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "Server",
            dependencies: [
                "Library",
                "Query",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .executableTarget(
            name: "imgsearch",
            dependencies: [
                "Embeddings",
                "Indexer",
                "Library",
                "ModelHub",
                "Query",
                "PostgresStore",
                "Server",
                "Store",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Yams", package: "Yams"),
            ],
            resources: [.copy("Resources")]
        ),
        .executableTarget(
            name: "EmbedBenchmark",
            dependencies: ["Embeddings"],
            path: "bench/EmbedBenchmark"
        ),
        .executableTarget(
            name: "CaptionBenchmark",
            dependencies: ["Embeddings"],
            path: "bench/CaptionBenchmark"
        ),
        .executableTarget(
            name: "DuplicatesBenchmark",
            dependencies: ["Library", "Store", "TestSupport"],
            path: "bench/DuplicatesBenchmark"
        ),
        .target(
            name: "BenchmarkData",
            dependencies: ["Store", "TestSupport"],
            path: "bench/BenchmarkData"
        ),
        .executableTarget(
            name: "SearchBenchmark",
            dependencies: ["BenchmarkData", "Query", "Store"],
            path: "bench/SearchBenchmark"
        ),
        .executableTarget(
            name: "StoreBenchmark",
            dependencies: ["BenchmarkData", "PostgresStore", "Query", "Store"],
            path: "bench/StoreBenchmark"
        ),
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "EmbeddingsTests",
            dependencies: ["Embeddings", "Store", "TestSupport"]
        ),
        .executableTarget(
            name: "CatalogWriterFixture",
            dependencies: ["Store"],
            path: "Tests/CatalogWriterFixture"
        ),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Store", "TestSupport"]
        ),
        .testTarget(
            name: "IndexerTests",
            dependencies: ["Indexer", "Store", "TestSupport"]
        ),
        .testTarget(
            name: "QueryTests",
            dependencies: ["Query", "TestSupport"]
        ),
        .testTarget(
            name: "LibraryTests",
            dependencies: [
                "Library",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "PostgresStoreTests",
            dependencies: ["PostgresStore", "Query", "Store", "TestSupport"]
        ),
        .testTarget(
            name: "ModelHubTests",
            dependencies: ["ModelHub", "TestSupport"]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: ["Server", "TestSupport"]
        ),
        .testTarget(
            name: "imgsearchTests",
            dependencies: [
                "Embeddings",
                "Store",
                "TestSupport",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
