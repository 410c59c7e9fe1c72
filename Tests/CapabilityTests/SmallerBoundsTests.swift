import Foundation
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 19, the smaller items: reading through a linked state folder, what is at state.lock, repeated and empty
/// --node-label values, lspci's short PCI address, and who holds the lock when a command gives up.
@Suite struct SmallerBoundsTests {
    @Test func aReadOnlyCommandOnALinkedStateFolderSaysItRefusesToRead() throws {
        let folder = try TemporaryFolder()
        let outside = try folder.folder("outside")
        _ = try folder.folder("root/etc")
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc/harvester-sriov"), withDestinationPath: outside)
        for command in [["policy", "list"], ["plan", "--offline"], ["export", "device-plugin"]] {
            let result = try Umockdev.runBinary(command + ["--root", folder.path("root"), "--layout", "fhs"])
            #expect(result.status == 77, "\(command) \(result.stderr)")
            #expect(
                result.stderr.hasSuffix(
                    "harvester-sriov: refusing to read through \(folder.path("root"))/etc/harvester-sriov: it is a "
                        + "symbolic link or not a folder, and a path inside --root must not lead outside it; remove it "
                        + "or choose another --root\n"), "\(command) \(result.stderr)")
        }
    }

    /// A folder, a FIFO or a link at state.lock: all refused alike, 77.
    @Test(arguments: ["folder", "fifo", "link"])
    func anythingButAFileAtTheLockIs77(_ kind: String) throws {
        let folder = try TemporaryFolder()
        let lock = folder.path("root/etc/harvester-sriov/state.lock")
        _ = try folder.folder("root/etc/harvester-sriov")
        switch kind {
        case "folder": _ = try folder.folder("root/etc/harvester-sriov/state.lock")
        case "fifo": #expect(mkfifo(lock, 0o600) == 0)
        default: try FileManager.default.createSymbolicLink(atPath: lock, withDestinationPath: "/tmp")
        }
        let store = StateStore(root: try TargetRoot(folder.path("root")), layout: .fhs)
        do {
            _ = try store.lock(wait: .milliseconds(100))
            Issue.record("locked \(kind)")
        } catch {
            #expect(error.exitCode == 77, "\(error)")
            #expect(error.description.hasPrefix("refusing to lock \(lock): it is "), "\(error)")
        }
    }

    @Test func aLabelGivenTwiceIsRefused() {
        #expect(throws: SRIOVError.self) { try NodeLabels.parse(["a=b", "a=c"]) }
        #expect(throws: SRIOVError.self) { try NodeLabels.parse(["a=b", "a=b"]) }
        do {
            _ = try NodeLabels.parse(["a=b", "a=c"])
        } catch {
            #expect(error.exitCode == 64)
            #expect(
                error.description
                    == "--node-label a=c: a is already given (a=b); a node has one value per label, give each key once")
        }
    }

    @Test func anEmptyLabelValueIsAccepted() throws {
        #expect(try NodeLabels.parse(["a="]) == ["a": ""])
    }

    @Test(arguments: [["policy", "apply", "--dry-run", "EXAMPLE"], ["plan", "--offline"]])
    func theCommandsRefuseALabelGivenTwice(_ command: [String]) throws {
        let folder = try TemporaryFolder()
        let arguments = command.map { $0 == "EXAMPLE" ? PolicyCommandTests.examples[0] : $0 }
        let result = try Umockdev.runBinary(
            arguments + [
                "--root", try folder.folder("root"), "--layout", "fhs", "--node-label", "a=b", "--node-label", "a=c",
            ])
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stderr.hasSuffix("give each key once\n"), "\(result.stderr)")
    }

    @Test(arguments: [("3b:00.0", "0000:3b:00.0"), ("0000:3B:00.1", "0000:3b:00.1"), ("enp59s0f0", "enp59s0f0")])
    func restoreTakesLspcisShortForm(given: String, selected: String) {
        #expect(RestoreOptions(selection: [given]).selection == [selected])
    }

    /// Another process took the lock without writing its line (flock(1)): the file still names an earlier holder,
    /// and the message must name the process that holds it now.
    @Test func theLockTimeoutNamesTheProcessThatHoldsItNow() throws {
        let folder = try TemporaryFolder()
        _ = try folder.folder("root/etc/harvester-sriov")
        let path = folder.path("root/etc/harvester-sriov/state.lock")
        try folder.write("root/etc/harvester-sriov/state.lock", "pid 999999 (harvester-sriov policy apply)\n")
        let held = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(held) }
        #expect(flock(held, LOCK_EX) == 0)
        let store = StateStore(root: try TargetRoot(folder.path("root")), layout: .fhs)
        do {
            _ = try store.lock(wait: .milliseconds(100))
            Issue.record("took a held lock")
        } catch {
            #expect(error.description.contains("; pid \(getpid()) ("), "\(error)")
            #expect(!error.description.contains("999999"), "\(error)")
        }
    }
}
