import CLibPCI
import PCIShim
import SRIOVModel
import SystemPackage

/// What libpci reads from one function's config space.
struct PCIConfigFacts {
    var sriov: SRIOVCapability?
    var serialNumber: String?
    /// How much of config space the kernel returns: 4096 for PCIe, 256 for PCI, 64 to a
    /// user who is not root (or whatever a fake tree holds).
    var readableBytes = 4096
    /// The VFs the kernel has made, from the capability's registers: NumVFs while VF Enable is set, else 0.
    /// drivers/pci/iov.c keeps them so (sriov_enable sets NumVFs then VF Enable; disable and a failed
    /// enable clear both), and config reads take no device lock, unlike `sriov_numvfs`.
    var enabledVFs: Int? {
        sriov.map { vfEnable ? $0.numVFs : 0 }
    }
    /// The capability's VF Enable bit (SR-IOV Control, bit 0).
    var vfEnable = false
}

/// One libpci access handle, for the life of one discovery. libpci reads sysfs
/// (`/sys/bus/pci`) and names devices from pci.ids; it is not thread-safe, so a
/// handle is used by one thread at a time.
final class PCILibrary {
    private let access: UnsafeMutablePointer<pci_access>

    init() throws(SRIOVError) {
        guard let access = hsriov_pci_alloc() else { throw .discovery("libpci: out of memory") }
        var message = [CChar](repeating: 0, count: 256)
        guard hsriov_pci_init(access, &message, Int32(message.count)) == 0 else {
            pci_cleanup(access)
            throw .discovery("libpci cannot read PCI devices: \(String(cBuffer: message)); is /sys mounted?")
        }
        self.access = access
    }

    deinit { pci_cleanup(access) }

    /// Where PCIe's extended capabilities (SR-IOV, DSN) begin in config space.
    static let extendedConfigStart = 0x100

    /// Reads the SR-IOV and Device Serial Number capabilities of one function.
    /// Nil when config space cannot be read at all (no file, not PCIe).
    func configFacts(_ address: PCIAddress) -> PCIConfigFacts? {
        guard
            let dev = pci_get_dev(
                access, Int32(address.domain), Int32(address.bus),
                Int32(address.device), Int32(address.function))
        else { return nil }
        defer { pci_free_dev(dev) }
        var message = [CChar](repeating: 0, count: 256)
        guard hsriov_pci_fill(dev, &message, Int32(message.count)) == 0 else { return nil }

        // libpci reads what lies past the end of `config` as all ones, so a capability
        // that does not fit in what the kernel returns is not believed.
        var facts = PCIConfigFacts(readableBytes: Self.readableBytes(address))
        if let cap = pci_find_cap(dev, UInt32(PCI_EXT_CAP_ID_SRIOV), UInt32(PCI_CAP_EXTENDED)),
            Int(cap.pointee.addr) + 0x1c <= facts.readableBytes
        {
            let base = Int32(cap.pointee.addr)
            // Offsets in the SR-IOV capability structure (PCIe base spec 9.3.3).
            facts.vfEnable = pci_read_word(dev, base + 0x08) & 0x1 != 0
            facts.sriov = SRIOVCapability(
                totalVFs: Int(pci_read_word(dev, base + 0x0e)),
                initialVFs: Int(pci_read_word(dev, base + 0x0c)),
                numVFs: Int(pci_read_word(dev, base + 0x10)),
                firstVFOffset: Int(pci_read_word(dev, base + 0x14)),
                vfStride: Int(pci_read_word(dev, base + 0x16)),
                vfDeviceID: hex(pci_read_word(dev, base + 0x1a), width: 4)
            )
        }
        if let cap = pci_find_cap(dev, UInt32(PCI_EXT_CAP_ID_DSN), UInt32(PCI_CAP_EXTENDED)),
            Int(cap.pointee.addr) + 0x0c <= facts.readableBytes
        {
            let base = Int32(cap.pointee.addr)
            let serial = UInt64(pci_read_long(dev, base + 8)) << 32 | UInt64(pci_read_long(dev, base + 4))
            facts.serialNumber = stride(from: 56, through: 0, by: -8)
                .map { hex(UInt8(truncatingIfNeeded: serial >> UInt64($0)), width: 2) }
                .joined(separator: "-")
        }
        return facts
    }

    /// The bytes of config space the kernel returns for `address`: 4096 unless the file
    /// is shorter. One byte read where a PCIe function's config space ends tells the
    /// common case; only a shorter file costs a second, whole read.
    static func readableBytes(_ address: PCIAddress) -> Int {
        let path = Sysfs.pciDevice(address).appending("config")
        guard let fd = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .nonBlocking]) else {
            return 0
        }
        defer { try? fd.close() }
        var byte: UInt8 = 0
        let last = try? withUnsafeMutableBytes(of: &byte) { try fd.read(fromAbsoluteOffset: 4095, into: $0) }
        if last == 1 { return 4096 }
        // A non-root reader gets 64 bytes of a longer file: what a read returns is what counts.
        var buffer = [UInt8](repeating: 0, count: 4096)
        return (try? buffer.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0) }) ?? 0
    }

    /// Vendor and device names from pci.ids (IDs as 4 hex digits); nil when the database lacks them.
    func names(vendor: String, device: String) -> (vendor: String?, device: String?) {
        guard let vendor = Int(vendor, radix: 16), let device = Int(device, radix: 16) else { return (nil, nil) }
        var buffer = [CChar](repeating: 0, count: 256)
        let vendorName = hsriov_pci_vendor_name(access, &buffer, Int32(buffer.count), Int32(vendor))
            .map { String(cString: $0) }
        let deviceName = hsriov_pci_device_name(access, &buffer, Int32(buffer.count), Int32(vendor), Int32(device))
            .map { String(cString: $0) }
        return (vendorName, deviceName)
    }
}
