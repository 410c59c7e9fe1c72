import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `export cloudinit`: the node-manager CloudInit that carries policy files to a cluster's nodes.
@Suite struct CloudInitExportTests {
    static let schema = SchemaCheck.schema("node.harvesterhci.io_cloudinits.yaml")
    static let good = PolicyManifest.policy(
        "port0", #"{resourceName: intel_vfs, numVfs: 4, nicSelector: {vendor: "8086", pfNames: [ens1f0]}}"#)
    /// A policy whose comment and annotation hold Go template actions.
    static let braces =
        "# {{ .Values.x }} and {{- template \"t\" }}\n"
        + PolicyManifest.policy(
            "port1", #"{resourceName: other_vfs, numVfs: 2, nicSelector: {vendor: "8086", pfNames: [ens1f1]}}"#,
            annotations: #"note: "{{ printf \"%s\" .X }}""#)

    /// Writes the files into `folder` (which removes them when it goes) and returns their paths, sorted.
    func files(_ contents: [String: String], in folder: TemporaryFolder) throws -> [String] {
        for (name, text) in contents { try folder.write(name, text) }
        return contents.keys.sorted().map { folder.path($0) }
    }

    @Test(.enabled(if: SchemaCheck.available), arguments: [false, true])
    func theCloudInitValidatesAgainstNodeManagersCRD(paused: Bool) throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good, "braces.yml": Self.braces], in: folder)
        let exported = try Umockdev.runBinary(
            ["export", "cloudinit"] + paths + ["--match-selector", "network-sriov.capable=true"]
                + (paused ? ["--paused"] : []))
        #expect(exported.status == 0)
        #expect(exported.stderr == "")
        let check = try SchemaCheck.validate(exported.stdout, against: Self.schema)
        #expect(check.stderr == "")
        #expect(check.stdout == "valid\n")
        #expect(check.status == 0)
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theValidatorRefusesAnObjectWithoutContents() throws {
        let check = try SchemaCheck.validate(
            "apiVersion: node.harvesterhci.io/v1beta1\nkind: CloudInit\nspec: {filename: a.yaml, matchSelector: {}}\n",
            against: Self.schema)
        #expect(check.status != 0)
        #expect(check.stderr.contains("'contents' is a required property"))
    }

    /// The CR's fields, read back with the policy reader.
    func fields(_ export: CloudInitExport) throws -> [String: YAMLNode] {
        guard case let .mapping(top, _)? = try YAMLReader.documents(try export.yaml()).first else { return [:] }
        #expect(top.map(\.key) == ["apiVersion", "kind", "metadata", "spec"])
        var all: [String: YAMLNode] = [:]
        for (key, value) in top { all[key] = value }
        if case let .mapping(spec, _)? = all["spec"] { for (key, value) in spec { all["spec." + key] = value } }
        return all
    }

    /// Issue 19: a long input name gives a name of up to 253 characters; the /oem file derived from it stays
    /// within 255 bytes, and two long names that share their beginning stay two files.
    @Test func aFilenameDerivedFromALongNameFitsAFileName() throws {
        let folder = try TemporaryFolder()
        let long = String(repeating: "a", count: 240)
        let paths = try files(["\(long)1.yaml": Self.good, "\(long)2.yaml": Self.braces], in: folder)
        let one = try CloudInitExport(files: [paths[0]], matchSelector: ["a=b"], name: nil, filename: nil)
        let two = try CloudInitExport(files: [paths[1]], matchSelector: ["a=b"], name: nil, filename: nil)
        #expect(one.name.count > 240)
        #expect(one.filename.utf8.count <= 255, "\(one.filename)")
        #expect(one.filename != two.filename)
        #expect(one.filename.hasPrefix("92_harvester-sriov-aaaa") && one.filename.hasSuffix(".yaml"))
        #expect(try CloudInitExport.checkedFilename(one.filename) == one.filename)
    }

    @Test func theObjectNamesKindSelectorAndFile() throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good], in: folder)
        let export = try CloudInitExport(
            files: paths, matchSelector: ["network-sriov.capable=true", "zone=a"], name: nil, filename: nil)
        let read = try fields(export)
        #expect(read["apiVersion"] == .scalar(.string("node.harvesterhci.io/v1beta1"), line: 0))
        #expect(read["kind"] == .scalar(.string("CloudInit"), line: 0))
        #expect(
            read["metadata"]
                == .mapping([(key: "name", value: .scalar(.string("harvester-sriov-x710"), line: 0))], line: 0))
        // "true" stays a string: the CRD's matchSelector values are strings.
        #expect(
            read["spec.matchSelector"]
                == .mapping(
                    [
                        (key: "network-sriov.capable", value: .scalar(.string("true"), line: 0)),
                        (key: "zone", value: .scalar(.string("a"), line: 0)),
                    ], line: 0))
        #expect(read["spec.filename"] == .scalar(.string("92_harvester-sriov-x710.yaml"), line: 0))
        #expect(read["spec.paused"] == nil)
        #expect(read["spec.contents"] == .scalar(.string(try export.yipDocument()), line: 0))
        #expect(try export.yaml().contains("  contents: |\n"), "the contents are a literal block")
    }

    @Test func theYipContentsUseOnlyYipsKeysAndCarryEachFile() throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good, "braces.yml": Self.braces], in: folder)
        let export = try CloudInitExport(files: paths, matchSelector: ["a=b"], name: "sriov", filename: nil)
        guard case let .mapping(top, _)? = try YAMLReader.documents(try export.yipDocument()).first,
            case let .mapping(stages, _)? = top.last?.value, case let .sequence(steps, _)? = stages.first?.value,
            case let .mapping(step, _)? = steps.first, case let .sequence(entries, _)? = step.last?.value
        else {
            Issue.record("not a yip document")
            return
        }
        #expect(top.map(\.key) == ["name", "stages"])
        #expect(stages.map(\.key) == ["initramfs"])
        #expect(steps.count == 1)
        #expect(step.map(\.key) == ["name", "if", "files"])
        #expect(step[1].value == .scalar(.string(#"[ ! -f "/run/cos/recovery_mode" ]"#), line: 0))
        let expected = [
            ("/usr/local/etc/harvester-sriov/policies.d/braces.yaml", Self.braces),
            ("/usr/local/etc/harvester-sriov/policies.d/x710.yaml", Self.good),
        ]
        #expect(entries.count == expected.count)
        for (entry, (path, text)) in zip(entries, expected) {
            guard case let .mapping(file, _) = entry else {
                Issue.record("a file entry is not a map")
                continue
            }
            #expect(file.map(\.key) == ["path", "permissions", "owner", "group", "content"])
            #expect(file[0].value == .scalar(.string(path), line: 0))
            #expect(file[1].value == .scalar(.integer(420), line: 0))
            #expect(file[2].value == .scalar(.integer(0), line: 0))
            #expect(file[4].value == .scalar(.string(NodeFiles.goTemplateLiteral(text)), line: 0))
        }
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theYipContentsValidateAgainstYipsSchema() throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good, "braces.yml": Self.braces], in: folder)
        let export = try CloudInitExport(files: paths, matchSelector: ["a=b"], name: "sriov", filename: nil)
        let check = try SchemaCheck.validate(
            try export.yipDocument(), against: SchemaCheck.schema("yip-config.schema.json"))
        #expect(check.stdout == "valid\n", "\(check.stderr)")
        let misspelled = try SchemaCheck.validate(
            "stages:\n  initramfs:\n    - files: [{path: /a, permission: 420}]\n",
            against: SchemaCheck.schema("yip-config.schema.json"))
        #expect(misspelled.status != 0, "the schema refuses a key yip would skip")
    }

    /// What Go's text/template makes of the content: every `{{` must be the literal action.
    @Test func noPolicyTextReachesTheContentsAsATemplateAction() throws {
        let folder = try TemporaryFolder()
        let paths = try files(["braces.yaml": Self.braces], in: folder)
        let export = try CloudInitExport(files: paths, matchSelector: ["a=b"], name: nil, filename: nil)
        guard case let .scalar(.string(contents), _)? = try fields(export)["spec.contents"],
            case let .mapping(top, _)? = try YAMLReader.documents(contents).first,
            case let .mapping(stages, _)? = top.last?.value, case let .sequence(steps, _)? = stages.first?.value,
            case let .mapping(step, _)? = steps.first, case let .sequence(entries, _)? = step.last?.value,
            case let .mapping(file, _)? = entries.first, case let .scalar(.string(content), _)? = file.last?.value
        else {
            Issue.record("no file content")
            return
        }
        let literal = #"{{"{{"}}"#
        var rest = Substring(content)
        var actions = 0
        while let open = rest.range(of: "{{") {
            #expect(rest[open.lowerBound...].hasPrefix(literal))
            rest = rest[rest.index(open.lowerBound, offsetBy: literal.count)...]
            actions += 1
        }
        #expect(actions == 3)
        #expect(content.replacingOccurrences(of: literal, with: "{{") == Self.braces)
    }

    @Test(arguments: Array(CloudInitExport.reservedFilenames).sorted())
    func reservedFileNamesAreRefused(_ filename: String) throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good], in: folder)
        #expect(
            throws: SRIOVError.usage(
                "--filename \(filename): that /oem file belongs to Harvester, Elemental or harvester-sriov; "
                    + "choose another name")
        ) {
            try CloudInitExport(files: paths, matchSelector: ["a=b"], name: nil, filename: filename)
        }
    }

    @Test func theReservedNamesIncludeNodeManagersAndOurs() {
        #expect(
            CloudInitExport.reservedFilenames.isSuperset(of: [
                "90_custom.yaml", "99_settings.yaml", "elemental.config", "grubenv", "harvester.config", "install",
                "91_harvester_sriov.yaml", "90_harvester_sriov_not_installed.yaml",
            ]))
    }

    @Test(arguments: ["sub/x.yaml", "../x.yaml", "x.yml", ".yaml", "x y.yaml", "x.json"])
    func aFilenameYipWouldNotReadIsRefused(_ filename: String) throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good], in: folder)
        #expect(
            throws: SRIOVError.usage(
                "--filename \(filename): must be a file name of letters, digits, '-', '_' and '.' "
                    + "ending in .yaml, which yip reads from /oem")
        ) {
            try CloudInitExport(files: paths, matchSelector: ["a=b"], name: nil, filename: filename)
        }
    }

    @Test(arguments: [
        (
            ["a b=1"],
            "--match-selector a b=1: the key name \"a b\" must be 1 to 63 letters, digits, '-', '_' or '.', "
                + "starting and ending with a letter or digit"
        ),
        (["zone"], "--match-selector zone: write it as key=value"),
        (
            ["zone=a b"],
            "--match-selector zone=a b: the value \"a b\" must be 1 to 63 letters, digits, '-', '_' or '.', "
                + "starting and ending with a letter or digit"
        ),
        (
            ["Example.com/zone=a"],
            "--match-selector Example.com/zone=a: the key prefix \"Example.com\" must be a DNS subdomain "
                + "(lowercase letters, digits, '-' and '.')"
        ),
        (["zone=a", "zone=b"], "--match-selector zone=b: zone is already a; a node has one value per label"),
        ([], "--match-selector is required: give the labels (key=value) of the nodes that get these policies"),
    ])
    func badSelectorsAreRefused(_ flags: [String], _ message: String) throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good], in: folder)
        #expect(throws: SRIOVError.usage(message)) {
            try CloudInitExport(files: paths, matchSelector: flags, name: nil, filename: nil)
        }
    }

    @Test(arguments: ["Sriov", "-a", "a_b", "a..b", String(repeating: "a", count: 254), ""])
    func aNameThatIsNoDNSSubdomainIsRefused(_ name: String) throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good], in: folder)
        #expect(
            throws: SRIOVError.usage(
                "--name \(name): must be a DNS subdomain (at most 253 lowercase letters, digits, '-' and '.', "
                    + "starting and ending with a letter or digit)")
        ) {
            try CloudInitExport(files: paths, matchSelector: ["a=b"], name: name, filename: nil)
        }
    }

    @Test func derivedNamesAreDNSSubdomains() throws {
        #expect(CloudInitExport.derivedName(["X710_Port0", "b.c"]) == "harvester-sriov-x710-port0-b-c")
        let long = CloudInitExport.derivedName([String(repeating: "a", count: 300)])
        #expect(try CloudInitExport.checkedName(long) == long)
        #expect(CloudInitExport.dropInName("/tmp/my policy.yml") == "my-policy.yaml")
    }

    @Test func twoFilesWithOneDropInNameAreRefused() throws {
        let folder = try TemporaryFolder()
        try folder.write("a/x.yaml", Self.good)
        try folder.write("b/x.yml", Self.braces)
        #expect(
            throws: SRIOVError.usage(
                "\(folder.path("a/x.yaml")) and \(folder.path("b/x.yml")) would both be "
                    + "usr/local/etc/harvester-sriov/policies.d/x.yaml; rename one")
        ) {
            try CloudInitExport(
                files: [folder.path("a/x.yaml"), folder.path("b/x.yml")], matchSelector: ["a=b"], name: nil,
                filename: nil)
        }
    }

    @Test func anInvalidPolicyExits65AndPrintsNothing() throws {
        let folder = try TemporaryFolder()
        let paths = try files(
            [
                "bad.yaml": PolicyManifest.policy("a", #"{resourceName: r, numVfs: -2, nicSelector: {vendor: "8086"}}"#)
            ], in: folder)
        let result = try Umockdev.runBinary(["export", "cloudinit"] + paths + ["--match-selector", "a=b"])
        #expect(result.status == 65)
        #expect(result.stdout == "")
        let lines = result.stderr.split(separator: "\n").map { $0.replacingOccurrences(of: folder.path(""), with: "") }
        #expect(
            lines == [
                #"bad.yaml:4: policy "a": spec.numVfs: must be at least 0, found -2"#,
                "harvester-sriov: 1 problem; nothing was written",
            ])
    }

    @Test func aReservedNameExits64AndPrintsNothing() throws {
        let folder = try TemporaryFolder()
        let paths = try files(["x710.yaml": Self.good], in: folder)
        let result = try Umockdev.runBinary(
            ["export", "cloudinit"] + paths + ["--match-selector", "a=b", "--filename", "90_custom.yaml"])
        #expect(result.status == 64)
        #expect(result.stdout == "")
        #expect(
            result.stderr
                == "harvester-sriov: --filename 90_custom.yaml: that /oem file belongs to Harvester, Elemental or "
                + "harvester-sriov; choose another name\n")
    }
}

/// libyaml's emitter, as export uses it: every string reads back as the same string.
@Suite struct YAMLEmitterTests {
    @Test(arguments: [
        "plain", "true", "no", "420", "0o644", "0x1f", "1e3", "null", "~", "", "- a", "a: b", "# c", "'q'", "\"d\"",
        "line\n", "two\nlines\n", "no final break\nhere", "  indented\n", "trailing space \n", "tab\there\n",
        "x\n\n\n", "é ü 日本\n", "bell\u{7}\n", "---\n", "{{ .X }}\n", "%TAG\n",
    ])
    func everyStringReadsBackAsItself(_ text: String) throws {
        for literal in [false, true] {
            let yaml = try YAMLEmitter.document(.mapping([YAMLPair("k", .string(text, literal: literal))]))
            #expect(
                try YAMLReader.documents(yaml) == [
                    .mapping([(key: "k", value: .scalar(.string(text), line: 0))], line: 0)
                ],
                "\(yaml)")
        }
    }

    @Test func numbersBooleansAndNestingKeepTheirTypes() throws {
        let yaml = try YAMLEmitter.document(
            .mapping([
                YAMLPair("number", .integer(420)), YAMLPair("b", .boolean(true)),
                YAMLPair("s", .sequence([.string("a"), .mapping([YAMLPair("x", .integer(-1))])])),
            ]))
        #expect(yaml == "number: 420\nb: true\ns:\n- a\n- x: -1\n")
    }

    @Test func aMultiLineStringIsALiteralBlock() throws {
        let yaml = try YAMLEmitter.document(.mapping([YAMLPair("k", .string("a\nb\n", literal: true))]))
        #expect(yaml == "k: |\n  a\n  b\n")
    }
}
