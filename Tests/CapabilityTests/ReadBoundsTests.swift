import Foundation
import SystemPackage
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 19: a file we did not write is looked at before a byte is read: a FIFO does not block open(2), a folder
/// is not read, and a file beyond its limit is refused at once, however large it is (sparse files: no disk used).
@Suite struct ReadBoundsTests {
    func fifo(_ folder: TemporaryFolder, _ name: String) throws -> String {
        let path = folder.path(name)
        #expect(mkfifo(path, 0o600) == 0)
        return path
    }

    /// A file of `size` bytes that takes no space on disk.
    func sparse(_ path: String, size: Int64) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        #expect(ftruncate(fd, off_t(size)) == 0)
        close(fd)
    }

    @Test func aFIFOOrAFolderGivenAsAPolicyOrNetworkFileIsOneProblem() throws {
        let folder = try TemporaryFolder()
        let pipe = try fifo(folder, "p.yaml")
        let directory = try folder.folder("d.yaml")
        #expect(
            PolicyInput.load([pipe, directory]).problems.map(\.description) == [
                "\(pipe): cannot read: it is a FIFO, not a regular file; give the path of a file",
                "\(directory): cannot read: it is a folder, not a regular file; give the path of a file",
            ])
        #expect(
            SriovNetworkDecoder.load([pipe]).problems.map(\.description) == [
                "\(pipe): cannot read: it is a FIFO, not a regular file; give the path of a file"
            ])
    }

    /// The commands that read named files: one line per file, 65, at once.
    @Test(arguments: [
        ["policy", "check"], ["policy", "apply", "--dry-run", "--layout", "fhs", "--root", "ROOT"],
        ["export", "cloudinit", "--match-selector", "a=b"],
    ])
    func aCommandGivenAFIFOEndsAtOnce(_ command: [String]) throws {
        let folder = try TemporaryFolder()
        let pipe = try fifo(folder, "p.yaml")
        let root = try folder.folder("root")
        let result = try Umockdev.runBinary(command.map { $0 == "ROOT" ? root : $0 } + [pipe])
        #expect(result.status == 65, "\(result.stderr)")
        #expect(result.stderr.contains("\(pipe): cannot read: it is a FIFO, not a regular file"), "\(result.stderr)")
    }

    @Test func aHugePolicyFileIsRefusedBeforeItIsRead() throws {
        let folder = try TemporaryFolder()
        try sparse(folder.path("big.yaml"), size: 3 << 30)
        let problems = PolicyInput.load([folder.path("big.yaml")]).problems.map(\.description)
        #expect(
            problems == [
                "\(folder.path("big.yaml")): is 3 GiB, larger than the limit of 1 MiB; a policy file is a few KiB of YAML"
            ])
    }

    func store(_ folder: TemporaryFolder) throws -> StateStore {
        _ = try folder.folder("root/etc/harvester-sriov/policies.d")
        return StateStore(root: try TargetRoot(folder.path("root")), layout: .fhs)
    }

    @Test func aHugeDropInIsSkippedBeforeItIsRead() throws {
        let folder = try TemporaryFolder()
        let store = try store(folder)
        let path = folder.path("root/etc/harvester-sriov/policies.d/big.yaml")
        try sparse(path, size: 3 << 30)
        let loaded = try store.loadWithDropIns()
        #expect(
            loaded.warnings.first
                == "\(path): cannot read: read \(path): File too large (EFBIG); it is 3 GiB, larger than the limit of 1 MiB"
        )
    }

    @Test func aHugeStateIsOneLineAnd74() throws {
        let folder = try TemporaryFolder()
        let store = try store(folder)
        try sparse(store.displayPath, size: 3 << 30)
        #expect(
            throws: SRIOVError.io(
                path: store.displayPath, operation: "read", errno: .fileTooLarge,
                hint: "it is 3 GiB, larger than the limit of 16 MiB")
        ) { try store.load() }
        let result = try Umockdev.runBinary(["policy", "list", "--root", folder.path("root"), "--layout", "fhs"])
        #expect(result.status == 74)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test func aFIFOAtTheStateIsRefusedNotOpened() throws {
        let folder = try TemporaryFolder()
        let store = try store(folder)
        #expect(mkfifo(store.displayPath, 0o600) == 0)
        #expect(throws: SRIOVError.self) { try store.load() }
    }
}
