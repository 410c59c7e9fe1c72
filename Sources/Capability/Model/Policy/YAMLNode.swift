import CLibYAML

/// A YAML node with the line it starts on. Scalars are typed the way kubectl reads
/// manifests (sigs.k8s.io/yaml on go-yaml v2, YAML 1.1): a bare `8086` is a number and
/// `yes` a boolean, while a quoted `"8086"` is a string.
package indirect enum YAMLNode: Equatable {
    case scalar(YAMLScalar, line: Int)
    case sequence([YAMLNode], line: Int)
    case mapping([(key: String, value: YAMLNode)], line: Int)

    var line: Int {
        switch self {
        case let .scalar(_, line), let .sequence(_, line), let .mapping(_, line): line
        }
    }

    package static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
        switch (lhs, rhs) {
        case let (.scalar(a, _), .scalar(b, _)): a == b
        case let (.sequence(a, _), .sequence(b, _)): a == b
        case let (.mapping(a, _), .mapping(b, _)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// What a user would call this node in a message.
    var kindName: String {
        switch self {
        case let .scalar(scalar, _): scalar.kindName
        case .sequence: "a list"
        case .mapping: "a map"
        }
    }
}

package enum YAMLScalar: Equatable {
    case string(String)
    case integer(Int)
    /// A plain integer written with a leading 0 (`010`): go-yaml v2 reads it as octal,
    /// so kubectl would send `value` where the writer probably meant decimal.
    case leadingZero(text: String, value: Int)
    /// An integer beyond the 64-bit signed range, as written.
    case largeInteger(String)
    /// As written (or, for `!!float` on an integer, that integer with `.0`).
    case float(String)
    case bool(Bool)
    case null

    var kindName: String {
        switch self {
        case let .string(text): "the string \"\(text)\""
        case let .integer(value): "the number \(value)"
        case let .leadingZero(text, _), let .largeInteger(text), let .float(text): "the number \(text)"
        case let .bool(value): "the boolean \(value)"
        case .null: "null"
        }
    }

    /// Resolves an untagged plain scalar as go-yaml v2's `resolve` does (YAML 1.1): the
    /// first character decides what it may be; `_` is ignored inside numbers; `0x`, `0o`,
    /// `0b` and a bare leading `0` (octal) are integer prefixes; anything else is a string.
    static func resolvePlain(_ text: String) -> YAMLScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        case ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
            return .float(text)
        default: break
        }
        guard let first = text.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "."):
            return isGoFloat(text) ? .float(text) : .string(text)
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"):
            return resolveNumber(text) ?? .string(text)
        default:
            return .string(text)
        }
    }

    /// A scalar starting with a digit or sign: what go-yaml v2 tries, in its order.
    private static func resolveNumber(_ text: String) -> YAMLScalar? {
        let plain = Array(text.utf8.filter { $0 != UInt8(ascii: "_") })
        switch GoInteger.parse(plain) {
        case let .value(value, octal): return octal ? .leadingZero(text: text, value: value) : .integer(value)
        case .outOfRange: return .largeInteger(text)
        case .invalid: break
        }
        if isYAMLStyleFloat(plain) {
            // Go's ParseFloat fails on overflow, and go-yaml then keeps the text as a string.
            return Double(String(decoding: plain, as: UTF8.self)).map { $0.isFinite ? .float(text) : .string(text) }
        }
        // go-yaml v2 retries `0b` with Go's base-2 ParseInt, which also takes a sign after the prefix.
        if plain.starts(with: Array("0b".utf8)) {
            switch GoInteger.digits(plain.dropFirst(2), radix: 2, allowSign: true) {
            case let .value(value, _): return .integer(value)
            case .outOfRange: return .largeInteger(text)
            case .invalid: break
            }
        }
        return nil
    }

    /// go-yaml v2's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
    private static func isYAMLStyleFloat(_ bytes: [UInt8]) -> Bool {
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }
        func skipSign() {
            if index < bytes.count, [UInt8(ascii: "+"), UInt8(ascii: "-")].contains(bytes[index]) { index += 1 }
        }
        skipSign()
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        } else {
            guard digits() > 0 else { return false }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                _ = digits()
            }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            skipSign()
            guard digits() > 0 else { return false }
        }
        return index == bytes.count
    }

    /// Go's ParseFloat on text that starts with `.`: digits, underscores only between
    /// digits, an optional exponent, and a finite result.
    private static func isGoFloat(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "_") {
            guard index > 0, index + 1 < bytes.count, isDigit(bytes[index - 1]), isDigit(bytes[index + 1]) else {
                return false
            }
        }
        let plain = bytes.filter { $0 != UInt8(ascii: "_") }
        guard isYAMLStyleFloat(plain) else { return false }
        return Double(String(decoding: plain, as: UTF8.self))?.isFinite ?? false
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, then `ParseUint(s, 0, 64)`: an optional sign, then
/// `0x`/`0o`/`0b` (any case), or a leading `0` meaning octal, or decimal digits.
enum GoInteger {
    enum Result {
        /// `octal` when the text used the bare leading-`0` form.
        case value(Int, octal: Bool)
        case outOfRange
        case invalid
    }

    static func parse(_ bytes: [UInt8]) -> Result {
        var rest = bytes[...]
        var negative = false
        if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            rest = rest.dropFirst()
        }
        guard let first = rest.first else { return .invalid }
        var radix = 10
        var octal = false
        if first == UInt8(ascii: "0"), rest.count >= 2 {
            switch rest[rest.startIndex + 1] | 0x20 {
            case UInt8(ascii: "x") where rest.count >= 3:
                radix = 16
                rest = rest.dropFirst(2)
            case UInt8(ascii: "o") where rest.count >= 3:
                radix = 8
                rest = rest.dropFirst(2)
            case UInt8(ascii: "b") where rest.count >= 3:
                radix = 2
                rest = rest.dropFirst(2)
            default:
                radix = 8
                octal = true
                rest = rest.dropFirst()
            }
        }
        switch digits(rest, radix: radix, allowSign: false) {
        case let .value(magnitude, _):
            return .value(negative ? -magnitude : magnitude, octal: octal)
        case .outOfRange:
            // -2^63 is the one magnitude that only fits negated.
            if negative, digitsValue(rest, radix: radix) == UInt64(Int.max) + 1 { return .value(Int.min, octal: octal) }
            return .outOfRange
        case .invalid:
            return .invalid
        }
    }

    /// Digits in `radix` (with an optional sign when `allowSign`); at least one digit.
    static func digits(_ bytes: ArraySlice<UInt8>, radix: Int, allowSign: Bool) -> Result {
        var rest = bytes
        var negative = false
        if allowSign, let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty, rest.allSatisfy({ digitValue($0).map { $0 < radix } ?? false }) else { return .invalid }
        guard let value = digitsValue(rest, radix: radix) else { return .outOfRange }
        if value <= UInt64(Int.max) { return .value(negative ? -Int(value) : Int(value), octal: false) }
        if negative, value == UInt64(Int.max) + 1 { return .value(Int.min, octal: false) }
        return .outOfRange
    }

    /// The digits' value, or nil beyond UInt64.
    private static func digitsValue(_ bytes: ArraySlice<UInt8>, radix: Int) -> UInt64? {
        var value: UInt64 = 0
        for byte in bytes {
            guard let digit = digitValue(byte) else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: UInt64(radix))
            let (sum, carry) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return value
    }

    private static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }
}

/// Parses YAML text into its documents with libyaml's event API, the parser Yams wraps
/// (Yams itself links full Foundation and ICU: 58.6 MB against our 16 MB binary).
/// Limits are enforced as events arrive, so a hostile file is refused after reading at
/// most what it takes to exceed them, not after libyaml has built the whole document.
package enum YAMLReader {
    /// Aliases can repeat a subtree; a few dozen nested ones would expand to billions
    /// of nodes ("billion laughs"). Real manifests stay far below these.
    static let maximumNodes = 100_000
    static let maximumDepth = 64

    package struct Failure: Error {
        var line: Int
        var message: String
    }

    package static func documents(_ text: String) throws(Failure) -> [YAMLNode] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Failure(line: 0, message: "libyaml: out of memory") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
                    let context = parser.context.map { " " + String(cString: $0) } ?? ""
                    throw Failure(line: Int(parser.problem_mark.line) + 1, message: "\(problem)\(context)")
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { return builder.documents }
                try builder.consume(event)
            }
        }
    }
}

/// Builds `YAMLNode`s from libyaml events, counting nodes (aliases by the size of what
/// they repeat) and depth as it goes.
private struct TreeBuilder {
    /// A collection whose end event has not come yet.
    struct Open {
        var isMapping: Bool
        var line: Int
        var anchor: String?
        var items: [YAMLNode] = []
        var pairs: [(key: String, value: YAMLNode)] = []
        var keys: Set<String> = []
        /// In a mapping: the key read, waiting for its value.
        var pendingKey: String?
        /// Nodes in this subtree so far, aliases expanded, this one included.
        var nodes = 1
        /// Levels below this node so far.
        var height = 0
    }

    /// A finished node with what an alias to it costs.
    struct Built {
        var node: YAMLNode
        var nodes: Int
        var height: Int
    }

    enum Anchor {
        /// Defined by a collection still open: an alias to it would be a cycle.
        case open
        case built(Built)
    }

    var documents: [YAMLNode] = []
    var stack: [Open] = []
    var anchors: [String: Anchor] = [:]
    var root: YAMLNode?
    var used = 0

    static let coreTagPrefix = "tag:yaml.org,2002:"

    mutating func consume(_ event: yaml_event_t) throws(YAMLReader.Failure) {
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            // Anchors are per document, as in go-yaml.
            anchors = [:]
            root = nil
        case YAML_DOCUMENT_END_EVENT:
            documents.append(root ?? .scalar(.null, line: line))
        case YAML_SCALAR_EVENT:
            let data = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
            let tag = Self.string(data.tag)
            try enter(line: line, height: 0)
            if stack.last.map({ $0.isMapping && $0.pendingKey == nil }) ?? false,
                text == "<<", data.plain_implicit == 1 || tag == Self.coreTagPrefix + "merge"
            {
                throw Self.failure(line, "merge keys (<<) are not supported; write the merged fields out")
            }
            let scalar = try Self.resolve(text, tag: tag, plain: data.plain_implicit == 1, line: line)
            let built = Built(node: .scalar(scalar, line: line), nodes: 1, height: 0)
            if let anchor = Self.string(data.anchor) { anchors[anchor] = .built(built) }
            try add(built)
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
            let isMapping = event.type == YAML_MAPPING_START_EVENT
            let start = isMapping ? event.data.mapping_start.tag : event.data.sequence_start.tag
            if let tag = Self.string(start), tag != "!", tag != Self.coreTagPrefix + (isMapping ? "map" : "seq") {
                let kind = isMapping ? "map" : "list"
                throw Self.failure(line, "the tag \(Self.short(tag)) on a \(kind) is not supported; remove it")
            }
            if let parent = stack.last, parent.isMapping, parent.pendingKey == nil {
                throw Self.failure(line, "a map key must be a string, found \(isMapping ? "a map" : "a list")")
            }
            try enter(line: line, height: 0)
            let anchor = Self.string(isMapping ? event.data.mapping_start.anchor : event.data.sequence_start.anchor)
            if let anchor { anchors[anchor] = .open }
            stack.append(Open(isMapping: isMapping, line: line, anchor: anchor))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let open = stack.popLast() else { return }
            let node: YAMLNode =
                open.isMapping
                ? .mapping(open.pairs, line: open.line)
                : .sequence(open.items, line: open.line)
            let built = Built(node: node, nodes: open.nodes, height: open.height)
            if let anchor = open.anchor { anchors[anchor] = .built(built) }
            try add(built)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            switch anchors[name] {
            case nil: throw Self.failure(line, "the alias *\(name) names no anchor &\(name) before it")
            case .open?: throw Self.failure(line, "the alias *\(name) is inside the node it refers to")
            case let .built(built)?:
                try enter(line: line, height: built.height, nodes: built.nodes)
                try add(built)
            }
        default:
            break
        }
    }

    /// Counts a new node (or an alias's expansion) against the limits, at the current depth.
    private mutating func enter(line: Int, height: Int, nodes: Int = 1) throws(YAMLReader.Failure) {
        guard stack.count + height < YAMLReader.maximumDepth else {
            throw Self.failure(line, "nested deeper than \(YAMLReader.maximumDepth) levels")
        }
        used += nodes
        guard used <= YAMLReader.maximumNodes else {
            throw Self.failure(line, "more than \(YAMLReader.maximumNodes) nodes after expanding aliases")
        }
    }

    /// Adds a finished node to the collection that holds it, or makes it the root.
    private mutating func add(_ built: Built) throws(YAMLReader.Failure) {
        guard let last = stack.indices.last else {
            root = built.node
            return
        }
        stack[last].nodes += built.nodes
        stack[last].height = max(stack[last].height, built.height + 1)
        guard stack[last].isMapping else {
            stack[last].items.append(built.node)
            return
        }
        guard let key = stack[last].pendingKey else {
            let text = try Self.keyText(built.node)
            guard stack[last].keys.insert(text).inserted else {
                throw Self.failure(built.node.line, "duplicate key \"\(text)\"")
            }
            stack[last].pendingKey = text
            return
        }
        stack[last].pairs.append((key, built.node))
        stack[last].pendingKey = nil
    }

    /// A key as kubectl turns it into a JSON object key.
    private static func keyText(_ node: YAMLNode) throws(YAMLReader.Failure) -> String {
        switch node {
        case let .scalar(.string(text), _): return text
        case let .scalar(.integer(value), _), let .scalar(.leadingZero(_, value), _): return String(value)
        case let .scalar(.bool(value), _): return String(value)
        default: throw failure(node.line, "a map key must be a string, found \(node.kindName)")
        }
    }

    /// A scalar with its tag, as go-yaml v2 reads it. `plain`: libyaml's plain_implicit,
    /// set for an untagged plain scalar (and for the non-specific tag `!`).
    static func resolve(_ text: String, tag: String?, plain: Bool, line: Int) throws(YAMLReader.Failure) -> YAMLScalar {
        guard let tag, tag != "!" else {
            return plain && tag == nil ? YAMLScalar.resolvePlain(text) : .string(text)
        }
        func refuse(_ wanted: String) -> YAMLReader.Failure {
            failure(line, "\(short(tag)) \"\(text)\" is not \(wanted)")
        }
        guard tag.hasPrefix(coreTagPrefix) else {
            throw failure(line, "the tag \(tag) is not supported; remove it \(readTags)")
        }
        let resolved = YAMLScalar.resolvePlain(text)
        switch tag.dropFirst(coreTagPrefix.count) {
        case "str":
            return .string(text)
        case "null":
            // go-yaml v2 reads any text tagged !!null as null.
            return .null
        case "bool":
            guard case .bool = resolved else { throw refuse("a boolean") }
            return resolved
        case "int":
            switch resolved {
            case .integer, .leadingZero, .largeInteger: return resolved
            default: throw refuse("an integer")
            }
        case "float":
            switch resolved {
            case .float: return resolved
            case let .integer(value), let .leadingZero(_, value): return .float("\(value).0")
            case .largeInteger: return .float(text)
            default: throw refuse("a number")
            }
        default:
            throw failure(line, "the tag \(short(tag)) is not supported here; remove it \(readTags)")
        }
    }

    static let readTags = "(only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are read)"

    static func failure(_ line: Int, _ message: String) -> YAMLReader.Failure {
        YAMLReader.Failure(line: line, message: message)
    }

    static func short(_ tag: String) -> String {
        tag.hasPrefix(coreTagPrefix) ? "!!" + tag.dropFirst(coreTagPrefix.count) : tag
    }

    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
