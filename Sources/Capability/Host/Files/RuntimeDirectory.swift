import FoundationEssentials
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// `/run/harvester-sriov`: per-PF locks and the last restore's result. /run is a tmpfs,
/// so both start empty at every boot, as they should.
public struct RuntimeDirectory: Sendable {
    public static let defaultPath = "/run/harvester-sriov"
    public static let statusFile: FilePath = "status.json"

    public let writer: RootWriter

    /// Creates the folder (0755) when missing.
    public init(_ path: String = defaultPath) throws(SRIOVError) {
        if mkdir(path, 0o755) != 0, errno != EEXIST {
            throw .io(path: path, operation: "create folder", errno: Errno(rawValue: errno), hint: "run as root")
        }
        writer = RootWriter(root: try TargetRoot(path))
    }

    public var path: FilePath { writer.root.path }

    /// Holds an exclusive lock on one PF while the returned lock lives; another restore of the same PF (the
    /// udev-started instance and the boot-wide unit race at boot) waits for it, on `clock`, until `deadline`.
    /// `waiting` is called with the lock file's path once, when another holds it.
    public func lock(
        _ pf: PCIAddress, until deadline: ContinuousClock.Instant, clock: some WaitClock,
        waiting: (String) -> Void = { _ in }
    ) throws(SRIOVError) -> FileLock {
        try lock(name: pf.description, until: deadline, clock: clock, waiting: waiting)
    }

    /// An exclusive lock named `name` (a PCI address, or "status" for the status file): `lock-NAME`, which
    /// names the restore that holds it (its process ID) for one that has to wait.
    public func lock(
        name: String, until deadline: ContinuousClock.Instant, clock: some WaitClock,
        waiting: (String) -> Void = { _ in }
    ) throws(SRIOVError) -> FileLock {
        let file = FilePath("lock-\(name)")
        let said = { (_: String?) in waiting(path.appending(file.string).string) }
        switch try writer.lock(
            file, holder: "restore, process \(getpid())", until: deadline, clock: clock, waiting: said)
        {
        case let .held(lock): return lock
        case let .busy(holder):
            throw .restore(
                "another harvester-sriov restore\(holder.map { " (\($0))" } ?? "") holds \(path.appending(file.string)) "
                    + "and did not finish in time")
        }
    }

    /// Present while a restore left a change waiting for VFs in use: the waiting unit's condition, so that its
    /// timer runs a restore only then.
    public static let waitingFile: FilePath = "waiting"

    public func writeStatus(_ result: RestoreResult) throws(SRIOVError) {
        try writer.write(Self.statusFile, Array(encodeJSON(result).utf8), mode: 0o644)
        if result.waiting {
            try writer.write(
                Self.waitingFile,
                Array(
                    "\(result.pfs.filter { $0.status == .waiting }.map(\.pciAddress).joined(separator: "\n"))\n".utf8),
                mode: 0o644)
        } else {
            _ = try writer.remove(Self.waitingFile)
        }
    }

    public func readStatus() -> RestoreResult? {
        guard let bytes = try? writer.read(Self.statusFile, limit: 16 << 20) else { return nil }
        return try? JSONDecoder().decode(RestoreResult.self, from: Data(bytes))
    }
}
