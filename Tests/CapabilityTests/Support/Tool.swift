import Foundation

/// System programs that some tests drive; a machine without one skips those tests
/// (`.ci/run` installs them all), so that a missing tool shows as a skip, never as a pass.
enum Tool {
    /// The folders searched, in order: PATH, then the usual places in case the test runner's PATH is bare.
    static var folders: [String] {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        return path + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    }

    /// Where `name` is, if it is installed and executable.
    static func path(_ name: String) -> String? {
        folders.lazy.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func available(_ name: String) -> Bool { path(name) != nil }

    /// The program `name`; throws when it is missing, for a test that `available` did not guard.
    static func url(_ name: String) throws -> URL {
        guard let path = path(name) else { throw TestbedError("\(name) is not installed (no executable in PATH)") }
        return URL(fileURLWithPath: path)
    }
}
