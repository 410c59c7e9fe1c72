import Dispatch
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The one way harvester-sriov runs another program (kubectl, modprobe, its own `sysfs-write`): in a process
/// group of its own, bounded by a deadline at which the whole group is killed. A child that leaves a process
/// behind (a wrapper script, an exec credential plugin) cannot hold the run up by keeping the output pipe
/// open: once the child has exited, or the deadline has come, what is left of its group is killed and the
/// pipe is read for at most `grace` more.
public enum ChildProcess {
    public struct Outcome: Sendable {
        /// The exit status; nil when the child died by a signal, was killed at the deadline or did not start.
        public var status: Int32?
        /// The signal the child died by, when it did (SIGKILL when it was killed at the deadline).
        public var signal: Int32?
        public var timedOut = false
        /// Why it could not start (posix_spawn's errno).
        public var spawnError: Errno?
        /// stdout and stderr, when `captureOutput`.
        public var output: [UInt8] = []
        /// The child's process id (its group's too), once it started: one left in the kernel can be named.
        public var pid: Int32 = 0
    }

    /// Starts `arguments` (`arguments[0]` is the executable's path) in a process group of its own (its pid is the
    /// group's id, so that kill(-pid) reaches what it started too), with SIGPIPE back to its default: `stdin` on
    /// its stdin (else /dev/null), `stdout` on its stdout, and on its stderr too when `stderrToo` (else both
    /// inherited). The caller's own ends of its pipes must be close-on-exec. The one posix_spawn of
    /// harvester-sriov: `run` and the long-lived reader of `LockedAttribute` start their children here.
    static func spawn(_ arguments: [String], stdin: Int32?, stdout: Int32?, stderrToo: Bool) -> Result<pid_t, Errno> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let stdout {
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
            if stderrToo { posix_spawn_file_actions_adddup2(&actions, stdout, 2) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // SIGPIPE back to its default: we ignore it for the writers of the children's stdin.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, &argv, environ)
        return spawned == 0 ? .success(pid) : .failure(Errno(rawValue: spawned))
    }

    /// A pipe whose ends are close-on-exec: neither reaches another child; a child gets its end through
    /// `spawn`'s dup2. (Glibc's module does not bring pipe2; a child another thread starts between the two calls
    /// may take an end along, which holds the reader at most `grace` after its own child exited.)
    static func pipe() -> (read: Int32, write: Int32)? {
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { return nil }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    /// How long the pipe is still read after the child exited or was killed.
    static let grace: Duration = .milliseconds(500)

    /// Runs `arguments` (`arguments[0]` is the executable's path): `input` on its stdin (else /dev/null), its
    /// stdout and stderr into one pipe when `captureOutput` (else inherited).
    public static func run(
        _ arguments: [String], input: [UInt8]? = nil, captureOutput: Bool, timeout: Duration
    ) -> Outcome {
        let output = captureOutput ? pipe() : nil
        let stdin = input != nil ? pipe() : nil
        guard output != nil || !captureOutput, stdin != nil || input == nil else {
            let code = Errno(rawValue: errno)
            for end in [output, stdin] {
                if let end {
                    close(end.read)
                    close(end.write)
                }
            }
            return Outcome(status: nil, spawnError: code)
        }
        let spawned = spawn(arguments, stdin: stdin?.read, stdout: output?.write, stderrToo: true)
        if let output { close(output.write) }
        if let stdin { close(stdin.read) }
        let pid: pid_t
        switch spawned {
        case let .success(started): pid = started
        case let .failure(code):
            if let output { close(output.read) }
            if let stdin { close(stdin.write) }
            return Outcome(status: nil, spawnError: code)
        }
        let deadline = ContinuousClock.now + timeout
        if let input, let stdin { write(input, to: stdin.write) }

        let reaped = DispatchSemaphore(value: 0)
        let result = WaitStatus()
        let child = pid
        DispatchQueue.global().async {
            var raw: Int32 = 0
            while waitpid(child, &raw, 0) < 0, errno == EINTR {}
            result.value = raw
            reaped.signal()
        }
        var outcome = Outcome(status: nil)
        outcome.pid = pid
        var exited = false
        if let output {
            var endOfFile = false
            var exitedAt: ContinuousClock.Instant?
            while !endOfFile {
                let now = ContinuousClock.now
                if exitedAt == nil, reaped.wait(timeout: .now()) == .success {
                    exited = true
                    exitedAt = now
                }
                let limit = exitedAt.map { min(deadline, $0 + grace) } ?? deadline
                guard now < limit else { break }
                endOfFile = readAvailable(
                    output.read, into: &outcome.output, waitingAtMost: min(limit - now, .milliseconds(50)))
            }
        }
        if !exited {
            exited =
                reaped.wait(
                    timeout: .now() + .milliseconds(max(0, milliseconds(SystemClock().remaining(until: deadline)))))
                == .success
        }
        // Whatever is left of the group goes: all of it at the deadline, a leftover after the child exited.
        kill(-pid, SIGKILL)
        if !exited {
            outcome.timedOut = true
            // A child stuck in the kernel (a sysfs write) ends only when the call returns; it is reaped then.
            exited = reaped.wait(timeout: .now() + .milliseconds(milliseconds(grace))) == .success
        }
        if let output {
            let drainUntil = ContinuousClock.now + grace
            while ContinuousClock.now < drainUntil,
                !readAvailable(
                    output.read, into: &outcome.output, waitingAtMost: SystemClock().remaining(until: drainUntil))
            {}
            close(output.read)
        }
        guard exited, !outcome.timedOut else { return outcome }
        let raw = result.value
        if raw & 0x7f == 0 {
            outcome.status = (raw >> 8) & 0xff
        } else {
            outcome.signal = raw & 0x7f
        }
        return outcome
    }

    /// Reads what arrives within `waitingAtMost`; true at end of file (or an error).
    private static func readAvailable(_ fd: Int32, into bytes: inout [UInt8], waitingAtMost: Duration) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, Int32(clamping: max(0, milliseconds(waitingAtMost))))
        if ready < 0 { return errno != EINTR }
        guard ready > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            bytes += buffer[0..<count]
            return false
        }
        return count == 0 || errno != EINTR
    }

    /// Written by its own thread, so that the deadline holds even when the child never reads it; a killed child
    /// closes the pipe and the write ends with EPIPE (SIGPIPE is ignored for that).
    private static func write(_ input: [UInt8], to writer: Int32) {
        signal(SIGPIPE, SIG_IGN)
        DispatchQueue.global().async {
            var bytes = input[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Glibc.write(writer, $0.baseAddress, $0.count) }
                if written > 0 {
                    bytes = bytes.dropFirst(written)
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(writer)
        }
    }
}

/// A child's wait status, set by the thread that reaps it before it signals.
private final class WaitStatus: @unchecked Sendable {
    var value: Int32 = 0
}
