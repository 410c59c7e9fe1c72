import Foundation

/// Runs a program to its end and collects its exit and its output: the built binary, a shell
/// script or a system tool. Output goes to files, not pipes, so that a large output cannot
/// fill a pipe and stall the child.
enum Program {
    struct Result {
        var pid: pid_t
        /// The exit status, or the signal's number when `signaled`.
        var status: Int32
        var signaled: Bool
        var stdout: String
        var stderr: String
    }

    /// A program that has been started and is not waited for yet.
    final class Running {
        let process = Process()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString)")
        var outURL: URL { folder.appendingPathComponent("out") }
        var errURL: URL { folder.appendingPathComponent("err") }

        func wait() throws -> Result {
            process.waitUntilExit()
            // The output is read below; a temporary folder left behind fails nothing.
            defer { try? FileManager.default.removeItem(at: folder) }
            return Result(
                pid: process.processIdentifier, status: process.terminationStatus,
                signaled: process.terminationReason == .uncaughtSignal,
                stdout: try String(contentsOf: outURL, encoding: .utf8),
                stderr: try String(contentsOf: errURL, encoding: .utf8))
        }
    }

    /// Starts `executable`. Its stdout goes to the file `stdout` when given (e.g. /dev/full or
    /// /dev/null), and is then not read back; `mergingErrors` sends stderr where stdout goes,
    /// interleaved as a terminal shows them. `environment` nil is the test runner's.
    static func start(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        stdout: String? = nil, mergingErrors: Bool = false
    ) throws -> Running {
        let running = Running()
        let process = running.process
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        try FileManager.default.createDirectory(at: running.folder, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: running.outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: running.errURL.path, contents: nil)
        let output: FileHandle
        if let stdout {
            guard let handle = FileHandle(forWritingAtPath: stdout) else { throw TestbedError("cannot open \(stdout)") }
            output = handle
        } else {
            output = try FileHandle(forWritingTo: running.outURL)
        }
        process.standardOutput = output
        process.standardError = mergingErrors ? output : try FileHandle(forWritingTo: running.errURL)
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            // The error that matters is the one thrown here; the empty folder is only tidied.
            try? FileManager.default.removeItem(at: running.folder)
            throw error
        }
        return running
    }

    /// Runs `executable` and waits for it; see `start`.
    static func run(
        _ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
        stdout: String? = nil, mergingErrors: Bool = false
    ) throws -> Result {
        try start(executable, arguments, environment: environment, stdout: stdout, mergingErrors: mergingErrors)
            .wait()
    }
}
