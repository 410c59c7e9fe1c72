import ArgumentParser
import Capability
import SRIOVHost
import SRIOVModel
import SystemPackage

/// Runs a command body; an `SRIOVError` becomes its one-line message on stderr and
/// its documented exit status, instead of ArgumentParser's generic rendering.
func runReporting<T>(_ body: () throws -> T) throws -> T {
    // Whatever the outcome, an attribute that did not answer is said: the node needs a reboot.
    defer { for unanswered in LockedAttribute.unanswered { printError("harvester-sriov: \(unanswered)") } }
    do {
        return try body()
    } catch let error as SRIOVError {
        if case let .invalidPolicies(problems) = error {
            // One line per problem, so each can be read (and grepped) on its own.
            for problem in problems { printError(problem.description) }
            printError("harvester-sriov: \(count(problems.count, "problem", "problems")); nothing was written")
        } else {
            printError("harvester-sriov: \(error)")
        }
        throw ExitCode(error.exitCode)
    }
}

/// Messages go to stderr, data to stdout.
func printError(_ message: String) {
    _ = try? FileDescriptor.standardError.writeAll((message + "\n").utf8)
}
