#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// Reads sysfs the way the kernel presents it: small text attributes, symbolic
/// links between devices, and folders of devices. Discovery always starts from
/// `/sys`; tests redirect that path with umockdev's preload, never with a parameter,
/// so the code under test is the code that runs on a node.
enum Sysfs {
    static let root: FilePath = "/sys"
    static let pciDevices: FilePath = "/sys/bus/pci/devices"

    /// The attribute's text without the trailing newline, or nil when it does not
    /// exist or cannot be read (EINVAL from `speed` on a down link, EIO from a
    /// device that went away): an absent attribute is a fact to report, not an error.
    static func attribute(_ path: FilePath) -> String? {
        guard let fd = try? FileDescriptor.open(path, .readOnly, options: [.closeOnExec]) else { return nil }
        defer { try? fd.close() }
        // Attributes are at most a page; one read returns the whole value. The bytes go
        // to a stack buffer so that the string keeps only what it needs.
        return try? withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer in
            var end = try fd.read(into: UnsafeMutableRawBufferPointer(buffer))
            while end > 0, buffer[end - 1] == UInt8(ascii: "\n") || buffer[end - 1] == 0 { end -= 1 }
            return String(decoding: buffer[..<end], as: UTF8.self)
        }
    }

    /// An attribute parsed as an integer: decimal, or hex with a `0x` prefix.
    static func integer(_ path: FilePath) -> Int? {
        guard let text = attribute(path)?.trimmingSpaces else { return nil }
        if text.hasPrefix("0x") { return Int(text.dropFirst(2), radix: 16) }
        return Int(text)
    }

    /// The target of a symbolic link, or nil when `path` is not one.
    static func link(_ path: FilePath) -> FilePath? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let count = path.withPlatformString { readlink($0, &buffer, buffer.count - 1) }
        guard count > 0 else { return nil }
        return FilePath(String(cBuffer: Array(buffer[..<count]) + [0]))
    }

    /// The last component of a link's target: a driver's name, an IOMMU group, a PCI address.
    static func linkName(_ path: FilePath) -> String? {
        link(path)?.lastComponent?.string
    }

    /// The names in a folder, without `.` and `..`; empty when it does not exist.
    static func entries(_ path: FilePath) -> [String] {
        guard let dir = path.withPlatformString({ opendir($0) }) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    static func exists(_ path: FilePath) -> Bool {
        path.withPlatformString { access($0, F_OK) } == 0
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
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
