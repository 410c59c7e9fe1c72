/// Writes pretty JSON with the bytes JSONEncoder writes with `[.prettyPrinted, .sortedKeys,
/// .withoutEscapingSlashes]` (FoundationEssentials' JSONWriter): two-space indent,
/// `"key" : value`, an empty array as `[` newline newline `]`, and only `"`, `\\` and control
/// characters escaped. JSONEncoder boxes every value and builds a dictionary per object,
/// which on a host with 2,000 VFs cost most of `detect --json`'s time; this writes the
/// bytes straight away. It does not sort: callers write members in the UTF-8 order of their
/// keys, as `.sortedKeys` does (DetectJSONTests compares every document with JSONEncoder's).
package struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    private var depth = 0
    /// No member or element written yet in the innermost object or array.
    private var first = true
    /// No line breaks, indents or spaces: for JSON embedded in another document.
    private var compact = false

    /// The document with the trailing newline `encodeJSON` adds.
    package static func text(_ body: (inout JSONWriter) -> Void) -> String {
        var json = JSONWriter()
        json.bytes.reserveCapacity(1 << 16)
        body(&json)
        json.bytes.append(UInt8(ascii: "\n"))
        return String(decoding: json.bytes, as: UTF8.self)
    }

    /// The document without any whitespace (nor a trailing newline).
    package static func compactText(_ body: (inout JSONWriter) -> Void) -> String {
        var json = JSONWriter()
        json.compact = true
        body(&json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    package mutating func object(_ members: (inout JSONWriter) -> Void) {
        container(UInt8(ascii: "{"), UInt8(ascii: "}"), members)
    }

    package mutating func array<Elements: Sequence>(
        _ elements: Elements, _ element: (inout JSONWriter, Elements.Element) -> Void
    ) {
        container(UInt8(ascii: "["), UInt8(ascii: "]")) { json in
            for item in elements {
                json.nextItem()
                element(&json, item)
            }
        }
    }

    /// Starts the member `key`; the caller writes its value. Keys are plain identifiers.
    package mutating func key(_ key: StaticString) {
        nextItem()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        // StaticString: a String literal would take the String overload, which copies it first.
        append(compact ? "\":" as StaticString : "\" : ")
    }

    /// Starts a member whose key is data (a label key): escaped like any string.
    package mutating func key(_ key: String) {
        nextItem()
        string(key)
        if compact { append(":") } else { append(" : ") }
    }

    /// A member whose value is JSON text already checked (`JSONText.compacted`), written as it is.
    package mutating func member(_ name: StaticString, json: String) {
        key(name)
        append(json)
    }

    /// A value that is JSON text already checked, written as it is (after `nextItem` in an array).
    package mutating func json(_ text: String) { append(text) }

    package mutating func member(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    package mutating func member(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { append(value) } else { null() }
    }

    package mutating func member(_ name: StaticString, _ value: Bool) {
        key(name)
        append(value ? "true" as StaticString : "false")
    }

    package mutating func null() { append("null" as StaticString) }

    /// Bytes appended as one copy: appending a sequence goes byte by byte.
    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// Decimal digits written straight in: a String per number cost an allocation each.
    private mutating func append(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    package mutating func string(_ text: String) {
        // The UTF-8 buffer, not the UTF8View: iterating the view cost more than the copy.
        var text = text
        text.withUTF8 { utf8 in
            bytes.append(UInt8(ascii: "\""))
            if !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
                bytes.append(contentsOf: utf8)
            } else {
                for byte in utf8 { escaped(byte) }
            }
            bytes.append(UInt8(ascii: "\""))
        }
    }

    private mutating func escaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
        case 0x08: bytes.append(contentsOf: "\\b".utf8)
        case 0x0c: bytes.append(contentsOf: "\\f".utf8)
        case 0x0a: bytes.append(contentsOf: "\\n".utf8)
        case 0x0d: bytes.append(contentsOf: "\\r".utf8)
        case 0x09: bytes.append(contentsOf: "\\t".utf8)
        case 0x00..<0x20:
            let digits = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: "\\u00".utf8)
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0xf)])
        default: bytes.append(byte)
        }
    }

    private mutating func container(_ open: UInt8, _ close: UInt8, _ body: (inout JSONWriter) -> Void) {
        bytes.append(open)
        if !compact { bytes.append(UInt8(ascii: "\n")) }
        let outerFirst = first
        (depth, first) = (depth + 1, true)
        body(&self)
        (depth, first) = (depth - 1, outerFirst)
        if !compact {
            bytes.append(UInt8(ascii: "\n"))
            indent()
        }
        bytes.append(close)
    }

    private mutating func nextItem() {
        if compact {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            return
        }
        // The comma, line break and indent as one copy, as deep as documents go.
        let separator: StaticString = ",\n                                "
        let skip = first ? 2 : 0
        first = false
        guard 2 * depth <= separator.utf8CodeUnitCount - 2 else {
            if skip == 0 { append(",\n") }
            return indent()
        }
        separator.withUTF8Buffer { separator in
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: separator[skip..<(2 + 2 * depth)]))
        }
    }

    private mutating func indent() {
        // One copy from a run of spaces (deeper levels take more than one).
        let spaces: StaticString = "                                "
        var count = 2 * depth
        spaces.withUTF8Buffer { spaces in
            while count > 0 {
                let run = min(count, spaces.count)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: spaces[..<run]))
                count -= run
            }
        }
    }
}
