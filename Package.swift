// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "harvester-sriov",
    products: [
        .executable(name: "harvester-sriov", targets: ["InstallHook"]),
        .library(name: "Capability", targets: ["Capability", "SRIOVHost", "SRIOVModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries, found through pkg-config.
        .systemLibrary(name: "CLibUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        .systemLibrary(name: "CLibPCI", pkgConfig: "libpci", providers: [.apt(["libpci-dev"])]),
        // libyaml, the parser inside Yams; Yams itself would link full Foundation (+43 MB).
        .systemLibrary(name: "CLibYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // libnl's route library: VF MAC, trust and spoof-check over rtnetlink.
        .systemLibrary(name: "CLibNL", pkgConfig: "libnl-route-3.0", providers: [.apt(["libnl-route-3-dev"])]),
        // The few lines of C that libpci's variadic and non-returning callbacks need.
        .target(name: "PCIShim", dependencies: ["CLibPCI"]),
        // ethtool's permanent-MAC ioctl.
        .target(name: "NetShim"),

        // The library, in three layers; each imports only the ones declared before it (docs/design.md).
        // Values and codecs: inventory, policies, plan, state, YAML and JSON, reports. No I/O.
        .target(
            name: "SRIOVModel",
            dependencies: ["CLibYAML", .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/Capability/Model"
        ),
        // The host: discovery, the kernel seam, files, locks, child processes, kubectl.
        .target(
            name: "SRIOVHost",
            dependencies: [
                "SRIOVModel", "CLibUdev", "CLibPCI", "PCIShim", "CLibNL", "NetShim",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Capability/Host"
        ),
        // The use cases the commands run: restore, install, policies, exports, doctor, cluster.
        .target(
            name: "Capability",
            dependencies: [
                "SRIOVModel", "SRIOVHost",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Capability/UseCases"
        ),
        .executableTarget(
            name: "InstallHook",
            dependencies: [
                "Capability", "SRIOVHost", "SRIOVModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Writes fake /sys trees that umockdev serves to the code under test.
        // Fake hosts for the tests and benchmarks: /sys trees for umockdev, and a simulated kernel.
        .target(
            name: "Testbed",
            dependencies: [
                "Capability", "SRIOVHost", "SRIOVModel", .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/Testbed"),
        .executableTarget(
            name: "make-testbed", dependencies: ["Testbed", "Capability", "SRIOVHost", "SRIOVModel"],
            path: "Tests/TestbedTool"),
        .executableTarget(
            name: "restore-benchmark",
            dependencies: [
                "Testbed", "Capability", "SRIOVHost", "SRIOVModel", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/RestoreBenchmark"),
        // Fuzzes the manifest decoder (scripts/fuzz-policy); a plain build replays inputs.
        // What the fuzz targets share: libFuzzer's driver, or the replay of saved inputs.
        .target(
            name: "FuzzDriver",
            dependencies: [
                "Capability", "SRIOVHost", "SRIOVModel", .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/FuzzDriver"),
        .executableTarget(
            name: "policy-fuzzer", dependencies: ["Capability", "SRIOVHost", "SRIOVModel", "FuzzDriver"],
            path: "Tests/PolicyFuzzer"),
        // Fuzzes the stored-state decoder and what plan, restore and status do with a state (scripts/fuzz-state).
        .executableTarget(
            name: "state-fuzzer",
            dependencies: [
                "Capability", "SRIOVHost", "SRIOVModel", "FuzzDriver",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/StateFuzzer", exclude: ["regressions"]),
        // Fuzzes the sysfs readers on fake hosts under umockdev (scripts/fuzz-sysfs); a plain build replays inputs.
        .executableTarget(
            name: "sysfs-fuzzer", dependencies: ["Capability", "SRIOVHost", "SRIOVModel", "Testbed", "FuzzDriver"],
            path: "Tests/SysfsFuzzer"),
        .testTarget(
            name: "CapabilityTests", dependencies: ["Capability", "SRIOVHost", "SRIOVModel", "Testbed"],
            exclude: ["Golden", "Schemas", "Support/FakeAPIServer.py", "Support/VirtLauncherStandIn.py"]),
    ]
)
