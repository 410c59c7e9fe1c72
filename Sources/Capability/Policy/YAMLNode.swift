import CLibYAML

/// A YAML node with the line it starts on, as libyaml parsed it. Plain scalars are
/// typed the way Kubernetes reads manifests (YAML 1.1 as go-yaml resolves it): a bare
/// `8086` is a number and `yes` a boolean, while a quoted `"8086"` is a string.
indirect enum YAMLNode: Equatable {
    case scalar(YAMLScalar, line: Int)
    case sequence([YAMLNode], line: Int)
    case mapping([(key: String, value: YAMLNode)], line: Int)

    var line: Int {
        switch self {
        case let .scalar(_, line), let .sequence(_, line), let .mapping(_, line): line
        }
    }

    static func == (lhs: YAMLNode, rhs: YAMLNode) -> Bool {
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

enum YAMLScalar: Equatable {
    case string(String)
    case integer(Int)
    case float(String)
    case bool(Bool)
    case null

    var kindName: String {
        switch self {
        case let .string(text): "the string \"\(text)\""
        case let .integer(value): "the number \(value)"
        case let .float(text): "the number \(text)"
        case let .bool(value): "the boolean \(value)"
        case .null: "null"
        }
    }

    /// Plain scalars resolve as go-yaml v2 does (YAML 1.1): null, booleans including
    /// yes/no/on/off, decimal, hex (0x) and octal (0o) integers, floats; else a string.
    static func resolvePlain(_ text: String) -> YAMLScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        default: break
        }
        var digits = Substring(text)
        var sign = 1
        if let first = digits.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            digits = digits.dropFirst()
        }
        let radix: Int
        if digits.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
        else if digits.hasPrefix("0o") { radix = 8; digits = digits.dropFirst(2) }
        else { radix = 10 }
        let allDigits = !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isHexDigit && Int(String($0), radix: radix) != nil }
        if allDigits, let magnitude = Int(digits.filter { $0 != "_" }, radix: radix) { return .integer(sign * magnitude) }
        if isFloat(text) { return .float(text) }
        return .string(text)
    }

    private static func isFloat(_ text: String) -> Bool {
        let lowered = text.lowercased()
        if [".inf", "+.inf", "-.inf", ".nan"].contains(lowered) { return true }
        guard text.contains(".") || lowered.contains("e") else { return false }
        return Double(text) != nil
    }
}

/// Parses YAML text into its documents with libyaml, the parser Yams wraps (Yams
/// itself links full Foundation and ICU: 58.6 MB against our 16 MB binary).
enum YAMLReader {
    /// Aliases can repeat a subtree; a few dozen nested ones would expand to billions
    /// of nodes ("billion laughs"). Real manifests stay far below these.
    static let maximumNodes = 100_000
    static let maximumDepth = 64

    struct Failure: Error, Equatable {
        var line: Int
        var message: String
    }

    static func documents(_ text: String) throws(Failure) -> [YAMLNode] {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw Failure(line: 0, message: "libyaml: out of memory") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(Failure) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var documents: [YAMLNode] = []
            var budget = maximumNodes
            while true {
                var document = yaml_document_t()
                guard yaml_parser_load(&parser, &document) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
                    let context = parser.context.map { " " + String(cString: $0) } ?? ""
                    throw Failure(line: Int(parser.problem_mark.line) + 1, message: "\(problem)\(context)")
                }
                defer { yaml_document_delete(&document) }
                // An empty document marks the end of the stream.
                guard let root = yaml_document_get_root_node(&document) else { break }
                documents.append(try convert(root, in: &document, depth: 0, budget: &budget))
            }
            return documents
        }
    }

    private static func convert(_ node: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t,
                                depth: Int, budget: inout Int) throws(Failure) -> YAMLNode {
        let line = Int(node.pointee.start_mark.line) + 1
        budget -= 1
        guard budget >= 0 else { throw Failure(line: line, message: "more than \(maximumNodes) nodes after expanding aliases") }
        guard depth < maximumDepth else { throw Failure(line: line, message: "nested deeper than \(maximumDepth) levels") }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            let scalar = node.pointee.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            // Quoted, literal and folded scalars are always strings.
            if scalar.style != YAML_PLAIN_SCALAR_STYLE { return .scalar(.string(text), line: line) }
            return .scalar(YAMLScalar.resolvePlain(text), line: line)
        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var item = node.pointee.data.sequence.items.start
            while item != node.pointee.data.sequence.items.top {
                guard let child = yaml_document_get_node(&document, item!.pointee) else { break }
                items.append(try convert(child, in: &document, depth: depth + 1, budget: &budget))
                item = item! + 1
            }
            return .sequence(items, line: line)
        case YAML_MAPPING_NODE:
            var pairs: [(key: String, value: YAMLNode)] = []
            var pair = node.pointee.data.mapping.pairs.start
            while pair != node.pointee.data.mapping.pairs.top {
                guard let keyNode = yaml_document_get_node(&document, pair!.pointee.key),
                      let valueNode = yaml_document_get_node(&document, pair!.pointee.value) else { break }
                let key = try convert(keyNode, in: &document, depth: depth + 1, budget: &budget)
                let keyText: String
                switch key {
                case let .scalar(.string(text), _): keyText = text
                case let .scalar(.integer(value), _): keyText = String(value)
                case let .scalar(.bool(value), _): keyText = String(value)
                default: throw Failure(line: key.line, message: "a map key must be a string, found \(key.kindName)")
                }
                if pairs.contains(where: { $0.key == keyText }) {
                    throw Failure(line: key.line, message: "duplicate key \"\(keyText)\"")
                }
                pairs.append((keyText, try convert(valueNode, in: &document, depth: depth + 1, budget: &budget)))
                pair = pair! + 1
            }
            return .mapping(pairs, line: line)
        default:
            return .scalar(.null, line: line)
        }
    }
}
