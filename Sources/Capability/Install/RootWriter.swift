#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

public enum WriteOutcome: String, Sendable {
    case created, updated, unchanged, removed, absent
}

/// The one way harvester-sriov changes files. Every path is walked from the root one
/// component at a time with O_NOFOLLOW, so no symbolic link, planted or not, can lead
/// a write outside the root. A file is replaced atomically (temporary file, fsync,
/// rename, fsync of the folder) and only when its content or mode differs, so a
/// second run with the same input touches nothing.
public struct RootWriter: Sendable {
    public let root: TargetRoot

    public init(root: TargetRoot) { self.root = root }

    /// The file's bytes, or nil when it does not exist.
    public func read(_ relative: FilePath) throws(SRIOVError) -> [UInt8]? {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false) else { return nil }
        defer { close(folder) }
        let name = relative.lastComponent!.string
        let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw failure(relative, "open", errno)
        }
        defer { close(fd) }
        return try readAll(fd, relative)
    }

    @discardableResult
    public func write(_ relative: FilePath, _ contents: [UInt8], mode: mode_t = 0o644) throws(SRIOVError) -> WriteOutcome {
        let (folder, name, existing) = try entry(relative)
        defer { close(folder) }
        let exists = existing != nil
        if let existing {
            guard existing.st_mode & S_IFMT == S_IFREG else { throw notRegular(relative, existing.st_mode) }
            let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if existing.st_mode & 0o7777 == mode, try readAll(fd, relative) == contents { return .unchanged }
            }
        }

        let temporary = ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = openat(folder, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw failure(relative, "create", errno) }
        var written = false
        defer { if !written { unlinkat(folder, temporary, 0) } }
        do {
            let descriptor = FileDescriptor(rawValue: fd)
            defer { try? descriptor.close() }
            _ = try descriptor.writeAll(contents)
            // The umask may have narrowed the mode given to openat.
            guard fchmod(fd, mode) == 0 else { throw Errno(rawValue: errno) }
            guard fsync(fd) == 0 else { throw Errno(rawValue: errno) }
        } catch let error as Errno {
            throw failure(relative, "write", error.rawValue)
        } catch {
            throw failure(relative, "write", EIO)
        }
        guard renameat(folder, temporary, folder, name) == 0 else { throw failure(relative, "rename into", errno) }
        written = true
        fsync(folder)
        return exists ? .updated : .created
    }

    /// The target of the symbolic link `relative`, or nil when there is none.
    public func readLink(_ relative: FilePath) throws(SRIOVError) -> String? {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false) else { return nil }
        defer { close(folder) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let count = readlinkat(folder, relative.lastComponent!.string, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(cBuffer: Array(buffer[..<count]) + [0])
    }

    /// Makes `relative` a symbolic link to `target` (relative to its folder), as
    /// `systemctl enable` does; atomically, and only when it differs.
    @discardableResult
    public func symlink(_ relative: FilePath, to target: String) throws(SRIOVError) -> WriteOutcome {
        let (folder, name, existing) = try entry(relative)
        defer { close(folder) }
        let exists = existing != nil
        if let existing {
            guard existing.st_mode & S_IFMT == S_IFLNK else { throw notRegular(relative, existing.st_mode) }
            if try readLink(relative) == target { return .unchanged }
        }
        let temporary = ".\(name).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard symlinkat(target, folder, temporary) == 0 else { throw failure(relative, "create link", errno) }
        guard renameat(folder, temporary, folder, name) == 0 else {
            let code = errno
            unlinkat(folder, temporary, 0)
            throw failure(relative, "rename into", code)
        }
        fsync(folder)
        return exists ? .updated : .created
    }

    /// Removes a file; a missing file is not an error.
    @discardableResult
    public func remove(_ relative: FilePath) throws(SRIOVError) -> WriteOutcome {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false) else { return .absent }
        defer { close(folder) }
        let name = relative.lastComponent!.string
        var existing = stat()
        guard fstatat(folder, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 else { return .absent }
        guard unlinkat(folder, name, 0) == 0 else { throw failure(relative, "remove", errno) }
        fsync(folder)
        return .removed
    }

    /// Takes an exclusive flock(2) on `relative` (created 0600 when missing), reached by
    /// the same walk as writes, so that a planted link cannot move it out of the root.
    /// Polls until `deadline`. The kernel drops the lock when its holder exits, however
    /// it exits, so a lock file left behind never blocks anyone. `holder` is written into
    /// the file, for whoever has to wait, to say who they waited for.
    public func lock(_ relative: FilePath, holder: String, until deadline: ContinuousClock.Instant)
        throws(SRIOVError) -> LockAttempt {
        let start = ContinuousClock.now
        var firstHolder: String?
        var pause: UInt32 = 2_000
        while true {
            let (folder, name, _) = try entry(relative)
            defer { close(folder) }
            let fd = openat(folder, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                if errno == ELOOP { throw notRegular(relative, S_IFLNK) }
                throw failure(relative, "open", errno)
            }
            var opened = stat()
            guard fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw notRegular(relative, opened.st_mode)
            }
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                guard code == EWOULDBLOCK || code == EINTR else {
                    close(fd)
                    throw failure(relative, "lock", code)
                }
                if firstHolder == nil { firstHolder = Self.holder(fd) }
                guard ContinuousClock.now < deadline else {
                    let current = Self.holder(fd) ?? firstHolder
                    close(fd)
                    return .busy(holder: current)
                }
                usleep(pause)
                pause = min(pause * 2, 50_000)
            }
            // Removed or replaced while we waited (uninstall --purge): a lock on a file
            // that is no longer there would exclude no one who comes later.
            var now = stat()
            guard fstatat(folder, name, &now, AT_SYMLINK_NOFOLLOW) == 0,
                  now.st_ino == opened.st_ino, now.st_dev == opened.st_dev else {
                close(fd)
                continue
            }
            let line = Array((holder + "\n").utf8)
            if ftruncate(fd, 0) == 0 { _ = pwrite(fd, line, line.count, 0) }
            return .held(FileLock(fd: fd, waited: ContinuousClock.now - start, holder: firstHolder))
        }
    }

    /// The first line of a lock file, printable ASCII only: it is read into a message.
    private static func holder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 200)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let line = buffer[..<count].prefix { $0 != 0x0a }.filter { (0x20...0x7e).contains($0) }
        return line.isEmpty ? nil : String(decoding: line, as: UTF8.self)
    }

    // MARK: -

    /// The folder of `relative` (created when missing), the file's name in it, and what
    /// is there now, without following a link.
    private func entry(_ relative: FilePath) throws(SRIOVError) -> (folder: Int32, name: String, existing: stat?) {
        let folder = try openFolder(relative.removingLastComponent(), create: true)!
        let name = relative.lastComponent!.string
        var status = stat()
        return (folder, name, fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 ? status : nil)
    }

    /// Opens `relative` as a folder under the root, refusing symbolic links; creates
    /// missing folders (0755) when asked, else returns nil for a missing one.
    private func openFolder(_ relative: FilePath, create: Bool) throws(SRIOVError) -> Int32? {
        var current = open(root.path.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { throw failure("", "open", errno) }
        var walked = FilePath("")
        for component in relative.components {
            walked.append(component)
            var next = openat(current, component.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT {
                guard create else { close(current); return nil }
                if mkdirat(current, component.string, 0o755) != 0, errno != EEXIST {
                    let code = errno
                    close(current)
                    throw failure(walked, "create folder", code)
                }
                next = openat(current, component.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let code = errno
            close(current)
            guard next >= 0 else {
                if code == ELOOP || code == ENOTDIR { throw symlinkRefused(walked) }
                throw failure(walked, "open", code)
            }
            current = next
        }
        return current
    }

    private func readAll(_ fd: Int32, _ relative: FilePath) throws(SRIOVError) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = Glibc.read(fd, &buffer, buffer.count)
            if count < 0 { if errno == EINTR { continue }; throw failure(relative, "read", errno) }
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }

    private func failure(_ relative: FilePath, _ operation: String, _ code: Int32) -> SRIOVError {
        let errno = Errno(rawValue: code)
        let hint: String? = switch errno {
        case .readOnlyFileSystem: "the target is read-only; on Elemental only /oem and /usr/local are writable: use --layout harvester"
        case .noSpace: "the target file system is full"
        case .permissionDenied, .notPermitted: "run as root"
        default: nil
        }
        return .io(path: root.display(relative), operation: operation, errno: errno, hint: hint)
    }

    private func symlinkRefused(_ relative: FilePath) -> SRIOVError {
        .unsafePath("refusing to write through \(root.display(relative)): it is a symbolic link or not a folder, and a path inside --root must not lead outside it; remove it or choose another --root")
    }

    private func notRegular(_ relative: FilePath, _ mode: mode_t) -> SRIOVError {
        let what = mode & S_IFMT == S_IFLNK ? "a symbolic link" : mode & S_IFMT == S_IFREG ? "a regular file" : "not a regular file"
        return .unsafePath("refusing to replace \(root.display(relative)): it is \(what); remove it first")
    }
}

public enum LockAttempt: Sendable {
    case held(FileLock)
    /// Another process still held the lock at the deadline; what it wrote in the file.
    case busy(holder: String?)
}

/// An exclusive lock, held until the value goes away: closing the descriptor releases it.
public final class FileLock: Sendable {
    private let fd: Int32
    /// How long it took to get the lock.
    public let waited: Duration
    /// Who held it when we found it taken, as written in the file; nil when it was free.
    public let holder: String?

    init(fd: Int32, waited: Duration, holder: String?) {
        self.fd = fd
        self.waited = waited
        self.holder = holder
    }

    deinit { close(fd) }
}
