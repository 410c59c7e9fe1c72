import CLibUdev
import SRIOVModel
import SystemPackage

/// A device as libudev sees it; owns one reference.
final class UdevDevice {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { udev_device_unref(handle) }

    var syspath: String { udev_device_get_syspath(handle).map { String(cString: $0) } ?? "" }
    var driver: String? { udev_device_get_driver(handle).map { String(cString: $0) } }

    /// A sysfs attribute; libudev caches it for the life of the device.
    func attribute(_ name: String) -> String? {
        udev_device_get_sysattr_value(handle, name).map { String(cString: $0).trimmingSpaces }
    }

    func integerAttribute(_ name: String) -> Int? {
        attribute(name).flatMap(SysfsValue.integer)
    }
}

/// One libudev context, for the life of one discovery.
final class Udev {
    private let context: OpaquePointer

    init() throws(SRIOVError) {
        guard let context = udev_new() else { throw .discovery("libudev: cannot create a context") }
        self.context = context
    }

    /// udev's hardware database (hwdb.bin), opened on first use; nil when the node has none.
    private lazy var hwdb: OpaquePointer? = udev_hwdb_new(context)

    deinit {
        if let hwdb { udev_hwdb_unref(hwdb) }
        udev_unref(context)
    }

    /// The value of `key` for `modalias` in the hardware database (a memory-mapped trie, so a
    /// lookup costs no system call); nil when there is no database, no entry or an empty one.
    func hardwareDatabase(_ modalias: String, _ key: String) -> String? {
        guard let hwdb else { return nil }
        var entry = udev_hwdb_get_properties_list_entry(hwdb, modalias, 0)
        while let current = entry {
            if let name = udev_list_entry_get_name(current), String(cString: name) == key {
                return udev_list_entry_get_value(current).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            entry = udev_list_entry_get_next(current)
        }
        return nil
    }

    /// The device `sysname` of `subsystem` (`pci`, `0000:3b:00.0`), or nil when it is gone.
    func device(subsystem: String, sysname: String) -> UdevDevice? {
        udev_device_new_from_subsystem_sysname(context, subsystem, sysname).map(UdevDevice.init)
    }

    /// The devices of `subsystem` below `parent` in the device tree, sorted by syspath:
    /// a PCI function's netdevs. libudev scans only the parent's subtree.
    func children(of parent: UdevDevice, subsystem: String) throws(SRIOVError) -> [UdevDevice] {
        guard let enumerate = udev_enumerate_new(context) else { throw .discovery("libudev: cannot enumerate devices") }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, subsystem)
        udev_enumerate_add_match_parent(enumerate, parent.handle)
        let status = udev_enumerate_scan_devices(enumerate)
        guard status >= 0 else {
            let errno = Errno(rawValue: -status)
            throw .discovery(
                "libudev cannot list the \(subsystem) devices of \(parent.syspath): "
                    + "\(errno.description) (\(SRIOVError.symbol(errno)))")
        }
        var devices: [UdevDevice] = []
        var entry = udev_enumerate_get_list_entry(enumerate)
        while let current = entry {
            if let device = udev_device_new_from_syspath(context, udev_list_entry_get_name(current)) {
                devices.append(UdevDevice(handle: device))
            }
            entry = udev_list_entry_get_next(current)
        }
        return devices
    }
}
