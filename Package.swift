// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "cluster-proc",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "NineP", targets: ["NineP"]),
        .library(name: "ClusterProc", targets: ["ClusterProc"]),
        .executable(name: "procsrv", targets: ["procsrv"]),
        .executable(name: "cluster-launch", targets: ["cluster-launch"]),
        .executable(name: "cps", targets: ["cps"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // The Plan 9 file protocol alone: wire format, server engine, client, transports.
        .target(
            name: "NineP",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // What runs on a node: ProcFS and the job supervisor. It links neither libssh nor
        // libfuse, so procsrv (built with a static Swift runtime) runs on nodes that lack them.
        .target(
            name: "ClusterProcNode",
            dependencies: [
                "NineP",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .systemLibrary(name: "CLibSSH", pkgConfig: "libssh", providers: [.apt(["libssh-dev"])]),
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        // The terminal of `cps --watch`; only cps's Screen imports it. No pkg-config: ncursesw.pc
        // adds -D flags SwiftPM refuses, and the header and library are in the default paths.
        .systemLibrary(name: "CNcurses", providers: [.apt(["libncurses-dev"])]),
        // Linux calls the Glibc module leaves out (unshare).
        .systemLibrary(name: "CLinux"),
        // Everything cluster-specific above a node: host lists, SSH launch, the family's union
        // and namespace, status (ProcFS and jobs are in ClusterProcNode).
        .target(
            name: "ClusterProc",
            dependencies: [
                "NineP", "ClusterProcNode", "CLibSSH", "CFuse3", "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "procsrv",
            // No argument parser and no Foundation: procsrv starts on every node of every launch.
            dependencies: ["ClusterProcNode", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "cluster-launch",
            dependencies: ["ClusterProc", "NineP", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "cps",
            dependencies: ["ClusterProc", "CNcurses", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Benchmarks print figures; they never assert timing.
        .executableTarget(
            name: "cluster-proc-bench",
            dependencies: ["NineP", "ClusterProc", "ClusterProcNode", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Benchmarks/bench"
        ),
        // Small processes and probes the tests start as real subprocesses; not a product.
        .executableTarget(
            name: "cluster-proc-testtool",
            dependencies: ["ClusterProc", "ClusterProcNode", "NineP", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Tests/Tools/testtool"
        ),
        // What the test targets share: the seeded generator, hex, `eventually`.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "NinePTests", dependencies: ["NineP", "TestSupport"]),
        .testTarget(name: "ClusterProcTests", dependencies: ["ClusterProc", "ClusterProcNode", "NineP", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ClusterProc", "ClusterProcNode", "NineP", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
