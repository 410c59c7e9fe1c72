import FoundationEssentials
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

    /// Holds an exclusive lock on one PF until `release`; another restore of the same PF
    /// (the udev-started instance and the boot-wide unit race at boot) waits for it.
    /// `waiting` is called once when another holds it.
    public func lock(
        _ pf: PCIAddress, until deadline: ContinuousClock.Instant, waiting: (String) -> Void = { _ in }
    ) throws(SRIOVError) -> RuntimeLock {
        try lock(name: pf.description, until: deadline, waiting: waiting)
    }

    /// An exclusive lock named `name` (a PCI address, or "status" for the status file); `waiting` is called
    /// with the lock file's path once when another holds it.
    public func lock(
        name: String, until deadline: ContinuousClock.Instant, waiting: (String) -> Void = { _ in }
    ) throws(SRIOVError) -> RuntimeLock {
        let file = path.appending("lock-\(name)").string
        let fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .io(path: file, operation: "open", errno: Errno(rawValue: errno)) }
        var said = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if !said, errno == EWOULDBLOCK {
                said = true
                waiting(file)
            }
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else {
                close(fd)
                throw .restore("another harvester-sriov restore holds \(file) and did not finish in time")
            }
            usleep(20_000)
        }
        return RuntimeLock(fd: fd)
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
        guard let bytes = try? writer.read(Self.statusFile, limit: StateStore.maximumFileSize) else { return nil }
        return try? JSONDecoder().decode(RestoreResult.self, from: Data(bytes))
    }
}

/// An exclusive lock on a file in the runtime folder: one PF's restore, or the status file.
public final class RuntimeLock: Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }  // closing the descriptor releases the flock
}
