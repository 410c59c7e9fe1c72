import Logging
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// One event per line on stderr, with the `<N>` priority prefix that journald reads
/// from a service's output (sd-daemon(3)); without a journal, the level in words.
public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let prefixed: Bool

    public init(label: String) {
        prefixed = getenv("JOURNAL_STREAM") != nil
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = prefixed ? "<\(Self.priority(event.level))>\(event.message)\n" : "\(event.level): \(event.message)\n"
        _ = try? FileDescriptor.standardError.writeAll(line.utf8)
    }

    /// syslog priorities.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }
}
