// Fuzz target for the sysfs readers: discovery (libudev, libpci, plain reads) and the
// restore side's PF reader, run on fake hosts whose attributes the input rewrites.
// Built two ways, as the policy fuzzer is:
// - scripts/fuzz-sysfs builds it with -sanitize=fuzzer -DFUZZING and runs it under
//   umockdev's preload (LD_PRELOAD=libumockdev-preload.so.0), which serves each
//   input's fake /sys in place of the real one;
// - a plain build replays the files it is given (crashes, corpus), under the same preload.
// `sysfs-fuzzer --write-seeds DIR` writes the seed inputs: the testbed catalog's hosts.
// SYSFS_FUZZ_SHOW=1 prints detect's table for each input replayed.
//
// An input is lines of text. The first may be `host N` (which base host, modulo their
// count); every other line is `FUNCTION ATTRIBUTE VALUE`: FUNCTION indexes the host's
// functions (PFs, their VFs, the rest, in the order the testbed writes them), VALUE runs
// to the end of the line, with `\n`, `\\` and `\xHH` escapes. ATTRIBUTE is
//   a path below the function (`sriov_totalvfs`, `net/enp59s0f0/mtu`): write VALUE there;
//   `link:NAME`: make NAME a symbolic link to VALUE (`-` removes it);
//   `rm:NAME`: remove NAME;
//   `config`: replace config space with the bytes VALUE spells in hex;
//   `config@OFFSET`: overwrite config space at OFFSET (hex) with the bytes VALUE spells;
//   `config#LENGTH`: cut config space to LENGTH bytes.
// Every input must end in an inventory that keeps the readers' promises (see `check`):
// no crash, no trap, no hang, no PF listed as a VF, no count that is not one, no
// file descriptor left open.
import Capability
import FuzzDriver
import SRIOVHost
import SRIOVModel
import Testbed

#if canImport(Glibc)
    import Glibc
#endif

/// The fake hosts inputs start from, built from the catalog's NICs.
enum BaseHosts {
    static let all: [[FakeFunction]] = [
        // A VM with an X710: a virtio NIC, a PF with VFs (one on vfio-pci), its second port.
        [
            Catalog.virtio(at: "0000:00:03.0", name: "eth0", mac: "52:54:00:12:34:56"),
            {
                var pf = Catalog.pf(
                    .x710, at: "0000:3b:00.0", name: "enp59s0f0", mac: "3c:fd:fe:9e:a1:00", numVFs: 4,
                    iommuGroup: 30)
                pf.sriov?.vfs[3].driver = "vfio-pci"
                pf.sriov?.vfs[3].netdevs = []
                return pf
            }(),
            Catalog.pf(
                .x710, at: "0000:3b:00.1", name: "enp59s0f1", mac: "3c:fd:fe:9e:a1:01", numVFs: 1,
                iommuGroup: 130),
        ],
        // QEMU's igb, whose driver allows 7 of 8 VFs, and an 82599 on a kernel without CONFIG_PCI_IOV.
        [
            Catalog.pf(
                .x82576, at: "0000:01:00.0", name: "enp1s0", mac: "52:54:00:12:34:57", numVFs: 2, iommuGroup: 10),
            {
                var pf = Catalog.pf(.x82599, at: "0000:04:00.0", name: "enp4s0f0", mac: "90:e2:ba:11:22:30")
                pf.sriov?.kernelTotalVFs = nil
                return pf
            }(),
            Catalog.nvme(at: "0000:02:00.0"),
        ],
        // Both ports of one ConnectX-5: one serial number, VFs in one routing-ID space.
        [
            Catalog.pf(
                .connectX5, at: "0000:86:00.0", name: "ens3f0np0", mac: "98:03:9b:7f:00:a0", numVFs: 1, numaNode: 1,
                iommuGroup: 70, serialNumber: 0x98039b_0300_7f00a0),
            Catalog.pf(
                .connectX5, at: "0000:86:00.1", name: "ens3f1np1", mac: "98:03:9b:7f:00:a1", numVFs: 1, numaNode: 1,
                iommuGroup: 71, serialNumber: 0x98039b_0300_7f00a0),
        ],
        // An E810 with VFs, a BCM57414 with SR-IOV off in firmware, a ConnectX-6 Dx without a driver.
        [
            Catalog.pf(
                .e810, at: "0000:af:00.0", name: "ens801f0", mac: "b4:96:91:aa:10:00", numVFs: 2, numaNode: 1,
                iommuGroup: 60, serialNumber: 0xb49691_ffff_aa1000),
            {
                var pf = Catalog.pf(
                    .bcm57414, at: "0000:5e:00.0", name: "ens2f0np0", mac: "00:0a:f7:c1:d2:e0",
                    iommuGroup: 80)
                pf.sriov?.kernelTotalVFs = 0
                return pf
            }(),
            {
                var pf = Catalog.pf(.connectX6Dx, at: "0000:d8:00.0", name: nil, mac: "0c:42:a1:5b:00:10")
                pf.driver = nil
                return pf
            }(),
        ],
    ]

    /// The functions in the order the testbed writes them: each PF, then its VFs.
    static func functions(_ host: [FakeFunction]) -> [FakeFunction] {
        host.flatMap { [$0] + ($0.sriov?.vfs ?? []) }
    }
}

/// One change an input makes to the fake /sys.
enum Change {
    case write(function: Int, name: String, bytes: [UInt8])
    case link(function: Int, name: String, target: String?)
    case remove(function: Int, name: String)
    case config(function: Int, bytes: [UInt8])
    case patch(function: Int, offset: Int, bytes: [UInt8])
    case cut(function: Int, length: Int)
}

enum FuzzInput {
    static let maxChanges = 64
    static let maxValue = 8192

    static func decode(_ data: UnsafeBufferPointer<UInt8>) -> (host: Int, changes: [Change]) {
        var host = 0
        var changes: [Change] = []
        for (number, line) in data.split(separator: 0x0a, omittingEmptySubsequences: true).enumerated() {
            let text = Array(line)
            if number == 0, text.starts(with: Array("host ".utf8)) {
                host = decimal(text.dropFirst(5)) ?? 0
                continue
            }
            guard changes.count < maxChanges else { break }
            let fields = text.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, let function = decimal(fields[0]) else { continue }
            let attribute = String(decoding: fields[1], as: UTF8.self)
            let value = fields.count == 3 ? unescape(fields[2]) : []
            if let change = change(function: function, attribute: attribute, value: value) { changes.append(change) }
        }
        return (host, changes)
    }

    static func change(function: Int, attribute: String, value: [UInt8]) -> Change? {
        if attribute == "config" { return .config(function: function, bytes: hexBytes(value)) }
        if attribute.hasPrefix("config@") {
            guard let offset = Int(attribute.dropFirst(7), radix: 16), (0..<8192).contains(offset) else { return nil }
            return .patch(function: function, offset: offset, bytes: hexBytes(value))
        }
        if attribute.hasPrefix("config#") {
            guard let length = Int(attribute.dropFirst(7)), (0...8192).contains(length) else { return nil }
            return .cut(function: function, length: length)
        }
        if attribute.hasPrefix("link:") {
            let target = String(decoding: value, as: UTF8.self)
            return .link(function: function, name: String(attribute.dropFirst(5)), target: target == "-" ? nil : target)
        }
        if attribute.hasPrefix("rm:") { return .remove(function: function, name: String(attribute.dropFirst(3))) }
        return .write(function: function, name: attribute, bytes: value)
    }

    static func decimal(_ bytes: some Collection<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 6, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// `\n`, `\\` and `\xHH`; anything else stands for itself.
    static func unescape(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var input = Array(bytes.prefix(maxValue))[...]
        while let byte = input.popFirst() {
            guard byte == UInt8(ascii: "\\"), let next = input.popFirst() else {
                out.append(byte)
                continue
            }
            switch next {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "x"):
                let digits = input.prefix(2)
                if digits.count == 2, let value = UInt8(String(decoding: digits, as: UTF8.self), radix: 16) {
                    out.append(value)
                    input = input.dropFirst(2)
                } else {
                    out.append(next)
                }
            default: out.append(next)
            }
        }
        return out
    }

    static func hexBytes(_ text: [UInt8]) -> [UInt8] {
        let digits = text.compactMap { UInt8(String(UnicodeScalar($0)), radix: 16) }
        return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

/// Applies changes to a fake host's tree without ever writing outside it: paths have no
/// `..`, no write or removal passes through a symbolic link, and a link's target may only
/// climb (`../`) as far as the tree's root before it descends. Everything it replaces is
/// moved aside first, and `revert` puts it back, so that one tree per base host serves
/// every input: creating and deleting a few hundred files per input costs ext4 more than
/// the whole discovery.
final class FakeSysfsEditor {
    let root: String
    let functions: [FakeFunction]
    let backups: String
    /// What to undo, in order: a path the input created or replaced, and where the
    /// original was moved (nil when there was none).
    private var undo: [(path: String, original: String?)] = []

    init(root: String, functions: [FakeFunction], backups: String) {
        self.root = root
        self.functions = functions
        self.backups = backups
    }

    func apply(_ change: Change) {
        switch change {
        case let .write(function, name, bytes):
            guard let path = realPath(function, name, creating: true) else { return }
            create(path, bytes)
        case let .link(function, name, target):
            guard let path = realPath(function, name, creating: true) else { return }
            moveAside(path)
            if let target, confined(target, linkDepth: depth(of: name)) { symlink(target, path) }
        case let .remove(function, name):
            guard let path = realPath(function, name, creating: false) else { return }
            moveAside(path)
        case let .config(function, bytes):
            edit(function) { $0 = bytes }
        case let .patch(function, offset, bytes):
            edit(function) { config in
                let end = offset + bytes.count
                if config.count < end { config += [UInt8](repeating: 0, count: end - config.count) }
                config.replaceSubrange(offset..<offset + bytes.count, with: bytes)
            }
        case let .cut(function, length):
            edit(function) { $0 = Array($0.prefix(length)) }
        }
    }

    /// Puts the tree back as it was before the first change.
    func revert() {
        for (path, original) in undo.reversed() {
            if unlink(path) != 0 { removeTree(path) }
            if let original { rename(original, path) }
        }
        undo = []
        // Whatever is left aside did not go back: the next input would start from another host.
        guard let dir = opendir(backups) else { return }
        defer { closedir(dir) }
        var entries = 0
        while readdir(dir) != nil { entries += 1 }
        if entries > 2 { broken("the tree of the last input could not be put back") }
    }

    /// Moves what is at `path` (if anything) to the backups, remembering it.
    private func moveAside(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            undo.append((path, nil))
            return
        }
        let backup = backups + "/\(undo.count)"
        guard rename(path, backup) == 0 else { return }
        undo.append((path, backup))
    }

    private func create(_ path: String, _ bytes: [UInt8]) {
        moveAside(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    private func edit(_ function: Int, _ body: (inout [UInt8]) -> Void) {
        guard let path = realPath(function, "config", creating: false) else { return }
        var config = readAll(path)
        body(&config)
        create(path, config)
    }

    /// The function's folder is `<root>/sys/devices/pci0000:00/<address>`: 4 levels below the root.
    private func depth(of name: String) -> Int { 4 + name.split(separator: "/").count - 1 }

    /// `name`'s path below the function, when every folder on the way is a real folder
    /// (created if `creating`); nil for names that could lead elsewhere.
    private func realPath(_ function: Int, _ name: String, creating: Bool) -> String? {
        guard !functions.isEmpty, !name.isEmpty, name.utf8.count <= 200, !name.hasPrefix("/"), !name.utf8.contains(0)
        else { return nil }
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        guard components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else { return nil }
        var path = root + "/sys/devices/pci0000:00/" + functions[function % functions.count].address
        for folder in components.dropLast() {
            path += "/" + folder
            var info = stat()
            if lstat(path, &info) != 0 {
                guard creating, mkdir(path, 0o755) == 0 else { return nil }
                undo.append((path, nil))
            } else if info.st_mode & S_IFMT != S_IFDIR {
                return nil
            }
        }
        return path + "/" + components[components.count - 1]
    }

    /// Leading `..` only, no more of them than the link's folder is deep, never absolute.
    private func confined(_ target: String, linkDepth: Int) -> Bool {
        guard !target.isEmpty, !target.hasPrefix("/"), !target.utf8.contains(0) else { return false }
        let components = target.split(separator: "/", omittingEmptySubsequences: true)
        let climbs = components.prefix { $0 == ".." }.count
        return climbs <= linkDepth && !components.dropFirst(climbs).contains("..")
    }

    private func readAll(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let count = read(fd, &buffer, buffer.count)
            guard count > 0 else { break }
            bytes += buffer[..<count]
        }
        return bytes
    }
}

/// Removes a folder and what is in it, never following a link. Names are read first and
/// removed after: tmpfs's readdir skips entries removed while it runs.
func removeTree(_ path: String) {
    removeTree(Array(path.utf8CString))
}

/// `path` as C spells it, NUL-terminated: names need not be UTF-8.
func removeTree(_ path: [CChar]) {
    guard let dir = opendir(path) else { return }
    var names: [[CChar]] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            Array(raw.bindMemory(to: CChar.self).prefix { $0 != 0 })
        }
        if name != [46], name != [46, 46] { names.append(name) }
    }
    closedir(dir)
    for name in names {
        let child = path.dropLast() + [47] + name + [0]
        if unlink(child) != 0 { removeTree(child) }
    }
    rmdir(path)
}

/// Policies that select every base host's PFs in some way, one asking for more VFs
/// than any of them allows, so that resolution and its checks see every host.
let policies = PolicyDecoder.decode(
    """
    apiVersion: sriovnetwork.openshift.io/v1
    kind: SriovNetworkNodePolicy
    metadata: {name: intel}
    spec: {resourceName: intel, numVfs: 4, nicSelector: {vendor: "8086"}}
    ---
    apiVersion: sriovnetwork.openshift.io/v1
    kind: SriovNetworkNodePolicy
    metadata: {name: many}
    spec: {resourceName: many, numVfs: 300, priority: 10,
           nicSelector: {pfNames: ["enp59s0f0#0-1", "enp1s0", "ens3f0np0"]}}
    ---
    apiVersion: sriovnetwork.openshift.io/v1
    kind: SriovNetworkNodePolicy
    metadata: {name: mellanox}
    spec: {resourceName: mlx, numVfs: 2, deviceType: vfio-pci, nicSelector: {vendor: "15b3"}}
    """, file: "fuzz.yaml"
).policies

let kernel = SysfsKernel(executable: "/bin/false")

/// Stops the run, as a crash would: what the readers promise did not hold.
func broken(_ promise: String) -> Never {
    say("sysfs-fuzzer: broken promise: \(promise)")
    abort()
}

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// The readers' promises about any tree.
func check(_ host: HostInventory, states: [PCIAddress: PFState]) {
    let pfs = Set(host.interfaces.map(\.address))
    var vfs = Set<PCIAddress>()
    for pf in host.interfaces {
        if !(1...65535).contains(pf.totalVFs) { broken("\(pf.address) totalvfs \(pf.totalVFs)") }
        if let count = pf.numVFs, !(0...65535).contains(count) { broken("\(pf.address) numVfs \(count)") }
        if let node = pf.numaNode, node < 0 { broken("\(pf.address) numaNode \(node)") }
        if let mtu = pf.function.primaryNetdev?.mtu, mtu < 0 { broken("\(pf.address) mtu \(mtu)") }
        if Set(pf.vfs.map(\.vfID)).count != pf.vfs.count || pf.vfs.contains(where: { $0.vfID < 0 }) {
            broken("\(pf.address) VF ids \(pf.vfs.map(\.vfID))")
        }
        for vf in pf.vfs {
            if pfs.contains(vf.function.address) { broken("\(vf.function.address) is a PF and a VF of \(pf.address)") }
            if !vfs.insert(vf.function.address).inserted { broken("\(vf.function.address) is listed twice as a VF") }
        }
    }
    for nic in host.unusable where pfs.contains(nic.function.address) || vfs.contains(nic.function.address) {
        broken("\(nic.function.address) is usable and unusable")
    }
    for (address, state) in states {
        if let count = state.numVFs, !(0...65535).contains(count) { broken("\(address) restore reads numVfs \(count)") }
        if let total = state.totalVFs, !(0...65535).contains(total) {
            broken("\(address) restore reads totalvfs \(total)")
        }
        if state.vfs.contains(where: { $0.address == address }) { broken("\(address) is its own VF to restore") }
        if Set(state.vfs.map(\.index)).count != state.vfs.count { broken("\(address) restore reads VF indices twice") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSysfs(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = FuzzInput.decode(UnsafeBufferPointer(start: data, count: size))
    let index = input.host % BaseHosts.all.count
    let base = BaseHosts.all[index]
    // UMOCKDEV_DIR names one folder; the base host's tree moves there for this input (a
    // link would not do: libudev resolves paths, and the preload maps back only the
    // folder it was given).
    guard rename(scratch.bases[index], scratch.tree) == 0 else {
        broken("cannot move \(scratch.bases[index]) to \(scratch.tree)")
    }
    let editor = FakeSysfsEditor(root: scratch.tree, functions: BaseHosts.functions(base), backups: scratch.backups)
    defer {
        editor.revert()
        rename(scratch.tree, scratch.bases[index])
    }
    input.changes.forEach(editor.apply)
    guard let host = try? HostDiscovery.discover() else { return 0 }
    _ = DetectReport.json(host)
    let table = DetectReport.table(host)
    // For a person replaying an input: what detect would print.
    if showTables { say(table) }
    let plan = PlanResolver.resolve(policies, host: host, labels: NodeLabels.of(host, extra: [:]))
    _ = PlanReport.json(plan)
    _ = PlanReport.table(plan)
    var states: [PCIAddress: PFState] = [:]
    for function in BaseHosts.functions(base) {
        guard let address = PCIAddress(function.address) else { continue }
        if let state = kernel.pf(address) {
            states[address] = state
            for planned in plan.interfaces where planned.pciAddress == address {
                _ = Drift.differences(planned, state, card: nil)
            }
        }
    }
    check(host, states: states)
    checkDescriptors()
    return 0
}

/// Open file descriptors after the first input; the readers must not leave any more.
nonisolated(unsafe) var firstDescriptorCount: Int?

func checkDescriptors() {
    guard let dir = opendir("/proc/self/fd") else { return }
    var count = 0
    while readdir(dir) != nil { count += 1 }
    closedir(dir)
    guard let first = firstDescriptorCount else {
        firstDescriptorCount = count
        return
    }
    if count > first + 8 { broken("\(count - first) more file descriptors are open than after the first input") }
}

let showTables = getenv("SYSFS_FUZZ_SHOW") != nil

/// Where the base hosts' trees are kept, the folder UMOCKDEV_DIR names, and where an
/// input's editor moves what it replaces. Not /dev/shm: the preload takes every path
/// under /dev for a device node and opens (and keeps) a socket for each file opened
/// there. The variable is set once: glibc keeps every value ever given to setenv, which
/// would look like a leak in every input.
let scratch: (folder: String, tree: String, backups: String, bases: [String]) = {
    let parent = (getenv("SYSFS_FUZZ_TMP") ?? getenv("TMPDIR")).map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(parent)/sysfs-fuzz.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { broken("cannot make a folder in \(parent)") }
    let folder = String(cString: made)
    let backups = folder + "/backups"
    guard mkdir(backups, 0o700) == 0 else { broken("cannot make \(backups)") }
    let bases = BaseHosts.all.enumerated().map { index, host in
        let path = folder + "/base-\(index)"
        guard let testbed = try? Testbed(host, in: folder), rename(testbed.root, path) == 0 else {
            broken("cannot write the base host \(index) in \(folder)")
        }
        testbed.keep()
        return path
    }
    return (folder, folder + "/current", backups, bases)
}()

@main
struct SysfsFuzzerMain {
    static func main() throws {
        let arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "--write-seeds" {
            try writeSeeds(into: arguments[2])
            return
        }
        // Without the preload, discovery would read this machine's /sys.
        guard getenv("LD_PRELOAD").map({ String(cString: $0).contains("umockdev") }) == true else {
            say("sysfs-fuzzer: run under LD_PRELOAD=libumockdev-preload.so.0 (scripts/fuzz-sysfs does)")
            exit(2)
        }
        setenv("UMOCKDEV_DIR", scratch.tree, 1)
        // libFuzzer ends the process with exit(), past any defer.
        atexit { SysfsFuzzerMain.removeScratch() }
        try FuzzDriver.run(fuzzSysfs, replaying: Array(arguments.dropFirst()))
    }

    static func removeScratch() {
        removeTree(scratch.folder)
    }

    /// One seed per catalog host as it is, and one per host with every kind of change.
    static func writeSeeds(into folder: String) throws {
        var seeds: [String: String] = [:]
        for index in BaseHosts.all.indices { seeds["host\(index)"] = "host \(index)\n" }
        seeds["garbage-counts"] = """
            host 0
            1 sriov_totalvfs -1
            1 sriov_numvfs abc
            6 sriov_totalvfs 99999999999999999999
            6 sriov_numvfs \\xff\\xfe
            1 numa_node -7
            1 net/enp59s0f0/mtu -5
            1 net/enp59s0f0/address zz:zz
            1 net/enp59s0f0/speed 4294967296
            1 net/enp59s0f0/addr_assign_type 3
            1 net/enp59s0f0/flags 0xzz

            """
        seeds["stray-links"] = """
            host 0
            1 link:virtfn4 ../0000:3b:00.0
            1 link:virtfn5 ../0000:3b:00.1
            1 link:virtfn6 ../0000:3b:0a.0
            1 link:virtfn7 ../0000:3b:02.0
            3 link:physfn ../0000:3b:00.1
            1 link:iommu_group ../../../kernel/iommu_groups/-3
            1 rm:virtfn0

            """
        seeds["short-config"] = """
            host 3
            0 config#368
            2 config#64
            5 config@160 1000010000000000
            1 class 0x020000\\n
            1 vendor 0x80866

            """
        seeds["uevent-and-ids"] = """
            host 1
            0 uevent DRIVER=\\nPCI_ID=zzzz\\n
            0 device 0xzzzz
            0 sriov_vf_device 10ca0
            3 rm:config
            3 sriov_totalvfs 8

            """
        for (name, text) in seeds {
            let path = folder + "/" + name
            guard let file = fopen(path, "wb") else { throw SeedError(path: path) }
            fputs(text, file)
            fclose(file)
        }
    }

}

struct SeedError: Error { let path: String }
