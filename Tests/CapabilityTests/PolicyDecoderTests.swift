import Capability
import SRIOVHost
import SRIOVModel
import Testing

/// Every invalid input produces exactly the message a user sees.
@Suite struct PolicyDecoderTests {
    /// Policy "p1" (or `name`) in block layout, whose line numbers the messages below name.
    static func manifest(_ spec: String, name: String = "p1") -> String {
        PolicyManifest.policy(name, spec, layout: .block)
    }

    static let resourceNameRule =
        "is not a valid resource name: use 1 to 63 letters, digits, '-' and '_', "
        + "starting and ending with a letter or digit "
        + "(the operator's webhook: ^[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$, at most 63 characters)"
    static let labelRule =
        "must be 1 to 63 letters, digits, '-', '_' or '.', "
        + "starting and ending with a letter or digit"
    static let tagsRead = "(only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are read)"
    static let specFields =
        "unknown field; see the SriovNetworkNodePolicy spec "
        + "(resourceName, nodeSelector, priority, mtu, numVfs, nicSelector, deviceType, isRdma, linkType, "
        + "eSwitchMode, needVhostNet, excludeTopology, externallyManaged)"
    static let tooDeep = "not valid YAML: nested deeper than 64 levels"

    static let valid = """
        resourceName: intel_sriov
        numVfs: 4
        nicSelector:
          vendor: "8086"
        """

    struct Case: CustomTestStringConvertible, Sendable {
        let label: String
        let text: String
        let messages: [String]
        var testDescription: String { label }

        /// A case whose spec is `valid` with one line replaced or added.
        init(_ label: String, spec: String, _ messages: String...) {
            self.label = label
            text = PolicyDecoderTests.manifest(spec)
            self.messages = messages
        }

        init(_ label: String, text: String, _ messages: String...) {
            self.label = label
            self.text = text
            self.messages = messages
        }
    }

    static let invalid: [Case] = [
        Case(
            "negative numVfs", spec: "resourceName: r\nnumVfs: -1\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:7: policy "p1": spec.numVfs: must be at least 0, found -1"#),
        Case(
            "zero numVfs", spec: "resourceName: r\nnumVfs: 0\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:7: policy "p1": spec.numVfs: 0 VFs is not allowed (the operator's webhook refuses it too); to remove VFs, remove the policy with `harvester-sriov policy remove p1`"#
        ),
        Case(
            "quoted numVfs", spec: "resourceName: r\nnumVfs: \"4\"\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:7: policy "p1": spec.numVfs: must be an integer, found the string "4""#),
        Case(
            "float numVfs", spec: "resourceName: r\nnumVfs: 4.5\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:7: policy "p1": spec.numVfs: must be an integer, found the number 4.5"#),
        Case(
            "priority above 99", spec: valid + "\npriority: 100",
            #"p.yaml:10: policy "p1": spec.priority: must be between 0 (highest) and 99 (lowest), found 100"#),
        Case(
            "negative priority", spec: valid + "\npriority: -1",
            #"p.yaml:10: policy "p1": spec.priority: must be between 0 (highest) and 99 (lowest), found -1"#),
        Case(
            "mtu zero", spec: valid + "\nmtu: 0",
            #"p.yaml:10: policy "p1": spec.mtu: must be at least 1, found 0"#),
        Case(
            "dot in resourceName", spec: "resourceName: intel.sriov\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:6: policy "p1": spec.resourceName: "intel.sriov" "# + resourceNameRule),
        Case(
            "resourceName starting with _", spec: "resourceName: _sriov\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:6: policy "p1": spec.resourceName: "_sriov" "# + resourceNameRule),
        Case(
            "resourceName ending with -", spec: "resourceName: sriov-\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:6: policy "p1": spec.resourceName: "sriov-" "# + resourceNameRule),
        Case(
            "resourceName of 64 characters",
            spec: "resourceName: \(String(repeating: "r", count: 64))\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:6: policy "p1": spec.resourceName: ""# + String(repeating: "r", count: 64) + #"" "#
                + resourceNameRule),
        Case(
            "missing nodeSelector",
            text: """
                apiVersion: sriovnetwork.openshift.io/v1
                kind: SriovNetworkNodePolicy
                metadata: {name: p1}
                spec: {resourceName: r, numVfs: 4, nicSelector: {vendor: "8086"}}
                """,
            #"p.yaml:4: policy "p1": spec.nodeSelector: is missing; the CRD requires it: "#
                + #"write nodeSelector: {} for every node, or e.g. network-sriov.capable: "true""#),
        Case(
            "null nodeSelector", spec: valid + "\nnodeSelector:",
            #"p.yaml:10: policy "p1": spec.nodeSelector: must be a map of label keys to values, found null"#),
        Case(
            "nodeSelector key not in label syntax", spec: valid + "\nnodeSelector: {\"bad key\": \"x\"}",
            #"p.yaml:10: policy "p1": spec.nodeSelector.bad key: the key name "bad key" "# + labelRule),
        Case(
            "nodeSelector value not in label syntax", spec: valid + "\nnodeSelector: {zone: \"a,b\"}",
            #"p.yaml:10: policy "p1": spec.nodeSelector.zone: the value "a,b" "# + labelRule),
        Case(
            "uppercase vendor", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  vendor: \"15B3\"",
            #"p.yaml:9: policy "p1": spec.nicSelector.vendor: write "15b3" as lspci -nn shows it; "#
                + #"the operator compares the text and "15B3" would match no PF"#),
        Case(
            "uppercase rootDevice",
            spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  rootDevices: [\"0000:3B:00.0\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.rootDevices[0]: write "0000:3b:00.0" as lspci -D shows it; "#
                + #"the operator compares the text and "0000:3B:00.0" would match no PF"#),
        Case(
            "name with an empty DNS label", text: manifest(valid, name: "a..b"),
            #"p.yaml:4: metadata.name: "a..b" is not a valid name: use lowercase letters, digits, '-' and '.', "#
                + "starting and ending with a letter or digit, at most 253 characters"),
        Case(
            "non-string annotation",
            text: manifest(valid).replacingFirst("  name: p1", with: "  name: p1\n  annotations: {example.com/x: 1}"),
            #"p.yaml:5: policy "p1": metadata.annotations.example.com/x: "#
                + "must be a string, found the number 1; quote it"),
        Case(
            "label not in label syntax",
            text: manifest(valid).replacingFirst("  name: p1", with: "  name: p1\n  labels: {team: \"-x\"}"),
            #"p.yaml:5: policy "p1": metadata.labels.team: the value "-x" "# + labelRule),
        Case(
            "missing resourceName", spec: "numVfs: 4\nnicSelector: {vendor: \"8086\"}",
            #"p.yaml:6: policy "p1": spec.resourceName: is missing; every policy needs the resource name its VFs are advertised as"#
        ),
        Case(
            "missing numVfs and nicSelector", spec: "resourceName: r",
            #"p.yaml:6: policy "p1": spec.numVfs: is missing; set how many VFs each selected PF gets"#,
            #"p.yaml:6: policy "p1": spec.nicSelector: is missing; select the PFs by vendor, deviceID, rootDevices or pfNames"#
        ),
        Case(
            "empty nicSelector", spec: "resourceName: r\nnumVfs: 4\nnicSelector: {}",
            #"p.yaml:8: policy "p1": spec.nicSelector: selects nothing; set at least one of vendor, deviceID, rootDevices or pfNames"#
        ),
        Case(
            "unquoted vendor", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  vendor: 8086",
            #"p.yaml:9: policy "p1": spec.nicSelector.vendor: must be a string, found the number 8086; quote it"#),
        Case(
            "five-digit vendor", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  vendor: \"80861\"",
            #"p.yaml:9: policy "p1": spec.nicSelector.vendor: must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found "80861""#
        ),
        Case(
            "non-hex deviceID", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  deviceID: xyz1",
            #"p.yaml:9: policy "p1": spec.nicSelector.deviceID: must be 4 hex digits as lspci -nn shows them, e.g. "1572"; found "xyz1""#
        ),
        Case(
            "short rootDevice", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  rootDevices: [\"3b:00.0\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.rootDevices[0]: "3b:00.0" is not a full PCI address; write it as lspci -D shows it, e.g. "0000:3b:00.0""#
        ),
        Case(
            "duplicate rootDevice",
            spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  rootDevices: [\"0000:3b:00.0\", \"0000:3b:00.0\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.rootDevices[1]: 0000:3b:00.0 is listed twice"#),
        Case(
            "two # in pfName", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0-3#4\"]",
            ##"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#0-3#4": use one "#" between the PF name and the VF range, e.g. "ens1f0#0-3""##
        ),
        Case(
            "range without dash", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0_3\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#0_3": the VF range must be "first-last", e.g. "ens1f0#0-3""#
        ),
        Case(
            "range start not a number", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#a-3\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#a-3": the range's first VF index is not a non-negative integer"#
        ),
        Case(
            "range end not a number", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0-b\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#0-b": the range's last VF index is not a non-negative integer"#
        ),
        Case(
            "range end before start", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#3-1\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#3-1": the range's last VF index is smaller than its first"#
        ),
        Case(
            "range past numVfs", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  pfNames: [\"eth1#0-4\"]",
            #"p.yaml:6: policy "p1": spec.nicSelector.pfNames: the VF range of "eth1#0-4" ends at index 4, but numVfs is 4, so the last VF index is 3"#
        ),
        Case(
            "range without PF name", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  pfNames: [\"#0-3\"]",
            ##"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "#0-3": the PF name is empty"##),
        Case(
            "pfName listed twice",
            spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0-1\", \"eth1#2-3\"]",
            #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[1]: PF eth1 is listed twice"#),
        Case(
            "unknown deviceType", spec: valid + "\ndeviceType: dpdk",
            #"p.yaml:10: policy "p1": spec.deviceType: must be "netdevice" or "vfio-pci", found "dpdk""#),
        Case(
            "vfio-pci with RDMA", spec: valid + "\ndeviceType: vfio-pci\nisRdma: true",
            #"p.yaml:6: policy "p1": spec.deviceType: 'deviceType: vfio-pci' conflicts with 'isRdma: true'; set deviceType to netdevice, or isRdma to false"#
        ),
        Case(
            "unknown linkType", spec: valid + "\nlinkType: ethernet",
            #"p.yaml:10: policy "p1": spec.linkType: must be one of eth, ETH, ib, IB; found "ethernet""#),
        Case(
            "switchdev", spec: valid + "\neSwitchMode: switchdev",
            #"p.yaml:10: policy "p1": spec.eSwitchMode: switchdev is not supported by harvester-sriov: it needs OVS hardware offload, which Harvester does not run; use legacy or leave it out"#
        ),
        Case(
            "unknown eSwitchMode", spec: valid + "\neSwitchMode: offload",
            #"p.yaml:10: policy "p1": spec.eSwitchMode: must be "legacy" or "switchdev", found "offload""#),
        Case(
            "externally managed", spec: valid + "\nexternallyManaged: true",
            #"p.yaml:10: policy "p1": spec.externallyManaged: true is not supported: harvester-sriov creates the VFs itself; set it to false or leave it out"#
        ),
        Case(
            "vDPA", spec: valid + "\nvdpaType: virtio",
            #"p.yaml:10: policy "p1": spec.vdpaType: vDPA is not supported by harvester-sriov (it needs switchdev mode); remove vdpaType"#
        ),
        Case(
            "bridge", spec: valid + "\nbridge: {ovs: {}}",
            #"p.yaml:10: policy "p1": spec.bridge: software bridge management is not supported by harvester-sriov (it needs switchdev mode); remove bridge"#
        ),
        Case(
            "netFilter", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  netFilter: \"openstack/NetworkID:abc\"",
            #"p.yaml:9: policy "p1": spec.nicSelector.netFilter: is for cloud platforms (OpenStack) and is not supported by harvester-sriov; select by vendor, deviceID, rootDevices or pfNames"#
        ),
        Case(
            "misspelt spec field", spec: valid + "\nnumVF: 4",
            #"p.yaml:10: policy "p1": spec.numVF: unknown field; see the SriovNetworkNodePolicy spec (resourceName, nodeSelector, priority, mtu, numVfs, nicSelector, deviceType, isRdma, linkType, eSwitchMode, needVhostNet, excludeTopology, externallyManaged)"#
        ),
        Case(
            "misspelt nicSelector field", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  pfName: [eth1]",
            #"p.yaml:9: policy "p1": spec.nicSelector.pfName: unknown field; a nicSelector has vendor, deviceID, rootDevices, pfNames (and netFilter)"#
        ),
        Case(
            "quoted boolean", spec: valid + "\nisRdma: \"yes\"",
            #"p.yaml:10: policy "p1": spec.isRdma: must be true or false, found the string "yes""#),
        Case(
            "unquoted label value", spec: valid + "\nnodeSelector:\n  network-sriov.capable: true",
            #"p.yaml:11: policy "p1": spec.nodeSelector.network-sriov.capable: must be a string, found the boolean true; quote it"#
        ),
        Case(
            "wrong apiVersion", text: manifest(valid).replacingFirst("sriovnetwork.openshift.io/v1", with: "v1"),
            #"p.yaml:1: policy "p1": apiVersion: must be "sriovnetwork.openshift.io/v1", found the string "v1""#),
        Case(
            "wrong kind",
            text: manifest(valid).replacingFirst("kind: SriovNetworkNodePolicy", with: "kind: SriovNetwork"),
            #"p.yaml:2: policy "p1": kind: must be "SriovNetworkNodePolicy" (or a List of them), found the string "SriovNetwork""#
        ),
        Case(
            "invalid name", text: manifest(valid, name: "Policy_1"),
            #"p.yaml:4: metadata.name: "Policy_1" is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"#
        ),
        Case(
            "no name", text: manifest(valid).replacingFirst("  name: p1", with: "  namespace: x"),
            #"p.yaml:4: metadata.name: is missing; every policy needs a name"#),
        Case(
            "not YAML", text: "spec: [unclosed\n",
            #"p.yaml:2: not valid YAML: did not find expected ',' or ']' while parsing a flow sequence"#),
        Case(
            "unknown top-level field", text: manifest(valid) + "specs: {}\n",
            #"p.yaml:11: policy "p1": specs: "#
                + "unknown field; a SriovNetworkNodePolicy has apiVersion, kind, metadata and spec"),
        Case(
            "a list instead of an object", text: "- a\n- b\n",
            #"p.yaml:1: expected a Kubernetes object (a map with apiVersion and kind), found a list"#),
        Case(
            "duplicate key", text: manifest(valid + "\nnumVfs: 8"),
            #"p.yaml:10: not valid YAML: duplicate key "numVfs""#),
        Case(
            "empty file", text: "# nothing here\n",
            #"p.yaml: holds no SriovNetworkNodePolicy"#),
        Case(
            "bad vf-trust annotation",
            text: manifest(valid).replacingFirst(
                "  name: p1", with: "  name: p1\n  annotations: {harvester-sriov.io/vf-trust: \"yes\"}"),
            #"p.yaml:5: policy "p1": metadata.annotations.harvester-sriov.io/vf-trust: must be "on" or "off", found "yes""#
        ),
        Case(
            "unknown harvester-sriov annotation",
            text: manifest(valid).replacingFirst(
                "  name: p1", with: "  name: p1\n  annotations: {harvester-sriov.io/vf-vlan: \"10\"}"),
            #"p.yaml:5: policy "p1": metadata.annotations.harvester-sriov.io/vf-vlan: "#
                + "unknown harvester-sriov annotation; known: vf-mac, vf-trust, vf-spoof-check, "
                + "vlan, vlanQoS, vlanProto, min_tx_rate, max_tx_rate, link_state"
        ),
        Case(
            "alias bomb",
            text:
                "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
            #"p.yaml:5: not valid YAML: more than 100000 nodes after expanding aliases"#),
    ]

    @Test(arguments: invalid)
    func rejects(_ testCase: Case) {
        let decoded = PolicyDecoder.decode(testCase.text, file: "p.yaml")
        #expect(decoded.policies.isEmpty)
        #expect(decoded.problems.map(\.description) == testCase.messages)
    }

    @Test func decodesEveryFieldOfAValidPolicy() throws {
        let text = Self.manifest(
            """
            resourceName: intel_sriov
            nodeSelector:
              network-sriov.capable: "true"
            priority: 20
            mtu: 9000
            numVfs: 8
            nicSelector:
              vendor: "8086"
              deviceID: "1572"
              rootDevices: ["0000:3b:00.0"]
              pfNames: ["enp59s0f0#0-3"]
            deviceType: vfio-pci
            isRdma: false
            linkType: eth
            eSwitchMode: legacy
            needVhostNet: true
            excludeTopology: true
            externallyManaged: false
            """)
        let decoded = PolicyDecoder.decode(text, file: "p.yaml")
        #expect(decoded.problems.isEmpty)
        let policy = try #require(decoded.policies.first)
        #expect(
            policy
                == NodePolicy(
                    name: "p1",
                    spec: PolicySpec(
                        resourceName: "intel_sriov", nodeSelector: ["network-sriov.capable": "true"], priority: 20,
                        mtu: 9000, numVfs: 8,
                        nicSelector: NICSelector(
                            vendor: "8086", deviceID: "1572", rootDevices: ["0000:3b:00.0"],
                            pfNames: [PFName(name: "enp59s0f0", range: 0...3)]),
                        deviceType: .vfioPCI, isRdma: false, linkType: "ETH", needVhostNet: true, excludeTopology: true)
                ))
    }

    @Test func annotationsSetVFOptionsAndOthersAreLeftAlone() throws {
        let text = Self.manifest(Self.valid).replacingFirst(
            "  name: p1",
            with: """
                  name: p1
                  annotations:
                    harvester-sriov.io/vf-mac: kernel
                    harvester-sriov.io/vf-trust: "on"
                    harvester-sriov.io/vf-spoof-check: "off"
                    kubectl.kubernetes.io/last-applied-configuration: "{}"
                """)
        let decoded = PolicyDecoder.decode(text, file: "p.yaml")
        #expect(decoded.problems.isEmpty)
        #expect(decoded.policies.first?.vfOptions == VFOptions(stableMAC: false, trust: true, spoofCheck: false))
        #expect(
            PolicyDecoder.decode(Self.manifest(Self.valid), file: "p.yaml").policies.first?.vfOptions == VFOptions(),
            "by default MACs are stable and trust and spoof-check are the kernel's")
    }

    @Test func readsListsMultipleDocumentsAndKubectlOutput() {
        let text = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: sriovnetwork.openshift.io/v1
              kind: SriovNetworkNodePolicy
              metadata: {name: a, namespace: sriov-network-operator, uid: 1234, resourceVersion: "99", generation: 2}
              spec: {resourceName: ra, nodeSelector: {}, numVfs: 2, nicSelector: {vendor: "15b3"}}
              status: {}
            ---
            ---
            apiVersion: sriovnetwork.openshift.io/v1
            kind: SriovNetworkNodePolicy
            metadata: {name: b}
            spec: {resourceName: rb, nodeSelector: {}, numVfs: 0x10, nicSelector: {deviceID: "1592"}, isRdma: yes}
            """
        let decoded = PolicyDecoder.decode(text, file: "p.yaml")
        #expect(decoded.problems.isEmpty)
        #expect(decoded.policies.map(\.name) == ["a", "b"])
        #expect(decoded.policies.last?.spec.numVfs == 16)
        #expect(decoded.policies.last?.spec.isRdma == true, "YAML 1.1 'yes' is a boolean, as kubectl reads it")
        #expect(
            decoded.policies.first?.spec.priority == 99,
            "the operator's mutating webhook sets an absent priority to 99")
    }

    // MARK: scalars as kubectl reads them (go-yaml v2's resolve.go)

    /// `numVfs: <text>`: the integer read, or the one problem.
    @Test(
        arguments: [
            ("8", .success(8)), ("+8", .success(8)), ("1_0", .success(10)), ("0x8", .success(8)),
            ("0X_a", .success(10)),
            ("0o10", .success(8)), ("0b1000", .success(8)), ("0b+1000", .success(8)), ("!!int 8", .success(8)),
            ("!!int \"8\"", .success(8)), ("!!int 0x10", .success(16)),
            ("010", .failure("kubectl reads 010 as octal 8; write the number without the leading 0")),
            ("0_10", .failure("kubectl reads 0_10 as octal 8; write the number without the leading 0")),
            ("+012", .failure("kubectl reads +012 as octal 10; write the number without the leading 0")),
            ("00", .failure("kubectl reads 00 as octal 0; write the number without the leading 0")),
            ("!!int 010", .failure("kubectl reads 010 as octal 8; write the number without the leading 0")),
            // go-yaml reads 08 (no octal digits) as the float 8, which kubectl sends as 8.
            ("08", .success(8)),
            // kubectl sends an integral float as an integer (4.0 becomes JSON 4); a fraction stays refused.
            ("8.0", .success(8)), ("1e1", .success(10)), ("!!float 8", .success(8)), ("4.00", .success(4)),
            ("4e0", .success(4)), ("4.", .success(4)), ("+4.0", .success(4)), ("1_0.0", .success(10)),
            ("40e-1", .success(4)),
            (".5", .failure("must be an integer, found the number .5")),
            ("4.5", .failure("must be an integer, found the number 4.5")),
            ("4e-1", .failure("must be an integer, found the number 4e-1")),
            (".inf", .failure("must be an integer, found the number .inf")),
            (".nan", .failure("must be an integer, found the number .nan")),
            ("1e19", .failure("1e19 is too large for an integer")),
            ("-1e19", .failure("-1e19 is too large for an integer")),
            ("!!str 4", .failure(#"must be an integer, found the string "4""#)),
            ("! 4", .failure(#"must be an integer, found the string "4""#)),
            ("\"4\"", .failure(#"must be an integer, found the string "4""#)),
            ("!!null 4", .failure("must be an integer, found null")),
            ("!!bool yes", .failure("must be an integer, found the boolean true")),
            ("0x", .failure(#"must be an integer, found the string "0x""#)),
            ("1e400", .failure(#"must be an integer, found the string "1e400""#)),
            ("9223372036854775808", .failure("9223372036854775808 is too large for an integer")),
            ("0xFFFFFFFFFFFFFFFFF", .failure("0xFFFFFFFFFFFFFFFFF is too large for an integer")),
        ] as [(String, Result<Int, Message>)])
    func readsIntegersAsKubectlDoes(_ text: String, _ expected: Result<Int, Message>) {
        let manifest = Self.manifest("resourceName: r\nnumVfs: \(text)\nnicSelector: {vendor: \"8086\"}")
        let decoded = PolicyDecoder.decode(manifest, file: "p.yaml")
        switch expected {
        case let .success(number):
            #expect(decoded.problems == [])
            #expect(decoded.policies.first?.spec.numVfs == number)
        case let .failure(message):
            #expect(decoded.problems.map(\.description) == [#"p.yaml:7: policy "p1": spec.numVfs: "# + message.text])
        }
    }

    /// The other integer fields read integral floats as numVfs does: `priority` and `mtu`.
    @Test(
        arguments: [
            ("priority", "10.0", .success(10)), ("priority", "1e1", .success(10)),
            ("priority", "10.5", .failure("must be an integer, found the number 10.5")),
            ("mtu", "9000.0", .success(9000)), ("mtu", "9e3", .success(9000)), ("mtu", "1500.00", .success(1500)),
            ("mtu", "1500.5", .failure("must be an integer, found the number 1500.5")),
        ] as [(String, String, Result<Int, Message>)])
    func readsIntegralFloatsInEveryIntegerField(_ field: String, _ text: String, _ expected: Result<Int, Message>) {
        let manifest = Self.manifest("resourceName: r\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}\n\(field): \(text)")
        let decoded = PolicyDecoder.decode(manifest, file: "p.yaml")
        switch expected {
        case let .success(number):
            #expect(decoded.problems == [])
            let spec = decoded.policies.first?.spec
            #expect((field == "mtu" ? spec?.mtu : spec?.priority) == number)
        case let .failure(message):
            #expect(decoded.problems.map(\.description) == [#"p.yaml:9: policy "p1": spec.\#(field): "# + message.text])
        }
    }

    /// `vendor: <text>` (a string field): the string read, or the one problem.
    @Test(
        arguments: [
            ("!!str 8086", .success("8086")), ("\"8086\"", .success("8086")), ("'15b3'", .success("15b3")),
            ("! 8086", .success("8086")),
            ("8086", .failure("must be a string, found the number 8086; quote it")),
            ("0808", .failure("must be a string, found the number 0808; quote it")),
            ("0123", .failure("must be a string, found the number 0123; quote it")),
            ("1_5b3", .failure(#"must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found "1_5b3""#)),
            ("+.inf", .failure("must be a string, found the number +.inf; quote it")),
            ("._5", .failure(#"must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found "._5""#)),
            ("2001-12-14", .failure(#"must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found "2001-12-14""#)),
            ("~", .failure("must be a string, found null")),
            ("!!str", .failure(#"must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found """#)),
        ] as [(String, Result<String, Message>)])
    func readsStringsAsKubectlDoes(_ text: String, _ expected: Result<String, Message>) {
        let manifest = Self.manifest("resourceName: r\nnumVfs: 4\nnicSelector:\n  vendor: \(text)")
        let decoded = PolicyDecoder.decode(manifest, file: "p.yaml")
        switch expected {
        case let .success(vendor):
            #expect(decoded.problems == [])
            #expect(decoded.policies.first?.spec.nicSelector.vendor == vendor)
        case let .failure(message):
            #expect(
                decoded.problems.map(\.description)
                    == [#"p.yaml:9: policy "p1": spec.nicSelector.vendor: "# + message.text])
        }
    }

    /// `isRdma: <text>` (a boolean field): YAML 1.1's words, and tags.
    @Test(
        arguments: [
            ("yes", .success(true)), ("On", .success(true)), ("Y", .success(true)), ("NO", .success(false)),
            ("off", .success(false)),
            ("!!bool \"true\"", .success(true)), ("!!bool n", .success(false)),
            ("\"yes\"", .failure(#"must be true or false, found the string "yes""#)),
            ("1", .failure("must be true or false, found the number 1")),
            ("!!str true", .failure(#"must be true or false, found the string "true""#)),
        ] as [(String, Result<Bool, Message>)])
    func readsBooleansAsKubectlDoes(_ text: String, _ expected: Result<Bool, Message>) {
        let decoded = PolicyDecoder.decode(Self.manifest(Self.valid + "\nisRdma: \(text)"), file: "p.yaml")
        switch expected {
        case let .success(flag):
            #expect(decoded.problems == [])
            #expect(decoded.policies.first?.spec.isRdma == flag)
        case let .failure(message):
            #expect(decoded.problems.map(\.description) == [#"p.yaml:10: policy "p1": spec.isRdma: "# + message.text])
        }
    }

    /// What go-yaml v2 would read differently, or not at all, is refused where it is read.
    @Test(arguments: [
        ("numVfs: !!int four", #"p.yaml:7: not valid YAML: !!int "four" is not an integer"#),
        ("numVfs: !!float x", #"p.yaml:7: not valid YAML: !!float "x" is not a number"#),
        ("numVfs: !!bool 1", #"p.yaml:7: not valid YAML: !!bool "1" is not a boolean"#),
        (
            "numVfs: !!binary NA==",
            "p.yaml:7: not valid YAML: the tag !!binary is not supported here; remove it " + tagsRead
        ),
        (
            "numVfs: !!timestamp 2001-12-14",
            "p.yaml:7: not valid YAML: the tag !!timestamp is not supported here; remove it " + tagsRead
        ),
        ("numVfs: !foo 4", "p.yaml:7: not valid YAML: the tag !foo is not supported; remove it " + tagsRead),
        ("numVfs: !!map 4", "p.yaml:7: not valid YAML: the tag !!map is not supported here; remove it " + tagsRead),
        ("numVfs: !!seq {a: 1}", "p.yaml:7: not valid YAML: the tag !!seq on a map is not supported; remove it"),
        ("numVfs: !!set {a: 1}", "p.yaml:7: not valid YAML: the tag !!set on a map is not supported; remove it"),
        ("numVfs: !!omap [a]", "p.yaml:7: not valid YAML: the tag !!omap on a list is not supported; remove it"),
        ("<<: {numVfs: 4}", "p.yaml:7: not valid YAML: merge keys (<<) are not supported; write the merged fields out"),
        (
            "!!merge <<: {numVfs: 4}",
            "p.yaml:7: not valid YAML: merge keys (<<) are not supported; write the merged fields out"
        ),
        ("\"<<\": {numVfs: 4}", #"p.yaml:7: policy "p1": spec.<<: "# + specFields),
        ("[a]: 1", "p.yaml:7: not valid YAML: a map key must be a string, found a list"),
        ("1.5: 1", "p.yaml:7: not valid YAML: a map key must be a string, found the number 1.5"),
        ("010: x", #"p.yaml:7: policy "p1": spec.8: "# + specFields),
    ])
    func refusesWhatKubectlWouldReadDifferently(_ line: String, _ message: String) {
        let decoded = PolicyDecoder.decode(
            Self.manifest("resourceName: r\n\(line)\nnicSelector: {vendor: \"8086\"}"),
            file: "p.yaml")
        #expect(decoded.problems.map(\.description).filter { !$0.contains("spec.numVfs: is missing") } == [message])
    }

    @Test func tagsOnCollectionsAndAliasesAreRead() throws {
        let decoded = PolicyDecoder.decode(
            Self.manifest(
                """
                resourceName: &name intel
                numVfs: &count 4
                mtu: *count
                nodeSelector: !!map {zone: *name}
                nicSelector: {pfNames: !!seq &pfs [eth1], vendor: "8086"}
                """), file: "p.yaml")
        #expect(decoded.problems == [])
        let spec = try #require(decoded.policies.first?.spec)
        #expect(spec.mtu == 4)
        #expect(spec.nodeSelector == ["zone": "intel"])
        #expect(spec.nicSelector.pfNames == [PFName(name: "eth1")])
    }

    @Test func infiniBandNetdevicesGetRDMAAsTheMutatingWebhookSetsIt() {
        let ib = PolicyDecoder.decode(Self.manifest(Self.valid + "\nlinkType: ib\nisRdma: false"), file: "p.yaml")
        #expect(ib.policies.first?.spec.isRdma == true)
        let vfio = PolicyDecoder.decode(
            Self.manifest(Self.valid + "\nlinkType: IB\ndeviceType: vfio-pci"),
            file: "p.yaml")
        #expect(vfio.policies.first?.spec.isRdma == false)
    }

    // MARK: limits enforced while parsing

    /// `a` is a list of 10 scalars, `b` a list of 10 `*a`, ... `i` of 10 `*h`: 10^9 nodes.
    static let aliasBomb =
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + zip("bcdefghi", "abcdefgh").map { name, repeated in
            let items: [String] = Array(repeating: "*\(repeated)", count: 10)
            return "\(name): &\(name) [" + items.joined(separator: ", ") + "]\n"
        }.joined()

    /// Hostile nesting and expansion: refused with the first node past a limit. How
    /// long they take is measured by scripts/benchmark, not asserted here.
    @Test(arguments: [
        ("500,000 nested flow lists", String(repeating: "[", count: 500_000), "p.yaml:1: " + tooDeep),
        ("125,000 nested flow maps", String(repeating: "{a: ", count: 125_000), "p.yaml:1: " + tooDeep),
        ("500,000 nested block lists", String(repeating: "- ", count: 500_000) + "x\n", "p.yaml:1: " + tooDeep),
        (
            "1,400 nested block maps", (0..<1_400).map { String(repeating: " ", count: $0) + "a:\n" }.joined(),
            "p.yaml:64: " + tooDeep
        ),
        (
            "65 nested lists", String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
            "p.yaml:1: not valid YAML: nested deeper than 64 levels"
        ),
        (
            "64 nested lists", String(repeating: "[", count: 64) + String(repeating: "]", count: 64),
            "p.yaml:1: expected a Kubernetes object (a map with apiVersion and kind), found a list"
        ),
        (
            "an alias that nests too deep",
            "a: &a " + String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
                + "\nb: [[[[*a]]]]\n", "p.yaml:2: not valid YAML: nested deeper than 64 levels"
        ),
        (
            "a flat list of 262,000 items", String(repeating: "- 1\n", count: 262_000),
            "p.yaml:100000: not valid YAML: more than 100000 nodes after expanding aliases"
        ),
        (
            "a flow list of 524,000 items", "[" + String(repeating: "1,", count: 524_000) + "1]",
            "p.yaml:1: not valid YAML: more than 100000 nodes after expanding aliases"
        ),
        (
            "an alias bomb of 9 levels", aliasBomb,
            "p.yaml:5: not valid YAML: more than 100000 nodes after expanding aliases"
        ),
        (
            "an alias inside its anchor", "a: &a [1, *a]\n",
            "p.yaml:1: not valid YAML: the alias *a is inside the node it refers to"
        ),
        (
            "an alias before its anchor", "a: *b\nb: &b 1\n",
            "p.yaml:1: not valid YAML: the alias *b names no anchor &b before it"
        ),
        (
            "an anchor of another document", "a: &a 1\n---\nb: *a\n",
            "p.yaml:3: not valid YAML: the alias *a names no anchor &a before it"
        ),
    ])
    func refusesHostileYAMLWhileParsing(_ label: String, _ text: String, _ message: String) {
        #expect(text.utf8.count <= PolicyDecoder.maximumFileSize, "\(label) is under the size limit")
        let decoded = PolicyDecoder.decode(text, file: "p.yaml")
        #expect(decoded.problems.map(\.description) == [message])
    }

    @Test(
        arguments: [
            ("eth1", "eth1", nil),
            ("ens1f0#0-3", "ens1f0", 0...3),
            ("ens1f0#5-5", "ens1f0", 5...5),
        ] as [(String, String, ClosedRange<Int>?)])
    func parsesPFNames(_ text: String, _ name: String, _ range: ClosedRange<Int>?) throws {
        let decoded = PolicyDecoder.decode(
            Self.manifest("resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"\(text)\"]"), file: "p.yaml")
        #expect(decoded.policies.first?.spec.nicSelector.pfNames == [PFName(name: name, range: range)])
    }
}

/// An expected problem message, as a test argument.
struct Message: Error, ExpressibleByStringLiteral, CustomStringConvertible, Sendable {
    let text: String
    init(stringLiteral text: String) { self.text = text }
    var description: String { text }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
