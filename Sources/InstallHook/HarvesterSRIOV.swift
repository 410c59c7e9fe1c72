import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

/// Every command sets `commandName`: without it ArgumentParser derives the name with
/// `String(describing:)`, which scans the binary's 4,300 protocol conformances several times
/// per command type; for the 23 commands that was 12 M instructions, most of the startup.
@main
struct HarvesterSRIOV: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvester-sriov",
        abstract: "Detects a Harvester node's SR-IOV NICs, labels the node, and keeps its VFs across reboots.",
        version: SRIOVModel.version,
        subcommands: [
            Detect.self, Policy.self, Plan.self, Restore.self, Status.self, Label.self, Install.self, Uninstall.self,
            Hook.self, SysfsWrite.self, SysfsRead.self, Export.self, PCIDevices.self, DoctorCommand.self,
        ]
    )

    /// ArgumentParser's own main, except that help and --version go through `output`:
    /// its print() would lose a failed write.
    static func main() {
        // Reads that can sleep in the kernel for good run in children of this program (LockedAttribute).
        LockedAttribute.readInChildren(executable: SysfsKernel.selfExecutable)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .success else { exit(withError: error) }
            let text = fullMessage(for: error)
            if !text.isEmpty { output(text) }
            Self.exit()
        }
    }
}
