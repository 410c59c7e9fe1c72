import Foundation
import SystemPackage
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Messages that say what happened: a link refused on read as on write, the read-only
/// advice for the layout in use, and every errno by its C name.
@Suite struct MessageTests {
    /// Every command that reads the state file, with a link planted there.
    @Test(arguments: [
        ["policy", "list"], ["plan"], ["policy", "apply", "POLICY"], ["policy", "apply", "--dry-run", "POLICY"],
        ["policy", "remove", "p"], ["status", "--runtime-directory", "RUN"], ["install"], ["install", "--dry-run"],
        ["hook", "--mode", "install", "--dry-run"], ["export", "device-plugin"], ["export", "kubevirt"],
        ["pcidevices", "--kubeconfig", "/dev/null"],
    ])
    func aLinkAtTheStateFileIsRefusedWithExit77(_ arguments: [String]) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try folder.write("outside/state.json", "{}\n")
        _ = try folder.folder("root/etc/harvester-sriov")
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc/harvester-sriov/state.json"),
            withDestinationPath: folder.path("outside/state.json"))
        let placeholders = ["RUN": folder.path("run"), "POLICY": PolicyCommandTests.examples[0]]
        let substituted = arguments.map { placeholders[$0] ?? $0 }
        let testbed = try Testbed(Fixtures.server)
        let result = try Umockdev.run(substituted + ["--root", root, "--layout", "fhs"], in: testbed.root)
        #expect(result.status == 77)
        let refusal = "refusing to read \(root)/etc/harvester-sriov/state.json: it is a symbolic link; remove it first"
        #expect(result.stderr.hasSuffix("harvester-sriov: \(refusal)\n"), "\(result.stderr)")
    }

    @Test func aDryRunRefusesALinkAtAnyFileAsTheWriteWould() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try HookAllOrNothingTests.plant("etc/udev/rules.d/70-harvester-sriov.rules", in: folder)
        let testbed = try Testbed([Fixtures.x710])
        let result = try Umockdev.run(["install", "--dry-run", "--root", root, "--layout", "fhs"], in: testbed.root)
        #expect(result.status == 77)
        #expect(
            result.stderr == "harvester-sriov: refusing to read \(root)/etc/udev/rules.d/70-harvester-sriov.rules: "
                + "it is a symbolic link; remove it first\n")
    }

    @Test func aFIFOAtTheStateFileIsRefusedWithoutWaitingForAWriter() throws {
        let folder = try TemporaryFolder()
        _ = try folder.folder("root/etc/harvester-sriov")
        #expect(mkfifo(folder.path("root/etc/harvester-sriov/state.json"), 0o644) == 0)
        let store = StateStore(root: try TargetRoot(folder.path("root")), layout: .fhs)
        let refusal =
            "refusing to read \(folder.path("root"))/etc/harvester-sriov/state.json: "
            + "it is not a regular file; remove it first"
        #expect(throws: SRIOVError.unsafePath(refusal)) {
            try store.load()
        }
    }

    @Test(
        arguments: [
            (
                Layout.fhs as Layout?, "etc/harvester-sriov/state.json",
                "the target is read-only; on Elemental only /oem and /usr/local are writable: use --layout harvester"
            ),
            (
                .harvester, "usr/local/etc/harvester-sriov/state.json",
                "/t/usr/local is not mounted read-write; on Elemental it is the persistent partition: "
                    + "mount it read-write, or check --root"
            ),
            (
                .harvester, "oem/91_harvester_sriov.yaml",
                "/t/oem is not mounted read-write; on Elemental it is the OEM partition: "
                    + "mount it read-write, or check --root"
            ),
            (nil, "status.json", "the file system is mounted read-only"),
        ] as [(Layout?, String, String)])
    func theReadOnlyAdviceFitsTheLayout(_ layout: Layout?, _ path: String, _ hint: String) throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("t")
        let writer = RootWriter(root: try TargetRoot(root), layout: layout)
        let error = writer.failure(FilePath(path), "create", EROFS)
        let advice = hint.replacingOccurrences(of: "/t/", with: root + "/")
        #expect(error.description == "create \(root)/\(path): Read-only file system (EROFS); \(advice)")
        #expect(error.exitCode == 74)
    }

    @Test(
        arguments: [
            (EISDIR, "EISDIR"), (EXDEV, "EXDEV"), (ENOTEMPTY, "ENOTEMPTY"), (EPERM, "EPERM"),
            (EWOULDBLOCK, "EAGAIN"), (ENAMETOOLONG, "ENAMETOOLONG"), (EHWPOISON, "EHWPOISON"),
            (524, "ENOTSUPP"), (0, "errno 0"), (41, "errno 41"), (58, "errno 58"), (134, "errno 134"),
            (-1, "errno -1"),
        ] as [(Int32, String)])
    func everyErrnoHasItsCName(_ code: Int32, _ name: String) {
        #expect(SRIOVError.symbol(Errno(rawValue: code)) == name)
    }

    @Test func isDirectoryInAMessageIsNamed() throws {
        let folder = try TemporaryFolder()
        _ = try folder.folder("root")
        let writer = RootWriter(root: try TargetRoot(folder.path("root")))
        let message = writer.failure("x", "read", EISDIR).description
        #expect(message == "read \(folder.path("root"))/x: Is a directory (EISDIR)")
    }

    /// glibc 2.32 and later name errnos themselves; where this machine's does, the table
    /// must agree with it for every errno Linux defines.
    @Test(.enabled(if: MessageTests.strerrorname != nil, "needs glibc 2.32 or later for strerrorname_np"))
    func theTableAgreesWithGlibc() throws {
        let strerrorname = try #require(Self.strerrorname)
        for code in Int32(1)...133 {
            guard let name = strerrorname(code) else { continue }  // 41 and 58 are unused
            #expect(SRIOVError.symbol(Errno(rawValue: code)) == String(cString: name), "errno \(code)")
        }
    }

    typealias NameFunction = @convention(c) (Int32) -> UnsafePointer<CChar>?
    static var strerrorname: NameFunction? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "strerrorname_np") else { return nil }
        return unsafeBitCast(symbol, to: NameFunction.self)
    }
}
