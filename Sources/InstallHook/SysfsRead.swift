import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel

/// Used by discovery, status, doctor and restore: reads of sysfs attributes that wait for the device's lock
/// (`sriov_numvfs`), each in a process of its own, so that one that never returns holds up only that process
/// (`LockedAttribute`). Prints one record per path as it answers.
struct SysfsRead: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sysfs-read", shouldDisplay: false)

    @Flag var serve = false
    @Argument var paths: [String] = []

    func run() throws {
        if serve { LockedAttribute.serveLines() } else { LockedAttribute.serve(paths) }
    }
}
