import CLibUdev
import SRIOVModel

/// A device as libudev sees it; owns one reference.
final class UdevDevice {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { udev_device_unref(handle) }

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
}
