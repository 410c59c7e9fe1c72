/// JSON text a user wrote inside a manifest (a SriovNetwork's `ipam`, `capabilities` and
/// `metaPlugins` are JSON in YAML strings), checked against RFC 8259 and written back without
/// the whitespace between tokens, keys in their order and numbers as written. The operator
/// pastes these strings into the CNI config unchecked, so a typo there only shows when a pod
/// fails to start; here it is a problem before anything is printed.
enum JSONText {
    struct Failure: Error, Equatable {
        var message: String
    }

    /// Nesting beyond this is refused: no CNI config comes near it, and the parser recurses.
    static let maximumDepth = 64

    /// One JSON object, compacted. `booleanValues`: each of its values must be true or false (CNI's
    /// `capabilities`, which libcni reads as map[string]bool).
    static func object(_ text: String, booleanValues: Bool = false) throws(Failure) -> String {
        var parser = Parser(Array(text.utf8))
        parser.booleanValues = booleanValues
        try parser.whole { parser throws(Failure) in try parser.object(depth: 0) }
        return parser.compacted
    }

    /// One or more JSON objects separated by commas (`{...}, {...}`), compacted: how the
    /// operator's template takes `metaPlugins`, as the elements after sriov in `plugins`.
    static func objectList(_ text: String) throws(Failure) -> [String] {
        var parser = Parser(Array(text.utf8))
        var objects: [String] = []
        try parser.whole { parser throws(Failure) in
            while true {
                let start = parser.output.count
                try parser.object(depth: 0)
                objects.append(String(decoding: parser.output[start...], as: UTF8.self))
                parser.skipWhitespace()
                guard parser.peek == UInt8(ascii: ",") else { return }
                parser.index += 1
                parser.skipWhitespace()
            }
        }
        return objects
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var output: [UInt8] = []
        /// The outer object's values must be true or false.
        var booleanValues = false

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var compacted: String { String(decoding: output, as: UTF8.self) }

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        /// Runs `body` on the whole text: only whitespace may be around what it reads.
        mutating func whole(_ body: (inout Parser) throws(Failure) -> Void) throws(Failure) {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
            if index < bytes.count { throw failure("unexpected \(found) after the end") }
        }

        mutating func skipWhitespace() {
            while let byte = peek, [0x20, 0x09, 0x0a, 0x0d].contains(byte) { index += 1 }
        }

        var found: String {
            guard let byte = peek else { return "end of text" }
            return byte >= 0x20 && byte < 0x7f ? "'\(Character(Unicode.Scalar(byte)))'" : "byte \(byte)"
        }

        func failure(_ message: String) -> Failure {
            Failure(message: "not valid JSON at character \(index + 1): \(message)")
        }

        /// Valid JSON that the consumer (Go's encoding/json, libcni) would still refuse.
        func refusal(_ message: String) -> Failure {
            Failure(message: "at character \(index + 1): \(message)")
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(Failure) {
            guard peek == byte else { throw failure("expected \(what), found \(found)") }
            output.append(byte)
            index += 1
        }

        mutating func object(depth: Int) throws(Failure) {
            guard depth < JSONText.maximumDepth else {
                throw failure("nested deeper than \(JSONText.maximumDepth) levels")
            }
            skipWhitespace()
            try expect(UInt8(ascii: "{"), "'{' (a JSON object)")
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                return try expect(UInt8(ascii: "}"), "'}'")
            }
            while true {
                skipWhitespace()
                guard peek == UInt8(ascii: "\"") else { throw failure("expected a quoted key, found \(found)") }
                try string()
                skipWhitespace()
                try expect(UInt8(ascii: ":"), "':' after a key")
                if booleanValues, depth == 0 {
                    skipWhitespace()
                    guard peek == UInt8(ascii: "t") || peek == UInt8(ascii: "f") else {
                        throw refusal("each value must be true or false, found \(found)")
                    }
                }
                try value(depth: depth + 1)
                skipWhitespace()
                if peek == UInt8(ascii: ",") {
                    try expect(UInt8(ascii: ","), "','")
                    continue
                }
                return try expect(UInt8(ascii: "}"), "',' or '}' in an object")
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            guard depth < JSONText.maximumDepth else {
                throw failure("nested deeper than \(JSONText.maximumDepth) levels")
            }
            try expect(UInt8(ascii: "["), "'['")
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                return try expect(UInt8(ascii: "]"), "']'")
            }
            while true {
                try value(depth: depth + 1)
                skipWhitespace()
                if peek == UInt8(ascii: ",") {
                    try expect(UInt8(ascii: ","), "','")
                    continue
                }
                return try expect(UInt8(ascii: "]"), "',' or ']' in an array")
            }
        }

        mutating func value(depth: Int) throws(Failure) {
            skipWhitespace()
            guard let byte = peek else { throw failure("expected a value, found \(found)") }
            switch byte {
            case UInt8(ascii: "{"): try object(depth: depth)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw failure("expected a value, found \(found)")
            }
        }

        mutating func literal(_ word: String) throws(Failure) {
            for byte in word.utf8 { try expect(byte, "\(word)") }
        }

        /// A string as written, escapes included; control characters must be escaped.
        mutating func string() throws(Failure) {
            try expect(UInt8(ascii: "\""), "'\"'")
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    return try expect(byte, "'\"'")
                case UInt8(ascii: "\\"):
                    try expect(byte, "'\\'")
                    switch peek {
                    case UInt8(ascii: "u"):
                        try expect(UInt8(ascii: "u"), "'u'")
                        for _ in 0..<4 {
                            guard let digit = peek, digit.isHexDigit else {
                                throw failure("expected 4 hex digits after \\u, found \(found)")
                            }
                            try expect(digit, "a hex digit")
                        }
                    case let escaped? where Array(#""\/bfnrt"#.utf8).contains(escaped):
                        try expect(escaped, "an escape")
                    default:
                        throw failure("\\\(found) is not a JSON escape")
                    }
                case 0..<0x20:
                    throw failure("a control character (byte \(byte)) in a string must be escaped")
                default:
                    try expect(byte, "a character")
                }
            }
            throw failure("the string does not end")
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(Failure) {
            let start = index
            try numeral()
            // Go's encoding/json (Multus, sriov-cni) decodes a number into a float64 and refuses one beyond it.
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if let value = Double(text), !value.isFinite {
                index = start
                let shown = text.count > 24 ? String(text.prefix(24)) + "…" : text
                throw refusal(
                    "the number \(shown) is beyond a float64, which Go's encoding/json (Multus, sriov-cni) refuses")
            }
        }

        mutating func numeral() throws(Failure) {
            if peek == UInt8(ascii: "-") { try expect(UInt8(ascii: "-"), "'-'") }
            if peek == UInt8(ascii: "0") {
                try expect(UInt8(ascii: "0"), "'0'")
            } else {
                try digits()
            }
            if peek == UInt8(ascii: ".") {
                try expect(UInt8(ascii: "."), "'.'")
                try digits()
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                try expect(peek ?? 0, "'e'")
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { try expect(peek ?? 0, "a sign") }
                try digits()
            }
        }

        mutating func digits() throws(Failure) {
            guard let first = peek, first.isDigit else { throw failure("expected a digit, found \(found)") }
            while let byte = peek, byte.isDigit { try expect(byte, "a digit") }
        }
    }
}

extension UInt8 {
    fileprivate var isDigit: Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) }
    fileprivate var isHexDigit: Bool {
        isDigit || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self | 0x20)
    }
}
