import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Reads sysfs the way the kernel presents it: small text attributes, symbolic
/// links between devices, and folders of devices. Discovery always starts from
/// `/sys`; tests redirect that path with umockdev's preload, never with a parameter,
/// so the code under test is the code that runs on a node.
package enum Sysfs {
    static let root: FilePath = "/sys"
    static let pciBus = root.appending("bus/pci")
    static let pciDevices = pciBus.appending("devices")
    /// Writing a function's address here makes the kernel probe a driver for it.
    static let pciDriversProbe = pciBus.appending("drivers_probe")
    static let netDevices = root.appending("class/net")

    /// A PCI function's folder.
    static func pciDevice(_ address: PCIAddress) -> FilePath {
        pciDevices.appending(address.description)
    }

    /// A PF's VF count: reading it gives the count, writing one creates or removes VFs.
    package static func numVFsFile(_ pf: PCIAddress) -> FilePath {
        pciDevice(pf).appending("sriov_numvfs")
    }

    /// The loaded PCI drivers' folders.
    static let pciDrivers = pciBus.appending("drivers")

    /// A PCI driver's folder: present while the driver is loaded.
    static func pciDriver(_ name: String) -> FilePath {
        pciDrivers.appending(name)
    }

    /// The attribute's text without the trailing newline, or nil when it does not
    /// exist or cannot be read (EINVAL from `speed` on a down link, EIO from a
    /// device that went away): an absent attribute is a fact to report, not an error.
    static func attribute(_ path: FilePath) -> String? {
        try? read(path).get()
    }

    /// The attribute's text, or why it could not be read: ENOENT when the kernel does
    /// not create it, another errno when the read itself failed.
    static func read(_ path: FilePath) -> Result<String, Errno> {
        // Non-blocking: sysfs ignores it, and a FIFO planted in a fake tree cannot hang us.
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .nonBlocking])
        } catch {
            return .failure(error as? Errno ?? .ioError)
        }
        defer { try? fd.close() }
        return read(fd.rawValue)
    }

    /// The text of the attribute open as `fd`. Attributes are at most a page; one read
    /// returns the whole value. The bytes go to a stack buffer so that the string keeps
    /// only what it needs. `positioned`: pread(2) at offset 0, which sysfs answers as it
    /// does read(2); umockdev's preload wraps read(2) in two more system calls, pread not.
    static func read(_ fd: Int32, positioned: Bool = false) -> Result<String, Errno> {
        do {
            return .success(
                try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
                    let file = FileDescriptor(rawValue: fd)
                    let into = UnsafeMutableRawBufferPointer(buffer)
                    var end = try positioned ? file.read(fromAbsoluteOffset: 0, into: into) : file.read(into: into)
                    while end > 0, buffer[end - 1] == UInt8(ascii: "\n") || buffer[end - 1] == 0 { end -= 1 }
                    return String(decoding: buffer[..<end], as: UTF8.self)
                })
        } catch {
            return .failure(error as? Errno ?? .ioError)
        }
    }

    /// `attribute` for the file `name` in `folder`, a path held as a String. Discovery reads
    /// a few attributes and links of each of thousands of VFs; building a FilePath, or even a
    /// String, for each path costs more than the system call. Absolute paths, not reads
    /// relative to an open folder: those cost umockdev's preload (which tests and the
    /// benchmark run under) two more system calls each.
    static func attribute(in folder: String, _ name: String) -> String? {
        withPath(folder, name) { path in
            // Non-blocking: sysfs ignores it, and a FIFO planted in a fake tree cannot hang us.
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            // A FIFO in a fake tree is nil (ESPIPE), not "": callers take both for unknown.
            return try? read(fd, positioned: true).get()
        }
    }

    /// `linkName` for the link `name` in `folder`: the last component of the link's target.
    static func linkName(in folder: String, _ name: String) -> String? {
        linkText(in: folder, name).flatMap(lastComponent)
    }

    /// The target of the link `name` in `folder`, as readlink(2) gives it.
    static func linkText(in folder: String, _ name: String) -> String? {
        withPath(folder, name) { path in readLinkText { readlink(path, $0, $1) } }
    }

    /// Calls `body` with `folder/name` as a C string built on the stack.
    private static func withPath<T>(
        _ folder: String, _ name: String, _ body: (UnsafePointer<CChar>) -> T?
    ) -> T? {
        var folder = folder
        var name = name
        return folder.withUTF8 { folder in
            name.withUTF8 { name in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: folder.count + name.count + 2) { buffer in
                    guard let base = buffer.baseAddress else { return nil }
                    var end = buffer.initialize(fromContentsOf: folder)
                    buffer[end] = UInt8(ascii: "/")
                    end = buffer[(end + 1)...].initialize(fromContentsOf: name)
                    buffer[end] = 0
                    return base.withMemoryRebound(to: CChar.self, capacity: end + 1) { body($0) }
                }
            }
        }
    }

    /// What FilePath calls the last component: the text after the last `/`, ignoring
    /// trailing and repeated separators; nil for `/`.
    static func lastComponent(_ path: String) -> String? {
        // By bytes: splitting Characters costs more than the readlink it follows.
        var path = path
        return path.withUTF8 { bytes in
            let slash = UInt8(ascii: "/")
            guard let last = bytes.lastIndex(where: { $0 != slash }) else { return nil }
            let first = bytes[..<last].lastIndex(of: slash).map { $0 + 1 } ?? 0
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[first...last]), as: UTF8.self)
        }
    }

    /// An attribute parsed as an integer: decimal, or hex with a `0x` prefix.
    static func integer(_ path: FilePath) -> Int? {
        attribute(path).flatMap(SysfsValue.integer)
    }

    /// An attribute that is a size or an index: nil when it is negative or not a number.
    static func nonNegative(_ path: FilePath) -> Int? {
        integer(path).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// The target of a symbolic link, or nil when `path` is not one.
    static func link(_ path: FilePath) -> FilePath? {
        linkText(path).map { FilePath($0) }
    }

    /// `link` as the text readlink(2) gives.
    static func linkText(_ path: FilePath) -> String? {
        path.withPlatformString { name in readLinkText { readlink(name, $0, $1) } }
    }

    /// A stack buffer: discovery reads a few links per VF, thousands on a large host.
    static func readLinkText(_ call: (UnsafeMutablePointer<CChar>, Int) -> Int) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PATH_MAX)) { buffer in
            guard let base = buffer.baseAddress else { return nil }
            let count = call(base, buffer.count)
            guard count > 0 else { return nil }
            return String(decoding: UnsafeRawBufferPointer(start: base, count: count), as: UTF8.self)
        }
    }

    /// The last component of a link's target: a driver's name, an IOMMU group, a PCI address.
    static func linkName(_ path: FilePath) -> String? {
        link(path)?.lastComponent?.string
    }

    /// The IOMMU group a function belongs to: the name of its `iommu_group` link's target.
    static func iommuGroup(_ function: FilePath) -> Int? {
        linkName(function.appending("iommu_group")).flatMap(SysfsValue.index)
    }

    /// The VFs a PF's `virtfnN` links name, by N. A link is believed only when it names
    /// another function whose `physfn` link leads back to this PF, and each function
    /// counts once: a link back to the PF itself, to a function of another PF or to
    /// something that is not a PCI function is ignored (a fake or corrupt tree; no
    /// kernel makes one), so that no PF is ever listed as a VF, its own or another's.
    /// `folder`: the VF's folder as a String path, next to the PF's own (`deviceFolder`) when the link is `../NAME`.
    ///
    /// `listed`, the functions of the `bus/pci/devices` listing, spares a readlink per VF. The kernel makes
    /// `virtfnN` for the VF at the routing ID the PF's offset and stride give (the values `sriov_offset` and
    /// `sriov_stride` show) and gives the VF its PF's parent (pci_iov_add_virtfn), so its link is `../NAME`.
    /// Once the first and the last link read agree with that, a link between them whose function is listed
    /// is taken as computed; any other link is read.
    static func virtualFunctions(
        of pf: PCIAddress, listed: Set<PCIAddress> = []
    ) -> [(index: Int, address: PCIAddress, folder: String)] {
        let folder = pciDevice(pf)
        // Where the PF says its VFs are: VF n's routing ID is the PF's plus First VF
        // Offset plus n times VF Stride (PCIe SR-IOV 3.3.9-10, drivers/pci/iov.c). A link
        // to that address needs no `physfn` read to be believed; any other link does.
        let offset = attribute(folder.appending("sriov_offset")).flatMap(SysfsValue.count)
        let stride = attribute(folder.appending("sriov_stride")).flatMap(SysfsValue.count)
        func expected(_ index: Int) -> PCIAddress? {
            offset.flatMap { offset in stride.flatMap { pf.virtualFunction(index, offset: offset, stride: $0) } }
        }
        // Links read by absolute path from the PF's own folder: see attribute(in:_:).
        let base = deviceFolder(pf) ?? folder.string
        func read(_ index: Int) -> (index: Int, address: PCIAddress, sibling: Bool)? {
            guard let target = linkText(in: base, "virtfn\(index)"),
                let name = lastComponent(target),
                let address = PCIAddress(sysfsName: name), address != pf,
                address == expected(index) || linkName(pciDevices.appending(name).appending("physfn")) == pf.description
            else { return nil }
            return (index, address, target == "../" + name)
        }

        var indices: [Int] = []
        entries(atPath: base) { _, entry in
            if entry.hasPrefix("virtfn"), let index = SysfsValue.index(entry.dropFirst("virtfn".count)) {
                indices.append(index)
            }
        }
        indices.sort()
        guard let first = indices.first, let last = indices.last else { return [] }
        var ends = [first: read(first)]
        if last != first { ends[last] = read(last) }
        let computable = ends.allSatisfy { index, link in
            link.map { $0.sibling && $0.address == expected(index) } ?? false
        }
        var seen = Set<PCIAddress>()
        let parent = base.lastIndex(of: "/").map { String(base[..<$0]) + "/" } ?? ""
        let devices = pciDevices.string + "/"
        return indices.compactMap { index in
            if let end = ends[index] { return end }
            if computable, let address = expected(index), listed.contains(address) { return (index, address, true) }
            return read(index)
        }.filter { seen.insert($0.address).inserted }.map { link in
            (link.index, link.address, (link.sibling ? parent : devices) + link.address.sysfsName)
        }
    }

    /// The driver of each bound PCI function, from the drivers' folders: the kernel links a device by name in
    /// its driver's folder when it makes the device's `driver` link (driver_sysfs_add, drivers/base/dd.c). A
    /// listing per loaded driver costs less than a readlink per VF wherever VFs outnumber PCI drivers.
    static func pciDriverBindings() -> [PCIAddress: String] {
        var bindings: [PCIAddress: String] = [:]
        let drivers = pciDrivers.string
        entries(atPath: drivers) { _, driver in
            entries(atPath: drivers + "/" + driver) { _, entry in
                var entry = entry
                if let address = entry.withUTF8(pciAddress) { bindings[address] = driver }
            }
        }
        return bindings
    }

    /// The folder that a function's link in `bus/pci/devices` leads to, as a path without links
    /// or `..` (`/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0`); nil when the link is not
    /// relative. Read at their own folder, a VF's links and attributes cost the kernel 15% less
    /// than through the link (measured on the benchmark's large host).
    static func deviceFolder(_ address: PCIAddress) -> String? {
        guard let target = linkText(pciDevice(address)), !target.hasPrefix("/") else { return nil }
        var folder = pciDevices.appending(target)
        folder.lexicallyNormalize()
        return folder.string
    }

    /// The netdevs of the PCI functions, from one listing of `/sys/class/net` and one readlink
    /// per netdev: reading each VF's `net` folder took four system calls (open, two getdents,
    /// close), 10 µs per VF on a 2,000-VF host, and libudev's enumeration of a PF's children
    /// 0.3 ms per PF (it reads every entry of the PF's folder, 64 `virtfnN` links among them).
    /// The kernel makes a netdev's `class/net` link with its folder under its device, and both
    /// show only the netdevs of sysfs's network namespace.
    struct Netdevs {
        /// By the function whose `net` folder holds them, as the VF's `net` listing gave.
        var children: [PCIAddress: [String]] = [:]
        /// The netdev folders below each function at any depth, sorted: what libudev's
        /// enumeration of a function's `net` children gave.
        var descendants: [PCIAddress: [String]] = [:]
    }

    static func netdevs() -> Netdevs {
        var netdevs = Netdevs()
        let folder = netDevices.string
        entries(atPath: folder) { _, name in
            guard var target = linkText(in: folder, name) else { return }
            // By bytes: String's Character-wise prefix, suffix and split cost ten times the readlink.
            target.withUTF8 { target in
                guard let device = deviceFolder(ofNetdev: target, name) else { return }
                let path = root.string + "/" + String(decoding: device, as: UTF8.self)
                var direct = true
                var end = device.count
                while end > 0 {
                    let start = device[..<end].lastIndex(of: UInt8(ascii: "/")).map { $0 + 1 } ?? 0
                    if let function = pciAddress(UnsafeBufferPointer(rebasing: device[start..<end])) {
                        if direct { netdevs.children[function, default: []].append(name) }
                        netdevs.descendants[function, default: []].append(path + "/net/" + name)
                    }
                    direct = false
                    end = max(start - 1, 0)
                }
            }
        }
        for function in netdevs.descendants.keys { netdevs.descendants[function]?.sort() }
        return netdevs
    }

    /// The device folder below /sys that owns the netdev `name`, from its `class/net` link's
    /// target (`../../devices/pci0000:00/0000:00:02.0/0000:3b:02.0/net/NAME`, relative to
    /// /sys/class/net): `devices/…/0000:3b:02.0`; nil for a target of another shape or with `..` inside.
    private static func deviceFolder(
        ofNetdev target: UnsafeBufferPointer<UInt8>, _ name: String
    ) -> UnsafeBufferPointer<UInt8>? {
        let head = "../../devices/".utf8
        let net = "/net/".utf8
        let tail = net.count + name.utf8.count
        guard target.count > head.count + tail, target.starts(with: head),
            target[(target.count - tail)...].starts(with: net),
            target[(target.count - name.utf8.count)...].elementsEqual(name.utf8)
        else { return nil }
        let device = UnsafeBufferPointer(rebasing: target[6..<(target.count - tail)])
        for index in device.indices.dropFirst()
        where device[index] == UInt8(ascii: ".") && device[index - 1] == device[index] {
            return nil
        }
        return device
    }

    /// A path component in the kernel's form of a PCI address (`0000:3b:02.0`), else nil;
    /// other components (`pci0000:00`, `devices`, `mlx5_core.eth.0`) skip the general parser.
    private static func pciAddress(_ component: UnsafeBufferPointer<UInt8>) -> PCIAddress? {
        let count = component.count
        guard count >= 12, component[count - 2] == UInt8(ascii: "."), component[count - 5] == UInt8(ascii: ":"),
            component[count - 8] == UInt8(ascii: ":")
        else { return nil }
        return PCIAddress(sysfsName: String(decoding: component, as: UTF8.self))
    }

    /// The names in a folder, without `.` and `..`; empty when it does not exist.
    static func entries(_ path: FilePath) -> [String] {
        var names: [String] = []
        entries(path) { _, name in names.append(name) }
        return names
    }

    /// Calls `body` with the open folder's descriptor and each name in it, without `.` and `..`.
    static func entries(_ path: FilePath, _ body: (_ folder: Int32, _ name: String) -> Void) {
        entries(atPath: path.string, body)
    }

    /// `entries` for a path held as a String.
    static func entries(atPath path: String) -> [String] {
        var names: [String] = []
        entries(atPath: path) { _, name in names.append(name) }
        return names
    }

    static func entries(atPath path: String, _ body: (_ folder: Int32, _ name: String) -> Void) {
        guard let dir = path.withCString({ opendir($0) }) else { return }
        defer { closedir(dir) }
        let folder = dirfd(dir)
        forEachEntry(of: dir) { body(folder, $0) }
    }

    static func exists(_ path: FilePath) -> Bool {
        path.withPlatformString { access($0, F_OK) } == 0
    }
}

/// Parsers for what the kernel prints into sysfs attributes. Each returns nil for text
/// the kernel would not write there, so that garbage is reported as unknown, never as
/// a number it is not.
enum SysfsValue {
    /// Decimal, or hex with a `0x` prefix, with any sign: `flags`, `class`, `numa_node`.
    static func integer(_ text: String) -> Int? {
        // What the kernel writes most (`1500`, `0`): a few digits, read without trimming.
        let digits = text.utf8
        if (1...18).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }) {
            return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        let text = text.trimmingSpaces
        if text.hasPrefix("0x") { return Int(text.dropFirst(2), radix: 16) }
        return Int(text)
    }

    /// A VF count, as the kernel prints the u16 of `sriov_totalvfs` and `sriov_numvfs`
    /// (`%u`): decimal digits only, at most 65535. "-1", "abc", "" or a 20-digit number
    /// are not counts.
    static func count(_ text: String) -> Int? {
        let digits = text.trimmingSpaces.utf8
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return value <= Int(UInt16.max) ? value : nil
    }

    /// An index in a name the kernel makes with `%u` or `%d` (`virtfn3`, IOMMU group `42`):
    /// digits only, no sign, no leading zero, so that one index has one spelling.
    static func index(_ text: some StringProtocol) -> Int? {
        let digits = text.utf8
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ (0x30...0x39).contains($0) }),
            digits.count == 1 || digits.first != 0x30
        else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// A link-layer address as the kernel prints it (`%pM` and its longer forms):
    /// colon-separated pairs of lowercase hex digits, 1 to 32 bytes.
    static func linkAddress(_ text: String) -> String? {
        // By bytes, as `xx:xx:...` is laid out: every third byte a colon, the rest digits.
        var text = text
        func lowerHex(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || (0x61...0x66).contains(byte) }
        let valid = text.withUTF8 { bytes in
            (bytes.count + 1) % 3 == 0 && (1...32).contains((bytes.count + 1) / 3)
                && bytes.indices.allSatisfy { $0 % 3 == 2 ? bytes[$0] == UInt8(ascii: ":") : lowerHex(bytes[$0]) }
        }
        return valid ? text : nil
    }

    /// A value as a message shows it: quoted, escaped onto one line, at most 40 characters.
    static func quoted(_ text: String) -> String {
        let escaped = text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined()
        return "\"" + (escaped.count > 40 ? String(escaped.prefix(40)) + "..." : escaped) + "\""
    }
}

extension StringProtocol {
    package var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}

extension String {
    /// The NUL-terminated text a C function wrote into `buffer`.
    init(cBuffer buffer: [CChar]) {
        let end = buffer.firstIndex(of: 0) ?? buffer.endIndex
        self.init(decoding: buffer[..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
