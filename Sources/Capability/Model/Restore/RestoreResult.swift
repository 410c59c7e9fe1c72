/// What one restore did, per PF; written to /run/harvester-sriov/status.json.
public struct RestoreResult: Codable, Equatable, Sendable {
    /// Seconds since the epoch.
    public var finishedAt: Int
    public var pfs: [PFOutcome]

    public init(finishedAt: Int, pfs: [PFOutcome]) {
        self.finishedAt = finishedAt
        self.pfs = pfs
    }

    public var failed: Bool { pfs.contains { $0.status == .failed } }
    public var waiting: Bool { pfs.contains { $0.status == .waiting } }

    /// How many VFs this restore left on the PF, when it succeeded there.
    public func vfsMade(at address: PCIAddress) -> Int? {
        pfs.first { $0.pciAddress == address.description && $0.status != .failed && $0.numVfs > 0 }?.numVfs
    }
}

public struct PFOutcome: Codable, Equatable, Sendable {
    /// How a PF that restore configured, but that did not settle at its plan, is reported.
    public static let stillDiffers = "still differs from the plan after restoring"

    /// Configured, yet not at its plan when restore checked (a VF driver that took a MAC of its own after it
    /// probed: igbvf, seen at boot on a real kernel): another round probes it again.
    public var differsAfterRestoring: Bool { status == .failed && message?.contains(Self.stillDiffers) == true }

    public enum Status: String, Codable, Sendable {
        /// Already as planned; nothing was written.
        case unchanged
        /// VFs created or changed.
        case configured
        /// A change of the VF count waits: VFs in use (a VM, a pod) would be removed. Carried out once they are free.
        case waiting
        case failed
    }

    public var pciAddress: String
    public var name: String?
    public var status: Status
    public var numVfs: Int
    /// The one-line reason, for failures.
    public var message: String?
    /// Time spent inside `sriov_numvfs` writes, and in the whole PF job.
    public var kernelMilliseconds: Int
    public var totalMilliseconds: Int

    public init(
        pciAddress: String, name: String?, status: Status, numVfs: Int, message: String? = nil,
        kernelMilliseconds: Int = 0, totalMilliseconds: Int = 0
    ) {
        self.pciAddress = pciAddress
        self.name = name
        self.status = status
        self.numVfs = numVfs
        self.message = message
        self.kernelMilliseconds = kernelMilliseconds
        self.totalMilliseconds = totalMilliseconds
    }
}
