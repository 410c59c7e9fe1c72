import SRIOVModel
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Reads of sysfs attributes that wait for the device's lock. `sriov_numvfs` is one: drivers/pci/iov.c
/// serializes its reads with the writes under `device_lock`, so a write the driver never returns from, or
/// a PCI removal deadlocked against a write (kernel 6.1, a NIC hot-unplugged while its VFs were made;
/// docs/design.md), makes every later read sleep uninterruptibly. Such a read cannot be interrupted, and a
/// thread stuck in it keeps its process from ever exiting; so the reads run in a child process
/// (`harvester-sriov sysfs-read`) with a deadline, which can be left behind, as the writes do.
///
/// Without an executable for the child (the library in tests, in-process), the reads run here.
public enum LockedAttribute {
    /// How long a read waits. A driver at work holds the lock as long as its write takes (i40e ~22 s for 64
    /// VFs), so a read during a restore may run out too; it then says so.
    public static let deadline: Duration = .seconds(10)

    /// A read that did not answer, or was not tried because a process of ours already waits on that device.
    public struct Unanswered: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        /// The process of ours that has waited longest on the device's attributes, and for how long.
        public var waiting: (pid: Int32, seconds: Int)?

        /// What happened and what to do, without the path.
        public var reason: String {
            let why =
                if let waiting {
                    "process \(waiting.pid) of harvester-sriov has waited on this file in the kernel for \(waiting.seconds) s"
                } else {
                    "it did not answer within \(seconds(LockedAttribute.deadline)) s"
                }
            return
                "\(why); the kernel holds the device's lock (a write to sriov_numvfs or a removal that never returned); if no restore is running, reboot the node"
        }

        public var description: String { "\(path): \(reason)" }

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.path == rhs.path }
    }

    private struct State {
        var executable: String?
        /// Attribute files (by device and inode, the same under any path to them) that a child of ours was
        /// seen asleep in: its pid, and whether it is this process's own, left at its deadline.
        var waiting: [FileKey: (pid: Int32, mine: Bool)]?
        var unanswered: [Unanswered] = []
    }

    /// A file as the kernel knows it: `/sys/bus/pci/devices/X/sriov_numvfs` and the path of the child's open
    /// descriptor name the same one.
    struct FileKey: Hashable {
        var device: UInt64
        var inode: UInt64

        init?(_ path: String) {
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
        }
    }

    private static let state = Mutex(State())

    /// Makes the reads run in children of `executable` (this program); the CLI sets it once at start.
    public static func readInChildren(executable: String) {
        state.withLock { $0.executable = executable }
    }

    /// What did not answer in this process, in order, each once: for a note on stderr or in the journal.
    public static var unanswered: [Unanswered] { state.withLock { $0.unanswered } }

    /// One attribute's text, as `Sysfs.read` gives it; `.timedOut` when it did not answer. Read by a child that
    /// stays for the next read (restore reads a PF's count many times while it waits for its VFs: a process
    /// start each time cost seconds per restore under emulation).
    static func read(_ path: FilePath) -> Result<String, Errno> {
        guard let executable = state.withLock({ $0.executable }) else { return Sysfs.read(path) }
        if besideAWaitingChild(path.string) { return .failure(.timedOut) }
        return helper.withLock { helper -> Result<String, Errno> in
            if helper == nil { helper = Helper(executable: executable) }
            guard let reader = helper else { return read(all: [path])[0] }
            switch reader.read(path.string, until: .now + deadline) {
            case let answer?:
                return answer
            case nil:
                // Asleep in the kernel, or gone: the next read gets a new helper.
                helper = nil
                note(Unanswered(path: path.string, waiting: nil))
                remember(path.string, pid: reader.pid)
                return .failure(.timedOut)
            }
        }
    }

    private static let helper = Mutex<Helper?>(nil)

    /// `harvester-sriov sysfs-read --serve`: reads the paths that come on its stdin, one a line, and answers
    /// each with a record on its stdout; ends at end of input (when this process ends).
    final class Helper: @unchecked Sendable {
        let pid: Int32
        private let requests: Int32
        private let answers: Int32
        private var pending: [UInt8] = []

        init?(executable: String) {
            guard let toChild = ChildProcess.pipe() else { return nil }
            guard let fromChild = ChildProcess.pipe() else {
                Glibc.close(toChild.read)
                Glibc.close(toChild.write)
                return nil
            }
            let spawned = ChildProcess.spawn(
                [executable, "sysfs-read", "--serve"], stdin: toChild.read, stdout: fromChild.write, stderrToo: false)
            Glibc.close(toChild.read)
            Glibc.close(fromChild.write)
            guard case let .success(pid) = spawned else {
                Glibc.close(toChild.write)
                Glibc.close(fromChild.read)
                return nil
            }
            signal(SIGPIPE, SIG_IGN)
            self.pid = pid
            requests = toChild.write
            answers = fromChild.read
        }

        deinit {
            Glibc.close(requests)
            Glibc.close(answers)
            // At end of input it exits; one asleep in the kernel stays until the kernel lets it go.
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }

        /// The answer, or nil when none came by `deadline` (or the helper is gone).
        func read(_ path: String, until deadline: ContinuousClock.Instant) -> Result<String, Errno>? {
            let line = Array((path + "\n").utf8)
            let written = line.withUnsafeBytes { Glibc.write(requests, $0.baseAddress, $0.count) }
            guard written == line.count else { return nil }
            while true {
                if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let record = Array(pending[...end])
                    pending.removeSubrange(...end)
                    return Record.parse(record)[0] ?? .failure(.ioError)
                }
                let left = Int32(clamping: max(0, milliseconds(SystemClock().remaining(until: deadline))))
                var descriptor = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, left)
                if ready < 0, errno == EINTR { continue }
                guard ready > 0 else { return nil }
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = buffer.withUnsafeMutableBytes { Glibc.read(answers, $0.baseAddress, $0.count) }
                guard count > 0 else { return nil }
                pending += buffer[..<count]
            }
        }
    }

    /// Each attribute's text, all read at once in one child, each bounded by the same deadline.
    static func read(all paths: [FilePath]) -> [Result<String, Errno>] {
        guard !paths.isEmpty else { return [] }
        guard let executable = state.withLock({ $0.executable }) else { return paths.map(Sysfs.read) }
        var results = [Result<String, Errno>?](repeating: nil, count: paths.count)
        var asked: [Int] = []
        for (index, path) in paths.enumerated() {
            if besideAWaitingChild(path.string) {
                results[index] = .failure(.timedOut)
            } else {
                asked.append(index)
            }
        }
        if !asked.isEmpty {
            let outcome = ChildProcess.run(
                [executable, "sysfs-read"] + asked.map { paths[$0].string }, captureOutput: true, timeout: deadline)
            let answers = Record.parse(outcome.output)
            for (position, index) in asked.enumerated() {
                if let answer = answers[position] {
                    results[index] = answer
                } else {
                    results[index] = .failure(.timedOut)
                    note(Unanswered(path: paths[index].string, waiting: nil))
                    // The child is left in the kernel: later reads of this file skip it while it is there.
                    remember(paths[index].string, pid: outcome.pid)
                }
            }
        }
        return results.map { $0 ?? .failure(.timedOut) }
    }

    /// Why no write should start on this file (`sriov_numvfs`): a child of ours still in the kernel on it;
    /// else nil. Only where the reads run in children (the CLI).
    static func waiting(toWrite path: String) -> Unanswered? {
        guard state.withLock({ $0.executable }) != nil else { return nil }
        return waiting(onFile: path).map { Unanswered(path: path, waiting: $0) }
    }

    /// A child of ours that did not return from a write to `path` by its deadline: that file is left alone
    /// while it is there.
    static func didNotReturn(_ path: String, pid: Int32) {
        guard state.withLock({ $0.executable }) != nil else { return }
        remember(path, pid: pid)
    }

    private static func remember(_ path: String, pid: Int32) {
        guard let key = FileKey(path) else { return }
        _ = knownWaiting()
        state.withLock { $0.waiting?[key] = (pid, true) }
    }

    /// Whether a child of ours already waits in the kernel on `path`: another read would only wait beside it, so
    /// none is started, and the note says why.
    private static func besideAWaitingChild(_ path: String) -> Bool {
        guard let process = waiting(onFile: path) else { return false }
        note(Unanswered(path: path, waiting: process))
        return true
    }

    private static func note(_ unanswered: Unanswered) {
        state.withLock { state in
            if !state.unanswered.contains(unanswered) { state.unanswered.append(unanswered) }
        }
    }

    /// The process of ours in the kernel on this file, with how long it has been there; checked now, so that a
    /// write or read that has returned since it was seen no longer counts.
    /// Another process's child counts once it has been there as long as a read may wait: before that it is a
    /// write at work (a restore's), which a read waits for, bounded.
    private static func waiting(onFile path: String) -> (pid: Int32, seconds: Int)? {
        guard let key = FileKey(path), let known = knownWaiting()[key] else { return nil }
        guard let process = ourChild(known.pid, asleep: false) else {
            state.withLock { _ = $0.waiting?.removeValue(forKey: key) }
            return nil
        }
        return known.mine || process.seconds >= Int(deadline.components.seconds) ? process : nil
    }

    /// A `harvester-sriov sysfs-read|sysfs-write` child, with its age in seconds: asleep (S or D, proc(5)) when
    /// `asleep`, else in any state but a zombie's (a write of ours past its deadline may still run, starved).
    private static func ourChild(_ pid: Int32, asleep: Bool = true) -> (pid: Int32, seconds: Int)? {
        // "PID (COMM) STATE ...": COMM is the program's name, cut to 15 bytes.
        guard let stat = Sysfs.attribute(FilePath("/proc/\(pid)/stat")), let open = stat.firstIndex(of: "("),
            let close = stat.lastIndex(of: ")"), stat[stat.index(after: open)..<close] == "harvester-sriov"
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let state = fields.first ?? ""
        guard fields.count > 19, asleep ? state == "D" || state == "S" : state != "Z", let started = Double(fields[19])
        else {
            return nil
        }
        let arguments = (try? BoundedRead.file("/proc/\(pid)/cmdline", limit: 65536)) ?? []
        let command = arguments.split(separator: 0, omittingEmptySubsequences: false).dropFirst().first
        guard let command, ["sysfs-read", "sysfs-write"].contains(String(decoding: command, as: UTF8.self)) else {
            return nil
        }
        let uptime = Sysfs.attribute("/proc/uptime").flatMap { Double($0.split(separator: " ").first ?? "") } ?? 0
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return (pid, ticks > 0 ? max(0, Int(uptime - started / ticks)) : 0)
    }

    /// Children of ours asleep in the kernel with a sysfs attribute open (left behind by an earlier run, or at
    /// work for a running restore), by the file: looked up once per process.
    private static func knownWaiting() -> [FileKey: (pid: Int32, mine: Bool)] {
        if let known = state.withLock({ $0.waiting }) { return known }
        var found: [FileKey: (pid: Int32, mine: Bool)] = [:]
        let me = getpid()
        for entry in Sysfs.entries("/proc") {
            guard let pid = Int32(entry), pid != me, ourChild(pid) != nil else { continue }
            let descriptors = "/proc/\(entry)/fd"
            for fd in Sysfs.entries(atPath: descriptors) {
                let descriptor = "\(descriptors)/\(fd)"
                guard Sysfs.link(FilePath(descriptor))?.string.contains("/sys/") == true,
                    let key = FileKey(descriptor), found[key] == nil
                else { continue }
                found[key] = (pid, false)
            }
        }
        return state.withLock { state in
            if state.waiting == nil { state.waiting = found }
            return state.waiting ?? found
        }
    }

    // MARK: - The child

    /// `harvester-sriov sysfs-read PATH...`: each path read in a process of its own, all at once, each
    /// answer written as one record as it comes; returns once all have answered. A read that never returns
    /// keeps its process (and the parent's pipe) waiting until the parent's deadline.
    /// `harvester-sriov sysfs-read --serve`: one path a line on stdin, one record for each on stdout, in turn.
    public static func serveLines() {
        while let path = readLine(strippingNewline: true) {
            let record = Record.make(index: 0, readBlocking(path))
            let written = record.withUnsafeBytes { Glibc.write(1, $0.baseAddress, $0.count) }
            guard written == record.count else { return }
        }
    }

    public static func serve(_ paths: [String]) {
        var children: [pid_t] = []
        for (index, path) in paths.enumerated() {
            let pid = fork()
            if pid == 0 {
                let record = Record.make(index: index, Self.readBlocking(path))
                record.withUnsafeBytes { _ = Glibc.write(1, $0.baseAddress, $0.count) }
                _exit(0)
            }
            if pid > 0 { children.append(pid) }
        }
        for child in children {
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0, errno == EINTR {}
        }
    }

    /// A plain blocking open and read, as `cat` does: the wait is the point.
    private static func readBlocking(_ path: String) -> Result<String, Errno> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Errno(rawValue: errno)) }
        defer { Glibc.close(fd) }
        return Sysfs.read(fd)
    }

    /// One answer on the pipe: `INDEX ERRNO HEX\n`, short enough for one atomic write (PIPE_BUF).
    enum Record {
        static let maximumValue = 1024

        static func make(index: Int, _ result: Result<String, Errno>) -> [UInt8] {
            switch result {
            case let .success(text):
                Array("\(index) 0 \(Array(text.utf8.prefix(maximumValue)).map { hex($0, width: 2) }.joined())\n".utf8)
            case let .failure(errno): Array("\(index) \(errno.rawValue) \n".utf8)
            }
        }

        /// The answers by index; a record cut short (the child killed mid-write) is no answer.
        static func parse(_ bytes: [UInt8]) -> [Int: Result<String, Errno>] {
            var answers: [Int: Result<String, Errno>] = [:]
            for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
                let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
                guard fields.count == 3, let index = Int(String(decoding: fields[0], as: UTF8.self)),
                    let code = Int32(String(decoding: fields[1], as: UTF8.self))
                else { continue }
                if code != 0 {
                    answers[index] = .failure(Errno(rawValue: code))
                    continue
                }
                let digits = Array(fields[2])
                guard digits.count % 2 == 0 else { continue }
                var value: [UInt8] = []
                for start in stride(from: 0, to: digits.count, by: 2) {
                    guard let byte = UInt8(String(decoding: digits[start...start + 1], as: UTF8.self), radix: 16)
                    else { break }
                    value.append(byte)
                }
                guard value.count * 2 == digits.count else { continue }
                answers[index] = .success(String(decoding: value, as: UTF8.self))
            }
            return answers
        }
    }
}
