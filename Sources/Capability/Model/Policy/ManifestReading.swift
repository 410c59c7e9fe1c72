/// What the manifest readers (policies, networks) share about Kubernetes objects.
enum ManifestFields {
    /// ObjectMeta's fields, as `kubectl get -o yaml` prints them.
    static let objectMeta: Set = [
        "name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers",
        "ownerReferences", "managedFields", "generateName", "selfLink",
    ]

    /// A manifest file's YAML documents, or the one problem that keeps it from being read: larger
    /// than `PolicyDecoder.maximumFileSize`, or not YAML. `fileKind` names the file in the message.
    static func documents(_ text: String, file: String, fileKind: String) -> ([YAMLNode], unreadable: PolicyProblem?) {
        guard text.utf8.count <= PolicyDecoder.maximumFileSize else {
            return ([], PolicyProblem(file: file, message: "is larger than 1 MiB; a \(fileKind) is a few KiB of YAML"))
        }
        do {
            return (try YAMLReader.documents(text), nil)
        } catch {
            return ([], PolicyProblem(file: file, line: error.line, message: "not valid YAML: \(error.message)"))
        }
    }
}

/// What `ManifestReading.integral` finds in a float's text with no fraction.
enum IntegralFloat: Equatable {
    case value(Int)
    case tooLarge
}

/// A decoder that collects problems. The reads below check a value's type as the API server
/// would, and report a wrong one as a problem naming the field.
protocol ManifestReading {
    mutating func problem(_ node: YAMLNode?, _ field: String?, _ message: String)
}

extension ManifestReading {
    /// The objects of one YAML document: the document itself, or each item of a `kind: List`.
    /// `kind` names the objects in messages.
    mutating func objects(in document: YAMLNode, kind: String, _ each: (inout Self, YAMLNode) -> Void) {
        if case .scalar(.null, _) = document { return }  // an empty document between two `---`
        guard case let .mapping(pairs, _) = document else {
            return problem(
                document, nil,
                "expected a Kubernetes object (a map with apiVersion and kind), found \(document.kindName)")
        }
        guard case .scalar(.string("List"), _)? = pairs.first(where: { $0.key == "kind" })?.value else {
            return each(&self, document)
        }
        for (key, value) in pairs {
            switch key {
            case "apiVersion", "kind", "metadata": continue
            case "items":
                guard case let .sequence(items, _) = value else {
                    problem(value, "items", "must be a list of \(kind) objects, found \(value.kindName)")
                    continue
                }
                for item in items { each(&self, item) }
            default:
                problem(value, key, "unknown field in a List; a List has apiVersion, kind, metadata and items")
            }
        }
    }

    /// An object's own fields: no others beside apiVersion, kind, metadata, spec and status, and the
    /// apiVersion and kind given.
    mutating func typeMeta(
        _ node: YAMLNode, _ pairs: [(key: String, value: YAMLNode)], apiVersion: String, kind: String
    ) {
        for (key, value) in pairs where !["metadata", "spec", "status", "apiVersion", "kind"].contains(key) {
            problem(value, key, "unknown field; a \(kind) has apiVersion, kind, metadata and spec")
        }
        switch pairs.first(where: { $0.key == "apiVersion" })?.value {
        case .scalar(.string(apiVersion), _)?: break
        case let value?: problem(value, "apiVersion", "must be \"\(apiVersion)\", found \(value.kindName)")
        case nil: problem(node, "apiVersion", "is missing; set apiVersion: \(apiVersion)")
        }
        switch pairs.first(where: { $0.key == "kind" })?.value {
        case .scalar(.string(kind), _)?: break
        case let value?: problem(value, "kind", "must be \"\(kind)\" (or a List of them), found \(value.kindName)")
        case nil: problem(node, "kind", "is missing; set kind: \(kind)")
        }
    }
    /// The API server's ObjectMeta rule: a map of label keys to values, in label syntax.
    mutating func labels(_ node: YAMLNode) {
        guard case let .mapping(pairs, _) = node else {
            return problem(node, "metadata.labels", "must be a map of strings, found \(node.kindName)")
        }
        for (key, value) in pairs {
            let field = "metadata.labels.\(key)"
            guard let text = string(value, field) else { continue }
            if let message = PolicyRules.nodeSelectorProblem(key: key, value: text) {
                problem(value, field, message)
            }
        }
    }

    mutating func string(_ node: YAMLNode, _ field: String) -> String? {
        if case let .scalar(.string(text), _) = node { return text }
        if case let .scalar(scalar, _) = node, scalar != .null {
            problem(node, field, "must be a string, found \(scalar.kindName); quote it")
        } else {
            problem(node, field, "must be a string, found \(node.kindName)")
        }
        return nil
    }

    mutating func integer(_ node: YAMLNode, _ field: String) -> Int? {
        switch node {
        case let .scalar(.integer(value), _):
            return value
        case let .scalar(.leadingZero(text, value), _):
            // Refused rather than read as either number: kubectl would send the octal one.
            problem(node, field, "kubectl reads \(text) as octal \(value); write the number without the leading 0")
        case let .scalar(.largeInteger(text), _):
            problem(node, field, "\(text) is too large for an integer")
        case let .scalar(.float(text), _):
            switch Self.integral(text) {
            case let .value(value)?: return value
            case .tooLarge?: problem(node, field, "\(text) is too large for an integer")
            case nil: problem(node, field, "must be an integer, found \(node.kindName)")
            }
        default:
            problem(node, field, "must be an integer, found \(node.kindName)")
        }
        return nil
    }

    /// A float with no fraction (`4.0`, `4e0`, `4.00`) is the integer kubectl sends: it converts YAML to
    /// JSON through go-yaml and Go's encoding/json (sigs.k8s.io/yaml `yamlToJSON`), which writes the
    /// float64 4 as `4`, and the API server's schema check takes an integral float64 as an integer
    /// (k8s.io/kube-openapi `pkg/validation/validate/type.go`, `swag.IsFloat64AJSONInteger`). `.inf`,
    /// `.nan` and a fraction are not integers. nil when it is not integral.
    static func integral(_ text: String) -> IntegralFloat? {
        guard let double = Double(String(text.filter { $0 != "_" })), double.isFinite, double.rounded() == double
        else { return nil }
        // Int(exactly:) is nil beyond Int64's range: 2^63 itself is a Double, one past Int.max.
        return Int(exactly: double).map(IntegralFloat.value) ?? .tooLarge
    }

    mutating func bool(_ node: YAMLNode, _ field: String) -> Bool? {
        if case let .scalar(.bool(value), _) = node { return value }
        problem(node, field, "must be true or false, found \(node.kindName)")
        return nil
    }

    mutating func strings(_ node: YAMLNode, _ field: String) -> [(text: String, node: YAMLNode)]? {
        guard case let .sequence(items, _) = node else {
            problem(node, field, "must be a list of strings, found \(node.kindName)")
            return nil
        }
        var result: [(String, YAMLNode)] = []
        for (index, item) in items.enumerated() {
            guard let text = string(item, "\(field)[\(index)]") else { return nil }
            result.append((text, item))
        }
        return result
    }
}
