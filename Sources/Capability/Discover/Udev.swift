import CLibUdev

/// A device as libudev sees it; owns one reference.
final class UdevDevice {
    let handle: OpaquePointer

    init(handle: OpaquePointer) { self.handle = handle }
    deinit { udev_device_unref(handle) }

    var sysname: String { String(cString: udev_device_get_sysname(handle)) }
    var syspath: String { String(cString: udev_device_get_syspath(handle)) }
    var driver: String? { udev_device_get_driver(handle).map { String(cString: $0) } }

    /// A sysfs attribute; libudev caches it for the life of the device.
    func attribute(_ name: String) -> String? {
        udev_device_get_sysattr_value(handle, name).map { String(cString: $0).trimmingSpaces }
    }

    func integerAttribute(_ name: String) -> Int? {
        guard let text = attribute(name) else { return nil }
        if text.hasPrefix("0x") { return Int(text.dropFirst(2), radix: 16) }
        return Int(text)
    }

    /// The nearest PCI ancestor's sysname (its address): the function a netdev belongs to.
    var pciParentName: String? {
        // The parent is owned by the child: no unref.
        guard let parent = udev_device_get_parent_with_subsystem_devtype(handle, "pci", nil) else { return nil }
        return String(cString: udev_device_get_sysname(parent))
    }
}

/// One libudev context, for the life of one discovery.
final class Udev {
    private let context: OpaquePointer

    init() throws(SRIOVError) {
        guard let context = udev_new() else { throw .discovery("libudev: cannot create a context") }
        self.context = context
    }

    deinit { udev_unref(context) }

    /// The devices of one subsystem, optionally only those whose attribute matches a
    /// glob, in the order libudev returns them (sorted by syspath).
    func devices(subsystem: String, attribute: (name: String, glob: String)? = nil) throws(SRIOVError) -> [UdevDevice] {
        guard let enumerate = udev_enumerate_new(context) else { throw .discovery("libudev: cannot enumerate devices") }
        defer { udev_enumerate_unref(enumerate) }
        udev_enumerate_add_match_subsystem(enumerate, subsystem)
        if let attribute { udev_enumerate_add_match_sysattr(enumerate, attribute.name, attribute.glob) }
        let status = udev_enumerate_scan_devices(enumerate)
        guard status >= 0 else {
            throw .discovery("libudev cannot enumerate \(subsystem) devices under /sys (errno \(-status)); is sysfs mounted?")
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
