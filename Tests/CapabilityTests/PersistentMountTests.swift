import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Where `hook` and `install` write what must outlive the first boot: the persistent partition
/// as Elemental 1.x and 2.x mount it in the installer's chroot, decided from /proc/self/mountinfo.
@Suite struct PersistentMountTests {
    /// mountinfo lines as the kernel writes them (proc(5)); `mount` is the mount point field, escaped.
    func line(_ id: Int, _ device: String, _ mount: String) -> String {
        "\(id) 1 \(device) / \(mount) rw,relatime shared:\(id) - ext4 /dev/x rw"
    }

    @Test func parsesTheFieldsAndUnescapesTheKernelsOctalEscapes() {
        let text = [
            line(21, "0:21", "/"), line(30, "254:16", "/mnt/my\\040target/usr/local"),
            line(31, "254:32", "/a\\011tab\\012newline\\134backslash"), "short line", line(32, "0:5", "/trailing\\04"),
        ].joined(separator: "\n")
        #expect(
            MountInfo.parse(text) == [
                MountEntry(device: "0:21", mountPoint: "/"),
                MountEntry(device: "254:16", mountPoint: "/mnt/my target/usr/local"),
                MountEntry(device: "254:32", mountPoint: "/a\ttab\nnewline\\backslash"),
                MountEntry(device: "0:5", mountPoint: "/trailing\\04"),
            ])
    }

    @Test func readsThisProcesssMounts() throws {
        #expect(try MountInfo.read().contains { $0.mountPoint == "/proc" })
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var root: String
        var rootDevice = "0:40"
        var layout = Layout.harvester
        var mounts: [(String, String)]
        var expected: PersistentMount?  // nil: refused
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Elemental 1.1.x's after-install chroot (e9f70ce5 pkg/action/install.go:44-55): "/" is
        // /run/cos/workingtree, which mountinfo does not list; the persistent partition on /usr/local.
        Case(
            name: "Elemental 1 chroot", root: "/",
            mounts: [("0:5", "/dev"), ("0:22", "/sys"), ("254:16", "/usr/local"), ("254:32", "/oem")],
            expected: .usrLocal),
        // Elemental 2.x's (f29ac269 install.go:95-110): persistent at /run/elemental/persistent only.
        Case(
            name: "Elemental 2 chroot", root: "/",
            mounts: [("0:5", "/dev"), ("254:16", "/run/elemental/persistent"), ("254:32", "/oem")],
            expected: .elemental2),
        Case(
            name: "both: /usr/local wins", root: "/",
            mounts: [("254:16", "/run/elemental/persistent"), ("254:16", "/usr/local")], expected: .usrLocal),
        Case(
            name: "the live installer's target", root: "/run/cos/target",
            mounts: [("0:25", "/run"), ("254:16", "/run/cos/target/usr/local"), ("254:32", "/run/cos/target/oem")],
            expected: .usrLocal),
        Case(
            name: "a target with a space", root: "/mnt/my target",
            mounts: [("254:0", "/mnt/my target"), ("254:16", "/mnt/my target/usr/local")], expected: .usrLocal),
        Case(name: "a chroot with no persistent mount", root: "/", mounts: [("0:5", "/dev"), ("254:32", "/oem")]),
        Case(
            name: "/usr/local bound from the root's own file system", root: "/", rootDevice: "254:3",
            mounts: [("254:3", "/"), ("254:3", "/usr/local")]),
        Case(
            name: "the persistent mount covered by a mount of the root's device", root: "/", rootDevice: "254:3",
            mounts: [("254:16", "/usr/local"), ("254:3", "/usr/local")]),
        Case(name: "a mounted target without its partitions", root: "/mnt/t", mounts: [("254:0", "/mnt/t")]),
        Case(
            name: "a plain folder (staging, tests)", root: "/tmp/stage",
            mounts: [("0:30", "/tmp"), ("254:16", "/tmp/stage-other/usr/local")], expected: .notChecked),
        Case(name: "the fhs layout", root: "/", layout: .fhs, mounts: [], expected: .notChecked),
    ]

    @Test(arguments: cases)
    func decidesFromTheMounts(_ test: Case) throws {
        let mounts = test.mounts.map { MountEntry(device: $0.0, mountPoint: $0.1) }
        let decide = { () throws(SRIOVError) -> PersistentMount in
            try PersistentMount.decide(
                root: test.root, rootDevice: test.rootDevice, layout: test.layout, mounts: mounts)
        }
        if let expected = test.expected {
            #expect(try decide() == expected)
        } else {
            let error = #expect(throws: SRIOVError.self) { try decide() }
            let shown = test.root == "/" ? "" : test.root
            #expect(error?.exitCode == 77)
            #expect(
                error?.description
                    == "refusing to install into \(test.root): \(shown)/usr/local is not a mount point of its own and nothing is mounted at \(shown)/run/elemental/persistent, so the binary and the state would be lost at the first boot; mount the persistent partition (LABEL=COS_PERSISTENT) at \(shown)/usr/local, or use --layout fhs on a system whose / is writable"
            )
        }
    }

    @Test(arguments: [(UInt64(0x1003), "16:3"), (UInt64(0xfe10), "254:16"), (UInt64(0x4561_2378), "291:284280")])
    func devicesAreNamedAsMountinfoNamesThem(_ device: UInt64, _ name: String) {
        #expect(PersistentMount.deviceName(device) == name)
    }

    /// Elemental 2: the node's /usr/local files go to run/elemental/persistent, the yip file to /oem,
    /// and nothing to the image's usr/local.
    @Test func elemental2WritesTheNodesUsrLocalToThePersistentMount() throws {
        let folder = try TemporaryFolder()
        _ = try folder.folder("root/oem")
        let root = try TargetRoot(folder.path("root")).writing(to: .elemental2)
        let changes = try NodeInstallation(root: root, options: InstallOptions(layout: .harvester)).install(
            label: CapabilityLabel(capable: true), binary: [0x7f], dryRun: false)
        #expect(
            changes.map(\.path)
                == [
                    "run/elemental/persistent/bin/harvester-sriov", "oem/91_harvester_sriov.yaml",
                    "run/elemental/persistent/etc/harvester-sriov/node-label-patch.json",
                    "run/elemental/persistent/etc/harvester-sriov/state.json",
                ].map { folder.path("root/" + $0) })
        #expect(!folder.exists("root/usr"))
        // The yip file names the node's paths, as it will see them after boot.
        #expect(try folder.read("root/oem/91_harvester_sriov.yaml").contains("/usr/local/bin/harvester-sriov"))
    }

    /// The command, in a mount namespace of its own (unshare(1), as root): a chroot-like target with
    /// only Elemental 2's mount is written there; one with no persistent mount is refused, untouched.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")))
    func theCommandChecksTheMountsOfARealTarget() throws {
        try Umockdev.requirePreload()
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        _ = try folder.folder("target/oem")
        _ = try folder.folder("target/run/elemental/persistent")
        let testbed = try Testbed(Fixtures.server)
        func hook(mount: String) throws -> Program.Result {
            var environment = ProcessInfo.processInfo.environment
            environment["UMOCKDEV_DIR"] = testbed.root
            let script = """
                set -e
                mount -t tmpfs target "$1"
                mkdir -p "$1/oem" "$1/run/elemental/persistent"
                \(mount)
                "$2" hook --mode create --root "$1" && status=0 || status=$?
                find "$1" -mindepth 1 | sort
                exit $status
                """
            return try Program.run(
                URL(fileURLWithPath: "/usr/bin/unshare"),
                ["--mount", "sh", "-c", script, "sh", root, Umockdev.binary.path], environment: environment)
        }
        let written = try hook(mount: #"mount -t tmpfs persistent "$1/run/elemental/persistent""#)
        #expect(written.status == 0, "\(written.stderr)")
        #expect(written.stdout.contains("\(root)/run/elemental/persistent/bin/harvester-sriov\n"))
        #expect(written.stdout.contains("\(root)/run/elemental/persistent/etc/harvester-sriov/state.json\n"))
        #expect(!written.stdout.contains("\(root)/usr"))
        #expect(
            written.stderr.contains("note: the persistent partition is mounted at \(root)/run/elemental/persistent"))

        let refused = try hook(mount: "")
        #expect(refused.status == 77)
        #expect(refused.stderr.contains("refusing to install into \(root): \(root)/usr/local is not a mount point"))
        #expect(
            refused.stdout.split(separator: "\n").sorted()
                == ["\(root)/oem", "\(root)/run", "\(root)/run/elemental", "\(root)/run/elemental/persistent"])
    }
}
