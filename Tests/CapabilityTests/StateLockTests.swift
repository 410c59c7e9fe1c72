import Foundation
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// The state lock: every change of the stored state is a read-modify-write under it,
/// whatever process makes it, so nothing one command stored is lost to another.
@Suite struct StateLockTests {
    static func policy(_ name: String) -> String {
        PolicyManifest.policy(name, "{resourceName: \(name), numVfs: 2, nicSelector: {vendor: \"8086\"}}")
    }

    /// 25 `policy apply` of new policies and 25 `policy remove` of stored ones, all at
    /// once into one root: every command that said it succeeded is in the result.
    @Test func fiftyAppliesAndRemovesAtOnceLoseNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let stored = (0..<25).map { "r\($0)" }
        let added = (0..<25).map { "a\($0)" }
        try folder.write("stored.yaml", stored.map(Self.policy).joined())
        let setup = try Umockdev.runBinary(["policy", "apply", "--root", root, folder.path("stored.yaml")])
        #expect(setup.status == 0, "\(setup.stderr)")
        for name in added { try folder.write("\(name).yaml", Self.policy(name)) }

        // Interleaved, so that applies and removes start side by side.
        let commands = zip(added, stored).flatMap { add, remove in
            [
                ["policy", "apply", "--root", root, folder.path("\(add).yaml")],
                ["policy", "remove", "--root", root, remove],
            ]
        }
        let results = try Umockdev.runAtOnce(commands)

        let state = try StateStore(root: try TargetRoot(root), layout: .fhs).load()
        let names = Set(state.policies.map(\.name))
        for (command, result) in zip(commands, results) {
            #expect(result.status == 0, "\(command.joined(separator: " ")): \(result.stderr)")
            guard result.status == 0 else { continue }
            if command[1] == "apply" {
                let name = String(command[4].split(separator: "/").last?.dropLast(5) ?? "")
                #expect(names.contains(name), "\(name) was applied (exit 0) and must be stored")
            } else {
                #expect(!names.contains(command[4]), "\(command[4]) was removed (exit 0) and must be gone")
            }
        }
        #expect(names == Set(added), "exactly the 25 applied policies are left")
        let stateFolder = folder.path("root/etc/harvester-sriov")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: stateFolder).sorted()
        #expect(leftovers == ["state.json", "state.lock"], "no temporary file is left behind")
    }

    @Test func aHeldLockTimesOutWithOneLineNamingTheLockFileAndItsHolder() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .harvester)
        let held = try store.lock()
        defer { withExtendedLifetime(held) {} }
        let short = #expect(throws: SRIOVError.self) {
            try store.update(wait: .milliseconds(200)) { state in state.nodeLabels["zone"] = "a" }
        }
        #expect(
            short?.description == "lock \(folder.path("root"))/usr/local/etc/harvester-sriov/state.lock: "
                + "Resource temporarily unavailable (EAGAIN); \(StateStore.holderDescription) held the state lock "
                + "for all of 0.2 s; let that command finish, then run this again")
        #expect(try store.load() == .empty, "nothing was written")
    }

    @Test func aWaitIsReportedWithWhoHeldTheLock() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let quick = FileLock(fd: -1, waited: .milliseconds(300), holder: "pid 7 (harvester-sriov restore)")
        #expect(store.waitNote(quick) == nil, "a short wait is not worth a line")
        let slow = FileLock(fd: -1, waited: .milliseconds(2_450), holder: "pid 7 (harvester-sriov restore)")
        #expect(
            store.waitNote(slow) == "waited 2.5 s for the state lock "
                + "\(folder.path("root"))/etc/harvester-sriov/state.lock, "
                + "held by pid 7 (harvester-sriov restore)")
    }

    /// flock belongs to the open file: when its process dies, however it dies, the
    /// kernel releases it, and the file it leaves behind blocks no one.
    @Test(.enabled(if: Tool.available("flock"), "needs flock(1) (util-linux) to take the lock in a shell"))
    func aLockLeftByAKilledProcessDoesNotBlock() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let store = StateStore(root: try TargetRoot(root), layout: .fhs)
        let lockFile = folder.path("root/etc/harvester-sriov/state.lock")
        try folder.write("root/etc/harvester-sriov/.keep", "")
        let flock = try Tool.url("flock").path
        let script = #"exec 9>>"$0" && "$1" -x 9 && echo "pid $$ (harvester-sriov policy apply)" >&9"#
        let killed = try Program.run(
            URL(fileURLWithPath: "/bin/sh"), ["-c", script + " && kill -KILL $$", lockFile, flock])
        #expect(killed.signaled && killed.status == SIGKILL, "\(killed.stderr)")
        #expect(try folder.read("root/etc/harvester-sriov/state.lock").hasSuffix("(harvester-sriov policy apply)\n"))

        let update = try store.update(wait: .zero) { state in state.nodeLabels["zone"] = "a" }
        #expect(update.outcome == .created)
        #expect(update.waitNote == nil)
        #expect(try folder.read("root/etc/harvester-sriov/state.lock") == StateStore.holderDescription + "\n")
    }

    @Test func aLiveHolderInAnotherProcessIsWaitedFor() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try folder.write("p.yaml", Self.policy("p"))
        let store = StateStore(root: try TargetRoot(root), layout: .fhs)
        var held: FileLock? = try store.lock()
        let running = try Umockdev.start(["policy", "apply", "--root", root, folder.path("p.yaml")])
        // Released a while after the command opened the lock file, so it surely waited.
        try Self.waitUntil(running.process.processIdentifier, opens: folder.path("root/etc/harvester-sriov/state.lock"))
        Thread.sleep(forTimeInterval: 1.2)
        #expect(held != nil)
        held = nil
        let result = try running.wait()
        #expect(result.status == 0)
        #expect(result.stderr.contains("note: waited "))
        #expect(
            result.stderr.contains(
                " s for the state lock \(root)/etc/harvester-sriov/state.lock, held by \(StateStore.holderDescription)\n"
            ))
        #expect(try store.load().policies.map(\.name) == ["p"])
    }

    /// Polls /proc until process `pid` has `path` open.
    static func waitUntil(_ pid: Int32, opens path: String) throws {
        let fds = "/proc/\(pid)/fd"
        for _ in 0..<3000 {
            // Polled while the process starts and runs: an fd folder not there yet, or an fd closed between
            // listing and reading it, is one more round; the throw below reports a process that never opened it.
            let open = (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []
            let targets = open.map { try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + $0) }
            if targets.contains(path) { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw TestbedError("process \(pid) never opened \(path)")
    }

    @Test func aSymlinkPlantedAsTheLockFileIsRefused() throws {
        let folder = try TemporaryFolder()
        let outside = try TemporaryFolder()
        try folder.write("p.yaml", Self.policy("p"))
        let root = try folder.folder("root")
        try FileManager.default.createDirectory(
            atPath: folder.path("root/etc/harvester-sriov"),
            withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc/harvester-sriov/state.lock"),
            withDestinationPath: outside.path("lock"))
        let result = try Umockdev.runBinary(["policy", "apply", "--root", root, folder.path("p.yaml")])
        #expect(result.status == 77)
        #expect(
            result.stderr == "harvester-sriov: refusing to lock \(root)/etc/harvester-sriov/state.lock: "
                + "it is a symbolic link; remove it first\n")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: outside.path("")).isEmpty,
            "nothing was created outside the root")
        #expect(!folder.exists("root/etc/harvester-sriov/state.json"))
    }

    @Test func aDryRunTakesNoLockAndWritesNothing() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try folder.write("p.yaml", Self.policy("p"))
        let result = try Umockdev.runBinary(["policy", "apply", "--dry-run", "--root", root, folder.path("p.yaml")])
        #expect(result.status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    /// The installer's empty state is created under the lock, so it never replaces
    /// policies stored in between; an existing state is left as it is.
    @Test func theEmptyStateIsCreatedOnlyWhenNoneIsStored() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        #expect(try store.createIfAbsent() == .created)
        #expect(try store.load() == .empty)
        try store.save(DesiredState(nodeLabels: ["zone": "a"]))
        #expect(try store.createIfAbsent() == .unchanged)
        #expect(try store.load().nodeLabels == ["zone": "a"])
    }

    @Test func aStateWithAPolicyStoredTwiceIsRefusedNotATrap() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        let policy = try #require(PolicyDecoder.decode(Self.policy("twice"), file: "p.yaml").policies.first)
        var state = DesiredState(policies: [policy])
        state.policies.append(policy)
        try folder.write("root/etc/harvester-sriov/state.json", String(decoding: state.jsonBytes, as: UTF8.self))
        try folder.write("p.yaml", Self.policy("other"))
        let result = try Umockdev.runBinary(["policy", "apply", "--root", root, folder.path("p.yaml")])
        #expect(result.status == 65)
        #expect(result.stderr.contains("\"twice\""))
        #expect(result.stderr.hasSuffix("nothing was written\n"))
    }
}
