import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

public enum WriteOutcome: String, Sendable {
    case created, updated, unchanged, removed, absent
}

/// The one way harvester-sriov changes files. Every path is walked from the root one
/// component at a time with O_NOFOLLOW, so no symbolic link, planted or not, can lead
/// a write outside the root. A file is replaced atomically (temporary file, fsync,
/// rename, fsync of the folder) and only when its content or mode differs, so a
/// second run with the same input touches nothing.
public struct RootWriter: Sendable {
    /// What a path is expected to be: a file, or a link as `systemctl enable` makes them.
    public enum EntryKind: Sendable {
        case file, symlink
    }

    public let root: TargetRoot
    /// The layout the root follows, which decides the advice for a read-only target;
    /// nil for a folder outside any layout (/run/harvester-sriov).
    public let layout: Layout?

    public init(root: TargetRoot, layout: Layout? = nil) {
        self.root = root
        self.layout = layout
    }

    /// The file's bytes, or nil when it does not exist. A symbolic link or anything
    /// but a regular file is refused, as a write to it would be; so is a file larger
    /// than `limit` (`BoundedRead`), before a byte of it is read.
    public func read(_ relative: FilePath, limit: Int = .max) throws(SRIOVError) -> [UInt8]? {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false, reading: true) else {
            return nil
        }
        defer { close(folder) }
        let name = Self.name(relative)
        // Looked at before opening: opening a FIFO would block, and a device may act on open.
        var status = stat()
        guard fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw failure(relative, "open", errno)
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw notRegular(relative, status.st_mode, "read") }
        let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            // ELOOP: replaced by a link since the look above.
            if errno == ELOOP { throw notRegular(relative, S_IFLNK, "read") }
            throw failure(relative, "open", errno)
        }
        defer { close(fd) }
        return try readAll(fd, relative, limit: limit)
    }

    /// The names in the folder `relative` (not "." and ".."), or nil when it does not
    /// exist. Reached by the same walk as writes; the folder itself must be a real folder,
    /// not a link to one.
    public func list(_ relative: FilePath) throws(SRIOVError) -> [String]? {
        guard let parent = try openFolder(relative.removingLastComponent(), create: false, reading: true) else {
            return nil
        }
        defer { close(parent) }
        let name = Self.name(relative)
        var status = stat()
        guard fstatat(parent, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
            if errno == ENOENT { return nil }
            throw failure(relative, "open", errno)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw notRegular(relative, status.st_mode, "list") }
        let fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let directory = fdopendir(fd) else {
            let code = errno
            if fd >= 0 { close(fd) }
            // ELOOP or ENOTDIR: replaced by a link since the look above.
            if code == ELOOP || code == ENOTDIR { throw notRegular(relative, S_IFLNK, "list") }
            throw failure(relative, "list", code)
        }
        defer { closedir(directory) }
        var names: [String] = []
        forEachEntry(of: directory) { names.append($0) }
        return names.sorted()
    }

    /// Says, without writing anything, whether `relative` can be written as `kind`: every
    /// folder on the way is a real folder or missing (it would be created), what is there
    /// now is absent or of that kind, and the deepest existing folder is writable (a
    /// read-only target is found here, before the first write, not halfway through).
    public func check(_ relative: FilePath, as kind: EntryKind) throws(SRIOVError) {
        let (folder, complete) = try walk(relative.removingLastComponent(), create: false)
        defer { close(folder) }
        if complete {
            var status = stat()
            if fstatat(folder, Self.name(relative), &status, AT_SYMLINK_NOFOLLOW) == 0 {
                let expected = kind == .file ? S_IFREG : S_IFLNK
                guard status.st_mode & S_IFMT == expected else { throw notRegular(relative, status.st_mode, "replace") }
            }
        }
        // The real uid: what the kernel checks for root, and it reports EROFS.
        guard faccessat(folder, ".", W_OK, 0) == 0 else { throw failure(relative, "write", errno) }
    }

    /// The file system `relative` would be written to (its deepest existing folder's), its free bytes, and the
    /// size of what is at `relative` now (0 when nothing).
    public func space(for relative: FilePath) throws(SRIOVError) -> (filesystem: UInt, free: UInt64, current: UInt64) {
        let (folder, complete) = try walk(relative.removingLastComponent(), create: false)
        defer { close(folder) }
        var info = statvfs()
        guard fstatvfs(folder, &info) == 0 else { throw failure(relative, "statvfs", errno) }
        var status = stat()
        let current =
            complete && fstatat(folder, Self.name(relative), &status, AT_SYMLINK_NOFOLLOW) == 0
            ? UInt64(max(0, status.st_size)) : 0
        return (UInt(info.f_fsid), UInt64(info.f_bavail) * UInt64(info.f_frsize), current)
    }

    /// Says, without writing anything, whether `relative` is a real folder or absent: never a link or a file.
    public func checkFolder(_ relative: FilePath) throws(SRIOVError) {
        if let folder = try openFolder(relative, create: false) { close(folder) }
    }

    @discardableResult
    public func write(_ relative: FilePath, _ contents: [UInt8], mode: mode_t = 0o644) throws(SRIOVError)
        -> WriteOutcome
    {
        let (folder, name, existing) = try entry(relative)
        defer { close(folder) }
        // Best effort: leftovers of a killed write must not stop this one.
        _ = try? removeStaleTemporaries(in: folder, of: relative)
        let exists = existing != nil
        if let existing {
            guard existing.st_mode & S_IFMT == S_IFREG else { throw notRegular(relative, existing.st_mode, "replace") }
            let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            if fd >= 0 {
                defer { close(fd) }
                if existing.st_mode & 0o7777 == mode, try readAll(fd, relative) == contents { return .unchanged }
            }
        }

        let temporary = Self.temporaryName(name)
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

    /// The target of the symbolic link `relative`, or nil when there is none; something
    /// other than a link there is refused, as replacing it would be.
    public func readLink(_ relative: FilePath) throws(SRIOVError) -> String? {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false) else { return nil }
        defer { close(folder) }
        let name = Self.name(relative)
        var status = stat()
        guard fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        guard status.st_mode & S_IFMT == S_IFLNK else { throw notRegular(relative, status.st_mode, "read") }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
        let count = readlinkat(folder, name, &buffer, buffer.count - 1)
        guard count >= 0 else { return nil }
        return String(cBuffer: Array(buffer[..<count]) + [0])
    }

    /// Makes `relative` a symbolic link to `target` (relative to its folder), as
    /// `systemctl enable` does; atomically, and only when it differs.
    @discardableResult
    public func symlink(_ relative: FilePath, to target: String) throws(SRIOVError) -> WriteOutcome {
        let (folder, name, existing) = try entry(relative)
        defer { close(folder) }
        // Best effort: leftovers of a killed write must not stop this one.
        _ = try? removeStaleTemporaries(in: folder, of: relative)
        let exists = existing != nil
        if let existing {
            guard existing.st_mode & S_IFMT == S_IFLNK else { throw notRegular(relative, existing.st_mode, "replace") }
            if try readLink(relative) == target { return .unchanged }
        }
        let temporary = Self.temporaryName(name)
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
        let name = Self.name(relative)
        var existing = stat()
        guard fstatat(folder, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 else { return .absent }
        guard unlinkat(folder, name, 0) == 0 else { throw failure(relative, "remove", errno) }
        fsync(folder)
        return .removed
    }

    /// Removes a folder of ours once nothing is left in it; one that still holds
    /// something (another tool's file) stays, and that is not an error.
    @discardableResult
    public func removeFolderIfEmpty(_ relative: FilePath) throws(SRIOVError) -> WriteOutcome {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false) else { return .absent }
        defer { close(folder) }
        guard unlinkat(folder, Self.name(relative), AT_REMOVEDIR) == 0 else {
            if errno == ENOENT || errno == ENOTEMPTY || errno == EEXIST { return .absent }
            throw failure(relative, "remove", errno)
        }
        fsync(folder)
        return .removed
    }

    // MARK: - Temporary files

    /// Removes the temporary files a killed writer of `relative` left behind (see
    /// `isStale`); returns their paths, relative to the root.
    @discardableResult
    public func removeStaleTemporaries(of relative: FilePath) throws(SRIOVError) -> [FilePath] {
        guard let folder = try openFolder(relative.removingLastComponent(), create: false) else { return [] }
        defer { close(folder) }
        return try removeStaleTemporaries(in: folder, of: relative)
    }

    /// `.NAME.harvester-sriov-tmp.PID.RANDOM`: hidden, unmistakably ours, and naming the
    /// writer's process so that a later run can tell a dead writer's leftovers (a killed
    /// install leaves up to the binary's full size in /usr/local/bin) from a write in progress.
    static func temporaryName(_ name: String, pid: pid_t = getpid()) -> String {
        temporaryPrefix(name) + "\(pid).\(UInt32.random(in: 0...UInt32.max))"
    }

    static func temporaryPrefix(_ name: String) -> String { ".\(name).harvester-sriov-tmp." }

    /// A temporary file is stale when its writer is gone: no process has its PID, or it
    /// was last modified before this boot (a PID from an earlier boot, e.g. the
    /// installer's, may name another program now). A write in progress is neither: its
    /// writer is alive and the file is being written now. A PID reused by another
    /// program within one boot keeps the file until that program ends; harmless, and
    /// safer than guessing.
    static func isStale(pid: pid_t, modified: timespec, bootedAt: timespec?) -> Bool {
        if kill(pid, 0) != 0, errno == ESRCH { return true }
        guard let bootedAt else { return false }
        return (modified.tv_sec, modified.tv_nsec) < (bootedAt.tv_sec, bootedAt.tv_nsec)
    }

    /// This boot's moment on the wall clock (CLOCK_REALTIME - CLOCK_BOOTTIME), as file
    /// times are kept; nil when a clock cannot be read.
    static func bootTime() -> timespec? {
        var now = timespec()
        var sinceBoot = timespec()
        guard clock_gettime(CLOCK_REALTIME, &now) == 0, clock_gettime(CLOCK_BOOTTIME, &sinceBoot) == 0 else {
            return nil
        }
        var booted = timespec(tv_sec: now.tv_sec - sinceBoot.tv_sec, tv_nsec: now.tv_nsec - sinceBoot.tv_nsec)
        if booted.tv_nsec < 0 {
            booted.tv_sec -= 1
            booted.tv_nsec += 1_000_000_000
        }
        return booted
    }

    /// The PID in a temporary file name of ours for `name`, or nil when `entry` is not one.
    static func temporaryWriter(_ entry: String, of name: String) -> pid_t? {
        let prefix = temporaryPrefix(name)
        guard entry.hasPrefix(prefix) else { return nil }
        let fields = entry.dropFirst(prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        let decimal = { (field: Substring) in !field.isEmpty && field.allSatisfy { $0.isASCII && $0.isNumber } }
        guard fields.count == 2, fields.allSatisfy(decimal), let pid = pid_t(fields[0]), pid > 0 else { return nil }
        return pid
    }

    private func removeStaleTemporaries(in folder: Int32, of relative: FilePath) throws(SRIOVError) -> [FilePath] {
        let name = Self.name(relative)
        let parent = relative.removingLastComponent()
        var candidates: [(entry: String, pid: pid_t)] = []
        let listing = fcntl(folder, F_DUPFD_CLOEXEC, 0)
        guard listing >= 0, let directory = fdopendir(listing) else {
            let code = errno
            if listing >= 0 { close(listing) }
            throw failure(parent, "list", code)
        }
        forEachEntry(of: directory) { entry in
            if let pid = Self.temporaryWriter(entry, of: name) { candidates.append((entry, pid)) }
        }
        closedir(directory)

        let bootedAt = Self.bootTime()
        var removed: [FilePath] = []
        for (entry, pid) in candidates {
            var status = stat()
            guard fstatat(folder, entry, &status, AT_SYMLINK_NOFOLLOW) == 0,
                status.st_mode & S_IFMT == S_IFREG || status.st_mode & S_IFMT == S_IFLNK,
                Self.isStale(pid: pid, modified: status.st_mtim, bootedAt: bootedAt)
            else { continue }
            let path = parent.appending(entry)
            if unlinkat(folder, entry, 0) != 0 {
                if errno == ENOENT { continue }  // another run removed it first
                throw failure(path, "remove", errno)
            }
            removed.append(path)
        }
        if !removed.isEmpty { fsync(folder) }
        return removed
    }

    /// Takes an exclusive flock(2) on `relative` (created 0600 when missing), reached by
    /// the same walk as writes, so that a planted link cannot move it out of the root.
    /// Polls until `deadline` on `clock`. The kernel drops the lock when its holder exits, however
    /// it exits, so a lock file left behind never blocks anyone. `holder` is written into
    /// the file, for whoever has to wait, to say who they waited for; `waiting` gets it once, when the lock
    /// is first found taken.
    public func lock(
        _ relative: FilePath, holder: String, until deadline: ContinuousClock.Instant,
        clock: some WaitClock = SystemClock(), waiting: (_ holder: String?) -> Void = { _ in }
    ) throws(SRIOVError) -> LockAttempt {
        let start = clock.now
        var found = false
        var firstHolder: String?
        var pause = Duration.milliseconds(2)
        while true {
            let (folder, name, _) = try entry(relative)
            defer { close(folder) }
            let fd = openat(folder, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                if errno == ELOOP { throw notRegular(relative, S_IFLNK, "lock") }
                // A folder there is refused as a FIFO or a link is (77), not reported as an I/O error.
                if errno == EISDIR { throw notRegular(relative, S_IFDIR, "lock") }
                throw failure(relative, "open", errno)
            }
            var opened = stat()
            guard fstat(fd, &opened) == 0, opened.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw notRegular(relative, opened.st_mode, "lock")
            }
            while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                guard code == EWOULDBLOCK || code == EINTR else {
                    close(fd)
                    throw failure(relative, "lock", code)
                }
                if !found {
                    found = true
                    firstHolder = Self.holder(fd)
                    waiting(firstHolder)
                }
                guard clock.now < deadline else {
                    let current = Self.holder(fd) ?? firstHolder
                    close(fd)
                    return .busy(holder: current)
                }
                clock.sleep(until: min(deadline, clock.now + pause))
                pause = min(pause * 2, .milliseconds(50))
            }
            // Removed or replaced while we waited (uninstall --purge): a lock on a file
            // that is no longer there would exclude no one who comes later.
            var now = stat()
            guard fstatat(folder, name, &now, AT_SYMLINK_NOFOLLOW) == 0,
                now.st_ino == opened.st_ino, now.st_dev == opened.st_dev
            else {
                close(fd)
                continue
            }
            let line = Array((holder + "\n").utf8)
            if ftruncate(fd, 0) == 0 { _ = pwrite(fd, line, line.count, 0) }
            return .held(FileLock(fd: fd, waited: clock.now - start, holder: firstHolder))
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

    private static func name(_ relative: FilePath) -> String {
        relative.lastComponent?.string ?? "."
    }

    /// The folder of `relative` (created when missing), the file's name in it, and what
    /// is there now, without following a link.
    private func entry(_ relative: FilePath) throws(SRIOVError) -> (folder: Int32, name: String, existing: stat?) {
        let (folder, _) = try walk(relative.removingLastComponent(), create: true)
        let name = Self.name(relative)
        var status = stat()
        return (folder, name, fstatat(folder, name, &status, AT_SYMLINK_NOFOLLOW) == 0 ? status : nil)
    }

    /// Opens `relative` as a folder under the root, refusing symbolic links; creates
    /// missing folders (0755) when asked, else returns nil for a missing one.
    private func openFolder(_ relative: FilePath, create: Bool, reading: Bool = false) throws(SRIOVError) -> Int32? {
        let (folder, complete) = try walk(relative, create: create, reading: reading)
        guard complete else {
            close(folder)
            return nil
        }
        return folder
    }

    /// Walks the folders of `relative` from the root, never through a link. Returns the
    /// deepest one that exists (every one, when `create` makes the missing ones) and
    /// whether that is all of them.
    private func walk(_ relative: FilePath, create: Bool, reading: Bool = false) throws(SRIOVError) -> (
        folder: Int32, complete: Bool
    ) {
        var current = open(root.path.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard current >= 0 else { throw failure("", "open", errno) }
        var walked = FilePath("")
        for component in root.physical(relative).components {
            walked.append(component)
            var next = openat(current, component.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT {
                guard create else { return (current, false) }
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
                if code == ELOOP || code == ENOTDIR { throw symlinkRefused(walked, verb: reading ? "read" : "write") }
                throw failure(walked, "open", code)
            }
            current = next
        }
        return (current, true)
    }

    private func readAll(_ fd: Int32, _ relative: FilePath, limit: Int = .max) throws(SRIOVError) -> [UInt8] {
        do {
            return try BoundedRead.descriptor(fd, limit: limit)
        } catch {
            switch error {
            case let .failed(errno): throw failure(relative, "read", errno.rawValue)
            // Replaced since the look before opening.
            case .notRegular: throw notRegular(relative, 0, "read")
            case let .tooLarge(size, limit):
                throw .io(
                    path: root.display(relative), operation: "read", errno: .fileTooLarge,
                    hint: "it is \(BoundedRead.size(size)), larger than the limit of \(BoundedRead.size(Int64(limit)))")
            }
        }
    }

    func failure(_ relative: FilePath, _ operation: String, _ code: Int32) -> SRIOVError {
        let errno = Errno(rawValue: code)
        let hint: String? =
            switch errno {
            case .readOnlyFileSystem: readOnlyHint(relative)
            case .noSpace: "the target file system is full"
            case .permissionDenied, .notPermitted: "run as root"
            default: nil
            }
        return .io(path: root.display(relative), operation: operation, errno: errno, hint: hint)
    }

    /// What to do about a read-only target depends on where its writable parts are.
    private func readOnlyHint(_ relative: FilePath) -> String {
        switch layout {
        case .fhs?:
            return "the target is read-only; on Elemental only /oem and /usr/local are writable: use --layout harvester"
        case .harvester?:
            let mount = relative.starts(with: "oem") ? "oem" : "usr/local"
            return "\(root.display(FilePath(mount))) is not mounted read-write; on Elemental it is the "
                + (mount == "oem" ? "OEM" : "persistent") + " partition: mount it read-write, or check --root"
        case nil:
            return "the file system is mounted read-only"
        }
    }

    /// `verb`: "read" for a command that only reads (plan, status, policy list, export), else "write".
    private func symlinkRefused(_ relative: FilePath, verb: String = "write") -> SRIOVError {
        .unsafePath(
            "refusing to \(verb) through \(root.display(relative)): it is a symbolic link or not a folder, and a path inside --root must not lead outside it; remove it or choose another --root"
        )
    }

    /// `verb` is what was about to happen: "read" or "replace".
    private func notRegular(_ relative: FilePath, _ mode: mode_t, _ verb: String) -> SRIOVError {
        let what =
            switch mode & S_IFMT {
            case S_IFLNK: "a symbolic link"
            case S_IFREG: "a regular file"
            case S_IFDIR: "a folder"
            default: "not a regular file"
            }
        return .unsafePath("refusing to \(verb) \(root.display(relative)): it is \(what); remove it first")
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
