// Restore benchmark (on demand): PFS PFs x VFS VFs on a simulated kernel whose
// enabling write takes a different time per PF, as real drivers do (i40e ~22 s for
// 64 VFs). Reports the restore's time on the simulated kernel's clock against the slowest PF's
// write (1.00x when the PFs ran at the same time), and the real time and CPU time restore used.
//   restore-benchmark [PFS] [VFS] [SLOWEST_MS]
import Capability
import Foundation
import Logging
import SRIOVHost
import SRIOVModel
import Testbed

let arguments = CommandLine.arguments
let pfCount = arguments.count > 1 ? Int(arguments[1])! : 8
let vfCount = arguments.count > 2 ? Int(arguments[2])! : 64
let slowest = arguments.count > 3 ? Int(arguments[3])! : 3000

let pfs = (0..<pfCount).map { index -> SimulatedKernel.PF in
    let bus = hex(0x10 + index * 2, width: 2)
    var pf = SimulatedKernel.PF(
        address: "0000:\(bus):00.0", netdev: "enp\(0x10 + index * 2)s0f0",
        permanentMAC: "3c:fd:fe:00:\(hex(index, width: 2)):00")
    // Spread from a third of the slowest up to the slowest.
    pf.enableLatency = .milliseconds(slowest / 3 + (slowest - slowest / 3) * index / max(1, pfCount - 1))
    return pf
}
let kernel = SimulatedKernel(pfs)
kernel.bindDelay = .milliseconds(2)

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("restore-bench-\(getpid())")
try FileManager.default.createDirectory(at: folder.appendingPathComponent("root"), withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let store = StateStore(root: try TargetRoot(folder.appendingPathComponent("root").path), layout: .fhs)
let policy = NodePolicy(
    name: "bench", spec: PolicySpec(resourceName: "bench", numVfs: vfCount, nicSelector: NICSelector(vendor: "8086")))
try store.save(DesiredState(policies: [policy]))
let runtime = try RuntimeDirectory(folder.appendingPathComponent("run").path)
let engine = RestoreEngine(
    kernel: kernel, store: store, runtime: runtime,
    logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })

func cpuMilliseconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
}

func ms(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

let cpuBefore = cpuMilliseconds()
let start = ContinuousClock.now
let simulatedStart = kernel.now
let result = try engine.run(RestoreOptions(timeout: .seconds(600)))
let simulatedMs = ms(kernel.now - simulatedStart)
let wallMs = ms(ContinuousClock.now - start)
let cpu = cpuMilliseconds() - cpuBefore
precondition(!result.failed && result.pfs.count == pfCount, "restore failed: \(result.pfs.compactMap(\.message))")

let second = ContinuousClock.now
let again = try engine.run(RestoreOptions(timeout: .seconds(600)))
let idleMs = ms(ContinuousClock.now - second)
precondition(again.pfs.allSatisfy { $0.status == .unchanged })

print("restore: \(pfCount) PFs x \(vfCount) VFs, slowest PF's write \(slowest) ms (simulated kernel)")
print(
    String(
        format: "  simulated time     %8.1f ms  (%.2fx the slowest PF)", simulatedMs, simulatedMs / Double(slowest)))
print(String(format: "  real time          %8.1f ms", wallMs))
print(String(format: "  CPU time, all      %8.1f ms  (restore plus the simulated kernel's bookkeeping)", cpu))
print(String(format: "  second run         %8.1f ms  (nothing to do: every PF unchanged)", idleMs))
