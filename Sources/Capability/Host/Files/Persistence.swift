import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// One line of /proc/self/mountinfo (proc(5), "/proc/pid/mountinfo"): the fields we use.
public struct MountEntry: Sendable, Equatable {
    /// Field 3, `major:minor` of the file system's device.
    public var device: String
    /// Field 5, the mount point, relative to the reading process's root, unescaped.
    public var mountPoint: String

    public init(device: String, mountPoint: String) {
        self.device = device
        self.mountPoint = mountPoint
    }
}

public enum MountInfo {
    public static let path = "/proc/self/mountinfo"

    /// The entries of a mountinfo text, in its order (later entries are mounted over earlier
    /// ones at the same point). Lines with fewer than five fields are skipped.
    public static func parse(_ text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5 else { return nil }
            return MountEntry(device: String(fields[2]), mountPoint: unescape(fields[4]))
        }
    }

    /// The kernel writes space, tab, newline and backslash in a path as `\040`, `\011`, `\012`
    /// and `\134` (fs/proc_namespace.c, `show_mountinfo` -> `mangle`, with " \t\n\\").
    public static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let source = Array(field.utf8)
        var index = 0
        while index < source.count {
            if source[index] == UInt8(ascii: "\\"), index + 3 < source.count,
                let value = octal(source[(index + 1)...(index + 3)])
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(source[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func octal(_ digits: ArraySlice<UInt8>) -> UInt8? {
        var value = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(digit - UInt8(ascii: "0"))
        }
        return value <= 255 ? UInt8(value) : nil
    }

    /// This process's mounts.
    public static func read() throws(SRIOVError) -> [MountEntry] {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
            defer { try? fd.close() }
            return parse(String(decoding: try fd.readToEnd(), as: UTF8.self))
        } catch {
            throw .io(path: path, operation: "read", errno: error as? Errno ?? .ioError, hint: "mount /proc")
        }
    }
}

/// Where the target's persistent partition (Elemental's COS_PERSISTENT) is mounted, so that the
/// files that must outlive the first boot (binary, state) are written to it.
public enum PersistentMount: Sendable, Equatable {
    /// `--root` is a plain folder: nothing is mounted on or under it (a staging copy, the
    /// tests' folders), so there is nothing to check; files go to `usr/local` as given.
    case notChecked
    /// Elemental 1.x (Harvester <= 1.6), and a booted node: the persistent partition is mounted
    /// on `<root>/usr/local` (elemental-toolkit e9f70ce5 pkg/action/install.go:44-55 binds
    /// /run/cos/persistent there in the after-install chroot; at boot harvester-installer's
    /// cos-rootfs.yaml mounts LABEL=COS_PERSISTENT there).
    case usrLocal
    /// Elemental 2.x: in the after-install chroot the persistent partition is bound at
    /// `/run/elemental/persistent` and nothing at `/usr/local` (elemental-toolkit f29ac269
    /// pkg/constants/constants.go:59,100, pkg/action/install.go:95-110); what the node will see at
    /// `/usr/local` after boot is written there.
    case elemental2

    /// Elemental 2's bind mount of the persistent partition, relative to the root.
    public static let elemental2Path: FilePath = "run/elemental/persistent"

    /// The folder, relative to the root, that stands for the node's `/usr/local`.
    public var usrLocal: FilePath { self == .elemental2 ? Self.elemental2Path : "usr/local" }

    /// Decides from the root's mounts. `root` is the absolute, symlink-free `--root`; `rootDevice`
    /// the `major:minor` of the file system it is on. Only the harvester layout is checked, and
    /// only when the root is a real system tree: `/` (this process's root, a chroot's included),
    /// a mount point, or a folder with something mounted under it.
    public static func decide(
        root: String, rootDevice: String, layout: Layout, mounts: [MountEntry]
    ) throws(SRIOVError) -> PersistentMount {
        guard layout == .harvester else { return .notChecked }
        let base = root == "/" ? "" : root
        var top: [String: String] = [:]  // mount point -> device of the last (visible) mount
        for mount in mounts { top[mount.mountPoint] = mount.device }
        let isSystemTree =
            root == "/" || top[root] != nil || top.keys.contains { $0.hasPrefix(base + "/") }
        guard isSystemTree else { return .notChecked }
        func separate(_ relative: String) -> Bool {
            guard let device = top[base + "/" + relative] else { return false }
            return device != rootDevice
        }
        if separate("usr/local") { return .usrLocal }
        if separate(elemental2Path.string) { return .elemental2 }
        let shown = root == "/" ? "" : root
        throw .unsafePath(
            "refusing to install into \(root): \(shown)/usr/local is not a mount point of its own and nothing is mounted at \(shown)/\(elemental2Path.string), so the binary and the state would be lost at the first boot; mount the persistent partition (LABEL=COS_PERSISTENT) at \(shown)/usr/local, or use --layout fhs on a system whose / is writable"
        )
    }

    /// `decide` for a root on this machine: its real path, its device and this process's mounts.
    public static func check(_ root: TargetRoot, layout: Layout) throws(SRIOVError) -> PersistentMount {
        guard layout == .harvester else { return .notChecked }
        guard let resolved = realpath(root.path.string, nil) else {
            throw .io(path: root.path.string, operation: "resolve", errno: Errno(rawValue: errno))
        }
        let real = String(cString: resolved)
        free(resolved)
        var status = stat()
        guard stat(real, &status) == 0 else {
            throw .io(path: real, operation: "stat", errno: Errno(rawValue: errno))
        }
        return try decide(
            root: real, rootDevice: deviceName(UInt64(status.st_dev)), layout: layout, mounts: MountInfo.read())
    }

    /// `major:minor` as mountinfo writes them (glibc's gnu_dev_major and gnu_dev_minor).
    public static func deviceName(_ device: UInt64) -> String {
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~UInt64(0xfff))
        let minor = (device & 0xff) | ((device >> 12) & ~UInt64(0xff))
        return "\(major):\(minor)"
    }
}
