import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import Synchronization
import Testbed
import Testing

/// Runs the code under test against a fake `/sys`. The test process runs under
/// umockdev's preload (scripts/test sets it up), which redirects `/sys` to the folder
/// named by `UMOCKDEV_DIR`; without the preload a test would read the real host, so
/// it refuses to run.
enum Umockdev {
    /// UMOCKDEV_DIR is process-wide: one in-process discovery at a time.
    private static let lock = Mutex(())

    static var preloaded: Bool {
        ProcessInfo.processInfo.environment["LD_PRELOAD"]?.contains("umockdev") == true
    }

    static func requirePreload() throws {
        guard preloaded else {
            throw TestbedError(
                "tests must run under umockdev's preload so they never read the real /sys: run scripts/test")
        }
    }

    /// Discovery in this process, against a testbed of `functions`.
    static func discover(_ functions: [FakeFunction]) throws -> HostInventory {
        let testbed = try Testbed(functions)
        return try discover(in: testbed.root)
    }

    static func discover(in root: String) throws -> HostInventory {
        try within(root) { try HostDiscovery.discover() }
    }

    /// Runs `body` in this process with `/sys` served from the testbed at `root`.
    static func within<T>(_ root: String, _ body: () throws -> T) throws -> T {
        try requirePreload()
        return try lock.withLock { _ in
            setenv("UMOCKDEV_DIR", root, 1)
            defer { unsetenv("UMOCKDEV_DIR") }
            return try body()
        }
    }

    /// The built `harvester-sriov` binary, run against the testbed at `root`; its stdout
    /// goes to the file `stdout` when given (e.g. /dev/full), and is then not read back.
    static func run(_ arguments: [String], in root: String, stdout: String? = nil) throws -> Program.Result {
        try requirePreload()
        var environment = ProcessInfo.processInfo.environment
        environment["UMOCKDEV_DIR"] = root
        return try runBinary(arguments, environment: environment, stdout: stdout)
    }

    static func runBinary(
        _ arguments: [String], environment: [String: String]? = nil,
        stdout: String? = nil
    ) throws -> Program.Result {
        try Program.run(binary, arguments, environment: environment, stdout: stdout)
    }

    /// Runs several instances of the binary at once, all started before any is waited for.
    static func runAtOnce(_ argumentLists: [[String]]) throws -> [Program.Result] {
        let running = try argumentLists.map { try start($0) }
        return try running.map { try $0.wait() }
    }

    /// The binary, started and not waited for.
    static func start(_ arguments: [String]) throws -> Program.Running {
        try Program.start(binary, arguments)
    }

    /// `harvester-sriov` beside the test bundle in the build folder.
    static var binary: URL {
        // The test runner is in the build folder, so /proc/self/exe always resolves; were /proc missing,
        // running the path below would fail and name it, so the fallback hides nothing.
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("harvester-sriov")
    }
}

struct TestbedError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
