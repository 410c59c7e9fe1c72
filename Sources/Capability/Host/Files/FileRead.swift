import SRIOVModel
import SystemPackage

extension FileDescriptor {
    /// The bytes from the current offset to the end of the file. With `limit`, reading
    /// stops once more than `limit` bytes are in, so that a caller that refuses large
    /// files does not read all of one to find that out. `chunk` is the size of one read.
    /// swift-system retries a read that a signal interrupted (EINTR).
    public func readToEnd(limit: Int = .max, chunk: Int = 65536) throws(Errno) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while bytes.count <= limit {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try read(into: $0) }
            } catch {
                throw error as? Errno ?? .ioError
            }
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return bytes
    }
}

#if canImport(Glibc)
    import Glibc
#endif

/// The one way a file we did not write (a policy, a network, a drop-in, the state) is read: opened without
/// blocking (a FIFO would block open(2) for ever), looked at with fstat before a byte is read (a regular file,
/// no larger than the limit), then read to the end, never past the limit.
public enum BoundedRead {
    /// Why a file was not read; `description` is the part of a message after the file's name.
    public enum Refusal: Error, Equatable, CustomStringConvertible, Sendable {
        /// open, fstat or read failed.
        case failed(Errno)
        /// Not a regular file: what it is ("a FIFO", "a folder", ...).
        case notRegular(String)
        /// Larger than `limit` bytes.
        case tooLarge(size: Int64, limit: Int)

        public var description: String {
            switch self {
            case let .failed(errno): "cannot read: \(errno.description) (\(SRIOVError.symbol(errno)))"
            case let .notRegular(what): "cannot read: it is \(what), not a regular file; give the path of a file"
            case let .tooLarge(size, limit):
                "is \(BoundedRead.size(size)), larger than the limit of \(BoundedRead.size(Int64(limit)))"
            }
        }
    }

    /// "1 MiB", "3 GiB", "1536 bytes": whole units only, else bytes.
    public static func size(_ bytes: Int64) -> String {
        for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)]
        where bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift) \(unit)"
        }
        return "\(bytes) bytes"
    }

    /// The file at `path` (links followed: the user named it), at most `limit` bytes.
    public static func file(_ path: String, limit: Int) throws(Refusal) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { throw .failed(Errno(rawValue: errno)) }
        defer { close(fd) }
        return try descriptor(fd, limit: limit)
    }

    /// The whole of an open file, checked first: a regular file of at most `limit` bytes. Clears O_NONBLOCK.
    public static func descriptor(_ fd: Int32, limit: Int) throws(Refusal) -> [UInt8] {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .failed(Errno(rawValue: errno)) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notRegular(kind(status.st_mode)) }
        guard status.st_size <= limit else { throw .tooLarge(size: Int64(status.st_size), limit: limit) }
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        let bytes: [UInt8]
        do {
            // A file that grew since the fstat is still read no further than the limit.
            bytes = try FileDescriptor(rawValue: fd).readToEnd(limit: limit, chunk: limit < 65536 ? limit + 1 : 65536)
        } catch {
            throw .failed(error)
        }
        guard bytes.count <= limit else { throw .tooLarge(size: Int64(bytes.count), limit: limit) }
        return bytes
    }

    /// What a file that is not a regular one is, for a message.
    public static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFSOCK: "a socket"
        case S_IFCHR: "a character device"
        case S_IFBLK: "a block device"
        case S_IFLNK: "a symbolic link"
        default: "not a regular file"
        }
    }
}
