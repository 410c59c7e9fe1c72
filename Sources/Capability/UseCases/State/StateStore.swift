import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Reads and writes the desired state under a root. Every change is a read-modify-write
/// under one lock, the file `state.lock` beside the state: `policy apply`, `policy
/// remove`, `hook`, `install` and restore (which records the cards it found) may run at
/// the same time, and none may lose what another stored. Readers need no lock: the state
/// is replaced atomically, so they see the old file or the new one.
public struct StateStore: Sendable {
    /// How long a writer waits for another to finish with the state before giving up.
    public static let lockWait: Duration = .seconds(30)
    /// A wait at least this long is reported: something held the state unusually long.
    public static let reportedWait: Duration = .seconds(1)
    /// The largest state file read: a state of a hundred policies is some 100 KiB; one beyond this is not ours.
    public static let maximumFileSize = 16 << 20

    public let writer: RootWriter
    public let layout: Layout

    public init(root: TargetRoot, layout: Layout) {
        writer = RootWriter(root: root, layout: layout)
        self.layout = layout
    }

    public var displayPath: String { writer.root.display(layout.stateFile) }
    public var lockDisplayPath: String { writer.root.display(layout.stateLockFile) }

    /// The stored state, or an empty one when none is stored yet. `checkingRules: false`
    /// skips the manifest rules (not the form), for `policy remove` to mend a bad state.
    public func load(checkingRules: Bool = true) throws(SRIOVError) -> DesiredState {
        guard let bytes = try writer.read(layout.stateFile, limit: Self.maximumFileSize) else { return .empty }
        return checkingRules
            ? try DesiredState.decode(bytes, file: displayPath)
            : try DesiredState.decodeUnchecked(bytes, file: displayPath)
    }

    /// What an update did: `body`'s result, the state now stored, whether the file
    /// changed, and a note when getting the lock took noticeably long.
    public struct Update<Value> {
        public var value: Value
        public var state: DesiredState
        public var outcome: WriteOutcome
        /// "waited 2.5 s for the state lock ..., held by ...", for stderr or the log.
        public var waitNote: String?
    }

    /// Reads the state, lets `body` change it, and stores the result, all under the
    /// state lock. When `body` throws, nothing is written. `checkingRules` as for `load`.
    public func update<Value>(
        wait: Duration = lockWait, checkingRules: Bool = true,
        _ body: (inout DesiredState) throws(SRIOVError) -> Value
    )
        throws(SRIOVError) -> Update<Value>
    {
        let lock = try self.lock(wait: wait)
        defer { withExtendedLifetime(lock) {} }
        var state = try load(checkingRules: checkingRules)
        let value = try body(&state)
        let outcome = try writer.write(layout.stateFile, state.jsonBytes, mode: 0o644)
        return Update(value: value, state: state, outcome: outcome, waitNote: waitNote(lock))
    }

    /// Stores `state` as it is, replacing whatever is stored, under the state lock.
    @discardableResult
    public func save(_ state: DesiredState, wait: Duration = lockWait) throws(SRIOVError) -> WriteOutcome {
        try update(wait: wait) { (stored: inout DesiredState) throws(SRIOVError) in stored = state }.outcome
    }

    /// Stores an empty state when none is stored: checked and written under the lock, so
    /// that it never replaces policies another command stored in between.
    public func createIfAbsent(wait: Duration = lockWait) throws(SRIOVError) -> WriteOutcome {
        let lock = try self.lock(wait: wait)
        defer { withExtendedLifetime(lock) {} }
        guard try writer.read(layout.stateFile, limit: Self.maximumFileSize) == nil else { return .unchanged }
        return try writer.write(layout.stateFile, DesiredState.empty.jsonBytes, mode: 0o644)
    }

    /// Removes the state and its lock file (uninstall --purge), holding the lock while
    /// the state goes so that no update is half way through it.
    public func purge(wait: Duration = lockWait) throws(SRIOVError) -> (state: WriteOutcome, lock: WriteOutcome) {
        let stored = try writer.read(layout.stateFile) != nil
        let locked = try writer.read(layout.stateLockFile) != nil
        guard stored || locked else { return (.absent, .absent) }
        let lock = try self.lock(wait: wait)
        defer { withExtendedLifetime(lock) {} }
        // The lock file goes first: whoever waits on it then finds it gone and starts over.
        let lockOutcome = try writer.remove(layout.stateLockFile)
        return (try writer.remove(layout.stateFile), lockOutcome)
    }

    /// The state lock, or the one-line error that says who holds it and what to do.
    public func lock(wait: Duration = lockWait) throws(SRIOVError) -> FileLock {
        switch try writer.lock(layout.stateLockFile, holder: Self.holderDescription, until: .now + wait) {
        case let .held(lock):
            return lock
        case let .busy(written):
            let holder = Self.currentHolder(of: lockDisplayPath, written: written)
            throw .io(
                path: lockDisplayPath, operation: "lock", errno: .resourceTemporarilyUnavailable,
                hint: "\(holder ?? "another process") held the state lock for all of \(seconds(wait)) s; "
                    + "let that command finish, then run this again")
        }
    }

    /// Who holds the lock on `path` now. The line in the file is the last holder that wrote one: a process that
    /// took the lock without writing (flock(1), a script) leaves the previous holder's line there. So the holder
    /// is looked up in /proc/locks by the file's inode; the line is used only when it names that pid (or, without
    /// /proc/locks, a pid that still runs).
    static func currentHolder(of path: String, written: String?) -> String? {
        let writtenPID = written.flatMap { line -> pid_t? in
            guard line.hasPrefix("pid ") else { return nil }
            return pid_t(line.dropFirst(4).prefix { $0.isNumber })
        }
        var status = stat()
        if stat(path, &status) == 0, let locks = try? BoundedRead.file("/proc/locks", limit: 4 << 20) {
            for line in String(decoding: locks, as: UTF8.self).split(separator: "\n") where !line.contains("->") {
                let fields = line.split(separator: " ")
                guard fields.count >= 6, fields[1] == "FLOCK", let pid = pid_t(fields[4]),
                    fields[5].split(separator: ":").last.flatMap({ UInt64($0) }) == UInt64(status.st_ino)
                else { continue }
                if pid == writtenPID, let written { return written }
                return "pid \(pid)\(commandLine(of: pid).map { " (\($0))" } ?? "")"
            }
        }
        if let writtenPID, kill(writtenPID, 0) == 0 || errno == EPERM { return written }
        return nil
    }

    /// The program's name and its first words, as /proc/PID/cmdline has them.
    private static func commandLine(of pid: pid_t) -> String? {
        guard let bytes = try? BoundedRead.file("/proc/\(pid)/cmdline", limit: 1 << 20), !bytes.isEmpty else {
            return nil
        }
        let words = bytes.split(separator: 0).prefix(3).map { String(decoding: $0, as: UTF8.self) }
        guard let program = words.first else { return nil }
        let name = FilePath(program).lastComponent?.string ?? program
        return escapingControls(([name] + words.dropFirst()).joined(separator: " "))
    }

    func waitNote(_ lock: FileLock) -> String? {
        guard lock.waited >= Self.reportedWait else { return nil }
        let holder = lock.holder ?? "another process"
        return "waited \(seconds(lock.waited)) s for the state lock \(lockDisplayPath), held by \(holder)"
    }

    /// "pid 4242 (harvester-sriov policy apply)": what a waiting command can tell its user.
    static let holderDescription: String = {
        let arguments = CommandLine.arguments
        let program = arguments.first.map { FilePath($0).lastComponent?.string ?? $0 } ?? "harvester-sriov"
        let command = ([program] + arguments.dropFirst().prefix { !$0.hasPrefix("-") }.prefix(2)).joined(separator: " ")
        return "pid \(getpid()) (\(command))"
    }()
}

extension Layout {
    /// The lock that every change of the state takes, beside the state: it must be under
    /// the root, since the installer writes into a mounted target (/run/cos/target).
    public var stateLockFile: FilePath { stateFile.removingLastComponent().appending("state.lock") }
}

extension StateStore {
    /// The capability label's key: `given` (`--key`), else the one the state records from an earlier install or
    /// label (so that `label --apply`, which the label unit runs without `--key`, and a re-install keep the
    /// key the node was installed with), else the default. A state that cannot be read gives the default;
    /// the commands that read its policies say what is wrong with it.
    public func capabilityKey(given: String?) -> String {
        given ?? (try? load(checkingRules: false))?.capabilityKey ?? CapabilityLabel.defaultKey
    }
}
