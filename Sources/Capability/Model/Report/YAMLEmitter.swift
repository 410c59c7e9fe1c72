import CLibYAML

/// A YAML value to write: only what harvester-sriov emits.
public indirect enum YAMLValue: Sendable, Equatable {
    /// A string; `literal` asks for the `|` block style, which libyaml uses when the
    /// text allows it (it falls back to a quoted style otherwise).
    case string(String, literal: Bool = false)
    case integer(Int)
    case boolean(Bool)
    case sequence([YAMLValue])
    case mapping([YAMLPair])
}

public struct YAMLPair: Sendable, Equatable {
    public var key: String
    public var value: YAMLValue

    public init(_ key: String, _ value: YAMLValue) {
        self.key = key
        self.value = value
    }
}

/// Writes YAML through libyaml's emitter, which quotes and escapes as the YAML spec
/// requires; no YAML text is put together by hand.
public enum YAMLEmitter {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// One document, without `---` or `...` markers, ending in a line break.
    public static func document(_ value: YAMLValue) throws(Failure) -> String {
        let sink = Sink()
        var emitter = yaml_emitter_t()
        guard yaml_emitter_initialize(&emitter) == 1 else { throw Failure(description: "libyaml: out of memory") }
        defer { yaml_emitter_delete(&emitter) }
        yaml_emitter_set_unicode(&emitter, 1)
        // No folding of long lines: a policy's text stays as it was.
        yaml_emitter_set_width(&emitter, -1)
        yaml_emitter_set_indent(&emitter, 2)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        yaml_emitter_set_output(
            &emitter,
            { context, buffer, size in
                guard let context, let buffer else { return 0 }
                let sink = Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: buffer, count: size))
                return 1
            }, context)
        try withExtendedLifetime(sink) { () throws(Failure) in
            var event = yaml_event_t()
            yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)
            try emit(&emitter, &event)
            yaml_document_start_event_initialize(&event, nil, nil, nil, 1)
            try emit(&emitter, &event)
            try emitValue(value, &emitter)
            yaml_document_end_event_initialize(&event, 1)
            try emit(&emitter, &event)
            yaml_stream_end_event_initialize(&event)
            try emit(&emitter, &event)
        }
        return String(decoding: sink.bytes, as: UTF8.self)
    }

    /// `document`, for a file of ours: libyaml fails only without memory, said in the one error type.
    package static func document(_ value: YAMLValue, what: String) throws(SRIOVError) -> String {
        do {
            return try document(value)
        } catch {
            throw .io(path: what, operation: "render", errno: .noMemory, hint: error.description)
        }
    }

    private final class Sink {
        var bytes: [UInt8] = []
    }

    private static func emitValue(_ value: YAMLValue, _ emitter: inout yaml_emitter_t) throws(Failure) {
        var event = yaml_event_t()
        switch value {
        case let .string(text, literal):
            try scalar(text, &emitter, literal ? YAML_LITERAL_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE, string: true)
        case let .integer(number): try scalar(String(number), &emitter, YAML_PLAIN_SCALAR_STYLE, string: false)
        case let .boolean(flag): try scalar(String(flag), &emitter, YAML_PLAIN_SCALAR_STYLE, string: false)
        case let .sequence(items):
            yaml_sequence_start_event_initialize(&event, nil, nil, 1, YAML_BLOCK_SEQUENCE_STYLE)
            try emit(&emitter, &event)
            for item in items { try emitValue(item, &emitter) }
            yaml_sequence_end_event_initialize(&event)
            try emit(&emitter, &event)
        case let .mapping(pairs):
            yaml_mapping_start_event_initialize(&event, nil, nil, 1, YAML_BLOCK_MAPPING_STYLE)
            try emit(&emitter, &event)
            for pair in pairs {
                try emitValue(.string(pair.key), &emitter)
                try emitValue(pair.value, &emitter)
            }
            yaml_mapping_end_event_initialize(&event)
            try emit(&emitter, &event)
        }
    }

    /// A string that would read back as another type when plain (`true`, `420`, `null`,
    /// `0x1f`) is quoted: `plain_implicit` 0 makes libyaml pick a quoted style.
    private static func scalar(
        _ text: String, _ emitter: inout yaml_emitter_t, _ style: yaml_scalar_style_t, string: Bool
    ) throws(Failure) {
        let plainReadsAsString = !string || YAMLScalar.resolvePlain(text) == .string(text)
        var event = yaml_event_t()
        // A terminating 0 keeps the pointer non-nil for "" (libyaml asserts on NULL).
        var bytes = Array(text.utf8) + [0]
        guard bytes.count <= Int32.max else { throw Failure(description: "a string of \(text.utf8.count) bytes") }
        let initialized = bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_scalar_event_initialize(
                &event, nil, nil, buffer.baseAddress, Int32(buffer.count - 1), plainReadsAsString ? 1 : 0, 1, style)
        }
        guard initialized == 1 else { throw Failure(description: "libyaml refused a scalar") }
        try emit(&emitter, &event)
    }

    /// yaml_emitter_emit takes the event over, and frees it on failure too.
    private static func emit(_ emitter: inout yaml_emitter_t, _ event: inout yaml_event_t) throws(Failure) {
        guard yaml_emitter_emit(&emitter, &event) == 1 else {
            let problem = emitter.problem.map { String(cString: $0) } ?? "unknown error"
            throw Failure(description: "libyaml: \(problem)")
        }
    }
}
