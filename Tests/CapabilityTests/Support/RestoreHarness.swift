import Capability
import Foundation
import Logging
import SRIOVHost
import SRIOVModel
import Synchronization
import Testbed

/// A node for restore tests: a simulated kernel, a target root with stored policies,
/// a runtime folder, and the log lines restore wrote.
final class RestoreHarness: @unchecked Sendable {
    let folder: TemporaryFolder
    let kernel: SimulatedKernel
    let store: StateStore
    let runtime: RuntimeDirectory
    let logs = LogLines()

    static func x710(
        _ address: String = "0000:3b:00.0", netdev: String = "enp59s0f0", mac: String = "3c:fd:fe:9e:a1:00"
    ) -> SimulatedKernel.PF {
        SimulatedKernel.PF(address: address, netdev: netdev, permanentMAC: mac)
    }

    static func x82576(_ address: String = "0000:01:00.0", netdev: String = "enp1s0", mac: String = "52:54:00:12:34:57")
        -> SimulatedKernel.PF
    {
        var pf = SimulatedKernel.PF(address: address, netdev: netdev, permanentMAC: mac)
        pf.deviceID = "10c9"
        pf.vfDeviceID = "10ca"
        pf.driver = "igb"
        pf.vfDriver = "igbvf"
        pf.totalVFs = 7
        return pf
    }

    init(_ pfs: [SimulatedKernel.PF], kernel: SimulatedKernel? = nil) throws {
        folder = try TemporaryFolder()
        self.kernel = kernel ?? SimulatedKernel(pfs)
        store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        runtime = try RuntimeDirectory(try folder.folder("run"))
    }

    /// Stores policies; `live` runs the host checks and records the cards, as on a node.
    @discardableResult
    func apply(_ yaml: String, live: Bool = true) throws -> PolicyApplication.Report {
        try folder.write("p.yaml", yaml)
        let input = PolicyInput.load([folder.path("p.yaml")])
        return try PolicyApplication(store: store).apply(
            input, nodeLabels: [:], host: live ? try kernel.inventory() : nil, dryRun: false)
    }

    func engine(kernel: SimulatedKernel? = nil) -> RestoreEngine {
        let lines = logs
        return RestoreEngine(
            kernel: kernel ?? self.kernel, store: store, runtime: runtime,
            logger: Logger(label: "test") { _ in CapturingLogHandler(lines: lines) })
    }

    func restore(
        _ selection: [String] = [], timeout: Duration = .seconds(5), appear: Duration = .seconds(1),
        kernel: SimulatedKernel? = nil, force: Bool = false
    ) throws -> RestoreResult {
        try engine(kernel: kernel).run(
            RestoreOptions(selection: selection, timeout: timeout, appearTimeout: appear, force: force))
    }

    func outcome(_ result: RestoreResult, _ address: String) -> PFOutcome? {
        result.pfs.first { $0.pciAddress == address }
    }
}

final class LogLines: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var all: [String] { storage.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let lines: LogLines
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lines.append("\(event.level): \(event.message)")
    }
}
