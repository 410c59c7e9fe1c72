import Foundation

/// Validates an exported object against an upstream schema with python3's jsonschema (a
/// well-kept validator): a CRD's `openAPIV3Schema` (by version name, the first when nil),
/// or a plain JSON Schema file. Fields the schema does not name are refused too, as the
/// API server would prune them (apiVersion, kind and metadata at the top are always known).
/// The schema files live in `Tests/CapabilityTests/Schemas`, each with its source in its first line.
enum SchemaCheck {
    static var available: Bool {
        guard let python = Tool.path("python3"),
            let result = try? Program.run(URL(fileURLWithPath: python), ["-c", "import jsonschema, yaml"])
        else { return false }
        return result.status == 0
    }

    /// The path of a schema file in `Tests/CapabilityTests/Schemas`.
    static func schema(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Schemas/\(name)").path
    }

    static let script = #"""
        import sys, yaml, jsonschema
        doc = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d][0]
        if doc.get("kind") == "CustomResourceDefinition":
            versions = doc["spec"]["versions"]
            version = [v for v in versions if v["name"] == sys.argv[2]] if sys.argv[2] else versions
            schema = version[0]["schema"]["openAPIV3Schema"]
        else:
            schema = doc
        obj = yaml.safe_load(open(sys.argv[3]))
        jsonschema.Draft7Validator(schema).validate(obj)
        def pruned(node, schema, where):
            if isinstance(node, list):
                for item in node: pruned(item, schema.get("items", {}), where + "[].")
                return
            if not isinstance(node, dict): return
            props = schema.get("properties")
            for key, value in node.items():
                if where == "" and key in ("apiVersion", "kind", "metadata"):
                    continue  # every object has them, whether its schema names them or not
                if props is not None:
                    # The API server knows these at the top whether or not a CRD's schema names them.
                    if where == "" and key in ("apiVersion", "kind", "metadata"): continue
                    if key not in props:
                        if schema.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in schema:
                            continue
                        sys.exit("unknown field " + where + key)
                    pruned(value, props[key], where + key + ".")
        pruned(obj, schema, "")
        print("valid")
        """#

    /// Checks `document` (YAML or JSON) against the schema file `schema` (a path), and
    /// returns the validator's result: status 0 and "valid\n" on stdout when it passes.
    static func validate(_ document: String, against schema: String, version: String? = nil) throws -> Program.Result {
        let folder = try TemporaryFolder()
        try folder.write("object.yaml", document)
        return try Program.run(
            try Tool.url("python3"), ["-c", script, schema, version ?? "", folder.path("object.yaml")])
    }
}
