/// What the manifest readers (policies, networks) share about Kubernetes objects.
enum ManifestFields {
    /// ObjectMeta's fields, as `kubectl get -o yaml` prints them.
    static let objectMeta: Set = [
        "name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers",
        "ownerReferences", "managedFields", "generateName", "selfLink",
    ]
}

/// A decoder that collects problems. The reads below check a value's type as the API server
/// would, and report a wrong one as a problem naming the field.
protocol ManifestReading {
    mutating func problem(_ node: YAMLNode?, _ field: String?, _ message: String)
}

extension ManifestReading {
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
        default:
            problem(node, field, "must be an integer, found \(node.kindName)")
        }
        return nil
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
