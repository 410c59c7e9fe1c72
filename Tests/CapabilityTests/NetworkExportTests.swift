import Foundation
import Testbed
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// `export network`: SriovNetworks become the NetworkAttachmentDefinitions the operator renders.
@Suite struct NetworkExportTests {
    static let attachmentSchema = SchemaCheck.schema("k8s.cni.cncf.io_network-attachment-definitions.yaml")
    static let networkSchema = SchemaCheck.schema("sriovnetwork.openshift.io_sriovnetworks.yaml")
    static let example = PolicyCommandTests.repository.appendingPathComponent("examples/networks/sriov-networks.yaml")
        .path

    /// A SriovNetwork manifest with `spec` as a flow map, ending in `---` so that documents concatenate.
    static func network(_ name: String, _ spec: String, namespace: String? = nil) -> String {
        let metadata = namespace.map { "{name: \(name), namespace: \($0)}" } ?? "{name: \(name)}"
        return
            "apiVersion: sriovnetwork.openshift.io/v1\nkind: SriovNetwork\nmetadata: \(metadata)\nspec: \(spec)\n---\n"
    }

    /// Every field set, in block style, the JSON ones spread over lines.
    static let everyField = """
        apiVersion: sriovnetwork.openshift.io/v1
        kind: SriovNetwork
        metadata:
          name: all-fields
          namespace: sriov-network-operator
          labels: {team: net}
          annotations: {note: "any text"}
        spec:
          resourceName: intel_x710_netdevice
          networkNamespace: tenant-a
          vlan: 4094
          vlanQoS: 7
          vlanProto: 802.1AD
          spoofChk: "off"
          trust: "on"
          linkState: disable
          minTxRate: 100
          maxTxRate: 1000
          capabilities: '{ "mac": true, "ips": true }'
          ipam: |
            {
              "type": "host-local",
              "subnet": "10.56.217.0/24",
              "routes": [ { "dst": "0.0.0.0/0" } ],
              "gateway": "10.56.217.1"
            }
          metaPlugins: |
            { "type": "tuning", "sysctl": { "net.ipv4.conf.IFNAME.accept_redirects": "0" } },
            { "type": "sbr" }
          logLevel: debug
          logFile: /var/log/sriov-cni.log

        """

    /// A target root whose stored policies are the examples, resolved against `Fixtures.server`.
    struct Node {
        let folder: TemporaryFolder
        let root: String
        let testbed: Testbed

        init(policies: [String] = PolicyCommandTests.examples) throws {
            folder = try TemporaryFolder()
            root = try folder.folder("target")
            testbed = try Testbed(Fixtures.server)
            let apply = try Umockdev.run(["policy", "apply", "--root", root] + policies, in: testbed.root)
            #expect(apply.status == 0, "\(apply.stderr)")
        }

        func export(_ arguments: [String], stdout: String? = nil) throws -> Program.Result {
            try Umockdev.run(["export", "network", "--root", root] + arguments, in: testbed.root, stdout: stdout)
        }

        /// Writes `text` as `name` in the node's folder and returns its path.
        func file(_ name: String, _ text: String) throws -> String {
            try folder.write(name, text)
            return folder.path(name)
        }
    }

    // MARK: the command, good input

    @Test func theExampleNetworksBecomeTheOperatorsAttachments() throws {
        let node = try Node()
        let result = try node.export([Self.example])
        #expect(result.stderr == "")
        #expect(result.status == 0)
        #expect(
            result.stdout == """
                apiVersion: k8s.cni.cncf.io/v1
                kind: NetworkAttachmentDefinition
                metadata:
                  name: x710-vlan100
                  namespace: default
                  annotations:
                    k8s.v1.cni.cncf.io/resourceName: harvester-sriov.io/intel_x710_netdevice
                spec:
                  config: '{"cniVersion":"1.0.0","name":"x710-vlan100","type":"sriov","vlan":100,"spoofchk":"on",\
                "trust":"off","vlanQoS":0,"max_tx_rate":10000,"capabilities":{"mac":true,"ips":true},\
                "link_state":"auto","logLevel":"info","ipam":{"type":"whereabouts","range":"192.168.100.0/24"}}'
                ---
                apiVersion: k8s.cni.cncf.io/v1
                kind: NetworkAttachmentDefinition
                metadata:
                  name: vm-vlan200
                  namespace: default
                  annotations:
                    k8s.v1.cni.cncf.io/resourceName: harvester-sriov.io/split_vfio
                spec:
                  config: '{"cniVersion":"1.0.0","name":"vm-vlan200","type":"sriov","vlan":200,"spoofchk":"off",\
                "trust":"on","vlanQoS":5,"logLevel":"info","ipam":{}}'

                """)
    }

    @Test func theResourcePrefixIsTheOneGiven() throws {
        let node = try Node()
        let result = try node.export([Self.example, "--resource-prefix", "example.com"])
        #expect(result.status == 0)
        #expect(
            result.stdout.components(separatedBy: "\n").filter { $0.contains("resourceName") } == [
                "    k8s.v1.cni.cncf.io/resourceName: example.com/intel_x710_netdevice",
                "    k8s.v1.cni.cncf.io/resourceName: example.com/split_vfio",
            ])
    }

    @Test(.enabled(if: SchemaCheck.available))
    func everyAttachmentValidatesAgainstTheNetworkAttachmentDefinitionCRD() throws {
        let node = try Node()
        let input = try node.file(
            "all.yaml", Self.everyField + "---\n" + (try String(contentsOfFile: Self.example, encoding: .utf8)))
        let result = try node.export([input])
        #expect(result.status == 0)
        let documents = result.stdout.components(separatedBy: "---\n")
        #expect(documents.count == 3)
        for document in documents {
            let check = try SchemaCheck.validate(document, against: Self.attachmentSchema)
            #expect(check.stderr == "")
            #expect(check.stdout == "valid\n")
            #expect(check.status == 0)
        }
    }

    @Test(.enabled(if: SchemaCheck.available))
    func theValidatorRefusesAnAttachmentWhoseConfigIsNotAString() throws {
        let check = try SchemaCheck.validate(
            "apiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata: {name: a}\n"
                + "spec: {config: {type: sriov}}\n",
            against: Self.attachmentSchema)
        #expect(check.status != 0)
        #expect(check.stderr.contains("is not of type 'string'"))
    }

    /// The inputs the tests call good are good to the operator's CRD too.
    @Test(.enabled(if: SchemaCheck.available))
    func theGoodInputsValidateAgainstTheSriovNetworkCRD() throws {
        let example = try String(contentsOfFile: Self.example, encoding: .utf8)
        for document in [Self.everyField] + example.components(separatedBy: "---\n") {
            let check = try SchemaCheck.validate(document, against: Self.networkSchema)
            #expect(check.stderr == "")
            #expect(check.stdout == "valid\n")
        }
    }

    // MARK: the CNI config

    /// The config as sriov-cni and Multus read it: JSON, with sriov-cni's names and types.
    @Test func theConfigIsJSONWithSriovCNIsFieldsAndTypes() throws {
        let decoded = SriovNetworkDecoder.decode(Self.everyField, file: "all.yaml")
        #expect(decoded.problems == [])
        let network = try #require(decoded.networks.first)
        let config = NetworkAttachment.cniConfig(network)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        #expect(json["cniVersion"] as? String == "1.0.0")
        #expect(json["name"] as? String == "all-fields")
        #expect(json["type"] == nil, "with metaPlugins, the config is a plugin list")
        let plugins = try #require(json["plugins"] as? [[String: Any]])
        #expect(plugins.map { $0["type"] as? String } == ["sriov", "tuning", "sbr"])
        let sriov = plugins[0]
        #expect(sriov["vlan"] as? Int == 4094)
        #expect(sriov["vlanQoS"] as? Int == 7)
        #expect(sriov["vlanProto"] as? String == "802.1AD")
        #expect(sriov["spoofchk"] as? String == "off")
        #expect(sriov["trust"] as? String == "on")
        #expect(sriov["link_state"] as? String == "disable")
        #expect(sriov["min_tx_rate"] as? Int == 100)
        #expect(sriov["max_tx_rate"] as? Int == 1000)
        #expect(sriov["capabilities"] as? [String: Bool] == ["mac": true, "ips": true])
        #expect(sriov["logLevel"] as? String == "debug")
        #expect(sriov["logFile"] as? String == "/var/log/sriov-cni.log")
        let ipam = try #require(sriov["ipam"] as? [String: Any])
        #expect(ipam["type"] as? String == "host-local")
        #expect(ipam["gateway"] as? String == "10.56.217.1")
        #expect(Set(sriov.keys).count == 13)
        // The template's order, no whitespace.
        #expect(
            config
                == #"{"cniVersion":"1.0.0","name":"all-fields","plugins":[{"type":"sriov","vlan":4094,"#
                + #""spoofchk":"off","trust":"on","vlanQoS":7,"vlanProto":"802.1AD","min_tx_rate":100,"#
                + #""max_tx_rate":1000,"capabilities":{"mac":true,"ips":true},"link_state":"disable","#
                + #""logLevel":"debug","logFile":"/var/log/sriov-cni.log","ipam":{"type":"host-local","#
                + #""subnet":"10.56.217.0/24","routes":[{"dst":"0.0.0.0/0"}],"gateway":"10.56.217.1"}},"#
                + #"{"type":"tuning","sysctl":{"net.ipv4.conf.IFNAME.accept_redirects":"0"}},{"type":"sbr"}]}"#
        )
    }

    @Test func onlyAResourceNameGivesTheOperatorsDefaults() throws {
        let decoded = SriovNetworkDecoder.decode(Self.network("bare", "{resourceName: r}"), file: "bare.yaml")
        let network = try #require(decoded.networks.first)
        #expect(
            NetworkAttachment.cniConfig(network)
                == #"{"cniVersion":"1.0.0","name":"bare","type":"sriov","vlan":0,"vlanQoS":0,"#
                + #""logLevel":"info","ipam":{}}"#
        )
    }

    /// An empty string is "not set" in the operator's template; logLevel "" also drops the CRD's default.
    @Test func emptyStringsAreUnset() throws {
        let spec =
            #"{resourceName: r, ipam: "", capabilities: "", metaPlugins: "", logLevel: "", logFile: "", "#
            + #"networkNamespace: ""}"#
        let decoded = SriovNetworkDecoder.decode(Self.network("empty", spec), file: "empty.yaml")
        #expect(decoded.problems == [])
        let network = try #require(decoded.networks.first)
        #expect(network.targetNamespace == nil)
        #expect(
            NetworkAttachment.cniConfig(network)
                == #"{"cniVersion":"1.0.0","name":"empty","type":"sriov","vlan":0,"vlanQoS":0,"ipam":{}}"#)
    }

    /// A quote or backslash in a name or file is escaped, not pasted as the operator's template does.
    @Test func stringsAreEscapedInTheConfig() throws {
        let decoded = SriovNetworkDecoder.decode(
            Self.network("q", #"{resourceName: r, logFile: "/tmp/a\"b\\c"}"#), file: "q.yaml")
        let network = try #require(decoded.networks.first)
        let config = NetworkAttachment.cniConfig(network)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        #expect(json["logFile"] as? String == #"/tmp/a"b\c"#)
    }

    // MARK: reading

    @Test func aListAndSeveralDocumentsAreAllRead() throws {
        let text =
            Self.network("one", "{resourceName: a}") + "---\n"
                + """
                apiVersion: v1
                kind: List
                items:
                  - {apiVersion: sriovnetwork.openshift.io/v1, kind: SriovNetwork, metadata: {name: two},
                     spec: {resourceName: b}}
                  - {apiVersion: sriovnetwork.openshift.io/v1, kind: SriovNetwork, metadata: {name: three},
                     spec: {resourceName: c}}
                ---
                """ + "\n" + Self.network("four", "{resourceName: d}")
        let decoded = SriovNetworkDecoder.decode(text, file: "n.yaml")
        #expect(decoded.problems == [])
        #expect(decoded.networks.map(\.name) == ["one", "two", "three", "four"])
        #expect(decoded.networks.map(\.spec.resourceName) == ["a", "b", "c", "d"])
        #expect(decoded.networks.map(\.line) == [1, 10, 12, 15])
    }

    /// networkNamespace wins, then the SriovNetwork's own; with neither, kubectl's namespace.
    @Test(
        arguments: [
            ("{resourceName: r, networkNamespace: vms}", "sriov-network-operator", "vms"),
            ("{resourceName: r}", "tenant", "tenant"),
            ("{resourceName: r}", nil, nil),
        ] as [(String, String?, String?)])
    func theNamespaceIsTheOperators(_ spec: String, _ namespace: String?, _ expected: String?) throws {
        let decoded = SriovNetworkDecoder.decode(Self.network("net", spec, namespace: namespace), file: "n.yaml")
        let network = try #require(decoded.networks.first)
        #expect(network.targetNamespace == expected)
        let yaml = try NetworkAttachment.yaml([network], prefix: ResourcePrefix.standard)
        #expect(yaml.contains("  namespace: ") == (expected != nil))
        if let expected { #expect(yaml.contains("  namespace: \(expected)\n")) }
    }

    // MARK: bad input

    /// Each bad field, the one line it gives, and whether the operator's CRD refuses it as well
    /// (false: a rule of sriov-cni, the kernel or JSON that the operator lets through).
    static let badSpecs: [(spec: String, message: String, crdRefuses: Bool)] = [
        ("{resourceName: r, vlan: 4095}", "spec.vlan: must be 0 to 4094 (a VLAN ID), found 4095", true),
        ("{resourceName: r, vlan: -1}", "spec.vlan: must be 0 to 4094 (a VLAN ID), found -1", true),
        (
            "{resourceName: r, vlan: 5, vlanQoS: 8}", "spec.vlanQoS: must be 0 to 7 (a VLAN priority (PCP)), found 8",
            true
        ),
        (
            "{resourceName: r, vlan: 5, vlanProto: 802.1x}",
            #"spec.vlanProto: must be one of "802.1q", "802.1Q", "802.1ad", "802.1AD", found "802.1x""#, true
        ),
        (
            "{resourceName: r, spoofChk: on}",
            "spec.spoofChk: must be a string, found the boolean true; quote it", true
        ),
        ("{resourceName: r, trust: yes}", "spec.trust: must be a string, found the boolean true; quote it", true),
        (
            #"{resourceName: r, trust: "enabled"}"#, #"spec.trust: must be one of "on", "off", found "enabled""#,
            true
        ),
        (
            "{resourceName: r, linkState: up}",
            #"spec.linkState: must be one of "auto", "enable", "disable", found "up""#, true
        ),
        (
            "{resourceName: r, minTxRate: -1}", "spec.minTxRate: must be 0 to 4294967295 (Mbps), found -1", true
        ),
        (
            "{resourceName: r, logLevel: trace}",
            #"spec.logLevel: must be one of "panic", "error", "warning", "info", "debug", found "trace""#, true
        ),
        ("{resourceName: r, vlan: \"100\"}", #"spec.vlan: must be an integer, found the string "100""#, true),
        (
            "{resourceName: r, mtu: 9000}",
            "spec.mtu: unknown field; a SriovNetwork spec has resourceName, networkNamespace, capabilities, ipam, "
                + "vlan, vlanQoS, vlanProto, spoofChk, trust, linkState, minTxRate, maxTxRate, metaPlugins, "
                + "logLevel, logFile", true
        ),
        ("{vlan: 1}", "spec.resourceName: is missing; name the policies' resource whose VFs this network uses", true),
        ("{resourceName: r, vlanQoS: 3}", "spec.vlanQoS: needs a VLAN: set spec.vlan (1-4094) or vlanQoS 0", false),
        (
            "{resourceName: r, vlanProto: 802.1ad}", "spec.vlanProto: 802.1ad needs a VLAN: set spec.vlan (1-4094)",
            false
        ),
        (
            "{resourceName: r, minTxRate: 200, maxTxRate: 100}",
            "spec.minTxRate: 200 Mbps is above maxTxRate 100 Mbps; lower it, or raise maxTxRate", false
        ),
        (
            "{resourceName: r.1}",
            #"spec.resourceName: "r.1" "# + PolicyDecoderTests.resourceNameRule, false
        ),
        (
            #"{resourceName: r, ipam: '{"type": "host-local",}'}"#,
            #"spec.ipam: not valid JSON at character 23: expected a quoted key, found '}'; "#
                + #"write a JSON object in a YAML string, e.g. '{"type": "whereabouts", "range": "..."}'"#, false
        ),
        (
            #"{resourceName: r, capabilities: '["mac"]'}"#,
            #"spec.capabilities: not valid JSON at character 1: expected '{' (a JSON object), found '['; "#
                + #"write a JSON object in a YAML string, e.g. '{"mac": true, "ips": true}'"#, false
        ),
        (
            #"{resourceName: r, metaPlugins: '{"type": "tuning"} {"type": "sbr"}'}"#,
            "spec.metaPlugins: not valid JSON at character 20: unexpected '{' after the end; "
                + "write the chained plugins' configs as JSON objects separated by commas", false
        ),
        (
            // Issue 19: Go's encoding/json cannot decode it into a float64: Multus and sriov-cni would fail at attach.
            #"{resourceName: r, ipam: '{"type": "host-local", "x": 1e999999}'}"#,
            "spec.ipam: at character 29: the number 1e999999 is beyond a float64, which Go's "
                + "encoding/json (Multus, sriov-cni) refuses; "
                + #"write a JSON object in a YAML string, e.g. '{"type": "whereabouts", "range": "..."}'"#, false
        ),
        (
            // libcni reads capabilities as map[string]bool.
            #"{resourceName: r, capabilities: '{"mac": "yes"}'}"#,
            #"spec.capabilities: at character 9: each value must be true or false, found '"'; "#
                + #"write a JSON object in a YAML string, e.g. '{"mac": true, "ips": true}'"#, false
        ),
        (
            "{resourceName: r, networkNamespace: Tenant_A}",
            #"spec.networkNamespace: "Tenant_A" is not a valid namespace: use at most 63 lowercase letters, "#
                + "digits and '-', starting and ending with a letter or digit", false
        ),
    ]

    @Test(arguments: badSpecs)
    func aBadFieldIsOneLineNamingFileNetworkAndField(_ bad: (spec: String, message: String, crdRefuses: Bool)) {
        let decoded = SriovNetworkDecoder.decode(Self.network("bad", bad.spec), file: "bad.yaml")
        #expect(decoded.networks == [])
        #expect(decoded.problems.map(\.description) == [#"bad.yaml:4: network "bad": "# + bad.message])
    }

    @Test func everyProblemOfOneNetworkIsListed() {
        let decoded = SriovNetworkDecoder.decode(
            Self.network("bad", #"{vlan: 9999, trust: maybe, ipam: "{"}"#), file: "bad.yaml")
        #expect(
            decoded.problems.map(\.description) == [
                #"bad.yaml:4: network "bad": spec.resourceName: is missing; "#
                    + "name the policies' resource whose VFs this network uses",
                #"bad.yaml:4: network "bad": spec.vlan: must be 0 to 4094 (a VLAN ID), found 9999"#,
                #"bad.yaml:4: network "bad": spec.trust: must be one of "on", "off", found "maybe""#,
                #"bad.yaml:4: network "bad": spec.ipam: not valid JSON at character 2: expected a quoted key, "#
                    + #"found end of text; write a JSON object in a YAML string, "#
                    + #"e.g. '{"type": "whereabouts", "range": "..."}'"#,
            ])
    }

    /// The decoder refuses at least what the operator's CRD refuses.
    @Test(.enabled(if: SchemaCheck.available), arguments: badSpecs.filter(\.crdRefuses))
    func theCRDRefusesTheSameValues(_ bad: (spec: String, message: String, crdRefuses: Bool)) throws {
        let check = try SchemaCheck.validate(Self.network("bad", bad.spec), against: Self.networkSchema)
        #expect(check.status != 0, "\(bad.spec)")
        #expect(check.stdout == "")
    }

    @Test func theObjectItselfIsChecked() {
        let text = """
            apiVersion: sriovnetwork.openshift.io/v1beta1
            kind: SriovNetworkNodePolicy
            metadata: {name: Net_1, generation: 2, owner: me}
            spec: {resourceName: r}
            extra: 1
            ---
            - a list
            ---
            kind: SriovNetwork
            metadata: {namespace: x}
            """
        let decoded = SriovNetworkDecoder.decode(text, file: "n.yaml")
        #expect(decoded.networks == [])
        #expect(
            decoded.problems.map(\.description) == [
                "n.yaml:3: metadata.name: " + #""Net_1" is not a valid name: use lowercase letters, digits, '-' "#
                    + "and '.', starting and ending with a letter or digit, at most 253 characters",
                "n.yaml:3: metadata.owner: unknown field; metadata is a Kubernetes ObjectMeta",
                "n.yaml:5: extra: unknown field; a SriovNetwork has apiVersion, kind, metadata and spec",
                #"n.yaml:1: apiVersion: must be "sriovnetwork.openshift.io/v1", found the string "#
                    + #""sriovnetwork.openshift.io/v1beta1""#,
                #"n.yaml:2: kind: must be "SriovNetwork" (or a List of them), found the string "#
                    + #""SriovNetworkNodePolicy""#,
                "n.yaml:7: expected a Kubernetes object (a map with apiVersion and kind), found a list",
                "n.yaml:10: metadata.name: is missing; every network needs a name",
                "n.yaml:9: apiVersion: is missing; set apiVersion: sriovnetwork.openshift.io/v1",
                "n.yaml:9: spec: is missing; a network needs at least spec.resourceName",
            ])
    }

    @Test func aFileWithoutNetworksIsAProblem() {
        #expect(
            SriovNetworkDecoder.decode("# nothing\n", file: "e.yaml").problems.map(\.description) == [
                "e.yaml: holds no SriovNetwork"
            ])
        #expect(
            SriovNetworkDecoder.decode("a: [", file: "y.yaml").problems.map(\.description) == [
                "y.yaml:2: not valid YAML: did not find expected node content while parsing a flow node"
            ])
    }

    @Test func badInputExits65WithEveryProblemAndPrintsNothing() throws {
        let node = try Node()
        let bad = try node.file(
            "bad.yaml",
            Self.network("a", "{resourceName: intel_x710_netdevice, vlan: 5000}")
                + Self.network("b", "{resourceName: split_vfio, linkState: up}"))
        let twice = try node.file(
            "twice.yaml", Self.network("x710-vlan100", "{resourceName: split_vfio}", namespace: "default"))
        let result = try node.export([bad, Self.example, twice, node.folder.path("missing.yaml")])
        #expect(result.status == 65)
        #expect(result.stdout == "")
        let path = node.folder.path("")
        #expect(
            result.stderr.replacingOccurrences(of: path, with: "") == """
                bad.yaml:4: network "a": spec.vlan: must be 0 to 4094 (a VLAN ID), found 5000
                bad.yaml:9: network "b": spec.linkState: must be one of "auto", "enable", "disable", found "up"
                twice.yaml:1: network "x710-vlan100": metadata.name: is defined twice for one namespace (also at \
                \(Self.example):5); rename one or set another networkNamespace
                missing.yaml: cannot read: No such file or directory (ENOENT)
                harvester-sriov: 4 problems; nothing was written

                """)
    }

    // MARK: against this node's plan

    @Test func aResourceNoPolicyProvidesHereIsAProblemWithTheResourcesThatAre() throws {
        let node = try Node()
        let input = try node.file("n.yaml", Self.network("mlx", "{resourceName: mlx_vfs}"))
        let result = try node.export([input])
        #expect(result.status == 65)
        #expect(result.stdout == "")
        #expect(
            result.stderr == """
                \(input):4: network "mlx": spec.resourceName: no policy gives this node VFs of "mlx_vfs"; the \
                resources here: intel_e810_vfio, intel_x710_netdevice, split_netdevice, split_vfio \
                (harvester-sriov plan)
                harvester-sriov: 1 problem; nothing was written

                """)
    }

    @Test func aPolicyThatNamesTheResourceButMatchesNothingIsNamed() throws {
        let node = try Node()
        let elsewhere = try node.file(
            "rack.yaml",
            PolicyManifest.policy(
                "rack-b",
                #"{resourceName: rack_vfs, numVfs: 2, nodeSelector: {rack: b}, nicSelector: {pfNames: [ens801f0]}}"#))
        let apply = try Umockdev.run(["policy", "apply", "--root", node.root, elsewhere], in: node.testbed.root)
        #expect(apply.status == 0)
        let input = try node.file("n.yaml", Self.network("rack", "{resourceName: rack_vfs}"))
        let result = try node.export([input])
        #expect(result.status == 65)
        let expected: String =
            #"\#(input):4: network "rack": spec.resourceName: no policy gives this node VFs of "rack_vfs" "#
            + #"(policy "rack-b" names it, but nodeSelector rack=b does not match this node: it has no label rack "#
            + "(--node-label rack=b gives it one)); "
            + "the resources here: intel_e810_vfio, intel_x710_netdevice, split_netdevice, split_vfio "
            + "(harvester-sriov plan)"
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == expected)
    }

    @Test func aNodeWithoutPoliciesSaysToApplyThemFirst() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("target")
        let testbed = try Testbed(Fixtures.server)
        let result = try Umockdev.run(["export", "network", "--root", root, Self.example], in: testbed.root)
        #expect(result.status == 65)
        #expect(result.stdout == "")
        let expected: String =
            #"\#(Self.example):10: network "x710-vlan100": spec.resourceName: no policy gives this node VFs "#
            + #"of "intel_x710_netdevice"; this node's plan has no VFs at all: apply policies first "#
            + "(harvester-sriov policy apply)"
        #expect(result.stderr.split(separator: "\n").first.map(String.init) == expected)
    }

    // MARK: faults

    @Test(arguments: ["Example.com", "kubernetes.io", "node.kubernetes.io"])
    func aBadPrefixIsAUsageErrorBeforeAnyFileIsRead(_ prefix: String) throws {
        let result = try Umockdev.runBinary(["export", "network", "/nonexistent.yaml", "--resource-prefix", prefix])
        #expect(result.status == 64)
        #expect(result.stdout == "")
        #expect(result.stderr == "harvester-sriov: \(ResourcePrefix.problem(prefix) ?? "")\n")
        #expect(ResourcePrefix.problem(prefix) != nil)
    }

    @Test func aMissingRootIsAUsageErrorBeforeAnyFileIsRead() throws {
        let result = try Umockdev.runBinary(["export", "network", "/nonexistent.yaml", "--root", "/nonexistent"])
        #expect(result.status == 64)
        #expect(result.stdout == "")
        #expect(
            result.stderr == "harvester-sriov: --root /nonexistent: No such file or directory (ENOENT); "
                + "mount the target system first or pass the right path\n")
    }

    @Test func aFullStandardOutputIsExit74() throws {
        let node = try Node()
        let result = try node.export([Self.example], stdout: "/dev/full")
        #expect(result.status == 74)
        #expect(result.stderr == OutputErrorTests.failure)
    }

    @Test func aLinkAtTheStateFileIsRefused() throws {
        let folder = try TemporaryFolder()
        let root = try folder.folder("root")
        try folder.write("outside/state.json", "{}\n")
        _ = try folder.folder("root/etc/harvester-sriov")
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc/harvester-sriov/state.json"),
            withDestinationPath: folder.path("outside/state.json"))
        let testbed = try Testbed(Fixtures.server)
        let result = try Umockdev.run(
            ["export", "network", "--root", root, "--layout", "fhs", Self.example], in: testbed.root)
        #expect(result.status == 77)
        #expect(result.stdout == "")
        #expect(
            result.stderr == "harvester-sriov: refusing to read \(root)/etc/harvester-sriov/state.json: "
                + "it is a symbolic link; remove it first\n")
    }
}

/// The JSON inside a SriovNetwork's strings.
@Suite struct JSONTextTests {
    @Test(arguments: [
        (
            #" { "a" : [ 1, -2.5e+3, true, false, null, "x y\n\u00e9" ], "b" : { } } "#,
            #"{"a":[1,-2.5e+3,true,false,null,"x y\n\u00e9"],"b":{}}"#
        ),
        ("{}", "{}"),
        (#"{"é": "ü"}"#, #"{"é":"ü"}"#),
    ])
    func anObjectIsCompactedAsWritten(_ text: String, _ compacted: String) throws {
        #expect(try JSONText.object(text) == compacted)
    }

    @Test func objectsSeparatedByCommasAreAList() throws {
        #expect(try JSONText.objectList(" {\"a\": 1} ,\n{\"b\": [2]} ") == [#"{"a":1}"#, #"{"b":[2]}"#])
    }

    @Test(arguments: [
        ("", "not valid JSON at character 1: expected '{' (a JSON object), found end of text"),
        (#"{"a": 01}"#, "not valid JSON at character 8: expected ',' or '}' in an object, found '1'"),
        (#"{"a": 1"#, "not valid JSON at character 8: expected ',' or '}' in an object, found end of text"),
        (#"{"a": "b}"#, "not valid JSON at character 10: the string does not end"),
        (#"{"a": "\x"}"#, #"not valid JSON at character 9: \'x' is not a JSON escape"#),
        ("{\"a\": \"\t\"}", "not valid JSON at character 8: a control character (byte 9) in a string must be escaped"),
        (#"{"a": tru}"#, "not valid JSON at character 10: expected true, found '}'"),
        (#"{"a": 1.}"#, "not valid JSON at character 9: expected a digit, found '}'"),
        (#"{a: 1}"#, "not valid JSON at character 2: expected a quoted key, found 'a'"),
        (#"{"a": 1} x"#, "not valid JSON at character 10: unexpected 'x' after the end"),
    ])
    func badJSONSaysWhereAndWhat(_ text: String, _ message: String) {
        #expect(throws: JSONText.Failure(message: message)) { try JSONText.object(text) }
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = "{\"a\":" + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(throws: JSONText.Failure(message: "not valid JSON at character 69: nested deeper than 64 levels")) {
            try JSONText.object(deep)
        }
    }
}
