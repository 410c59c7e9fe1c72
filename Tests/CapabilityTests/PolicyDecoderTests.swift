import Capability
import Testing

/// Every invalid input produces exactly the message a user sees.
@Suite struct PolicyDecoderTests {
    /// A policy whose spec body starts on line 6; `spec` lines are indented by two.
    static func manifest(_ spec: String, name: String = "p1") -> String {
        """
        apiVersion: sriovnetwork.openshift.io/v1
        kind: SriovNetworkNodePolicy
        metadata:
          name: \(name)
        spec:
        \(spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))

        """
    }

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
        Case("negative numVfs", spec: "resourceName: r\nnumVfs: -1\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:7: policy "p1": spec.numVfs: must be at least 0, found -1"#),
        Case("zero numVfs", spec: "resourceName: r\nnumVfs: 0\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:7: policy "p1": spec.numVfs: 0 VFs is not allowed (the operator's webhook refuses it too); to remove VFs, remove the policy with `harvester-sriov policy remove p1`"#),
        Case("quoted numVfs", spec: "resourceName: r\nnumVfs: \"4\"\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:7: policy "p1": spec.numVfs: must be an integer, found the string "4""#),
        Case("float numVfs", spec: "resourceName: r\nnumVfs: 4.5\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:7: policy "p1": spec.numVfs: must be an integer, found the number 4.5"#),
        Case("priority above 99", spec: valid + "\npriority: 100",
             #"p.yaml:10: policy "p1": spec.priority: must be between 0 (highest) and 99 (lowest), found 100"#),
        Case("negative priority", spec: valid + "\npriority: -1",
             #"p.yaml:10: policy "p1": spec.priority: must be between 0 (highest) and 99 (lowest), found -1"#),
        Case("mtu zero", spec: valid + "\nmtu: 0",
             #"p.yaml:10: policy "p1": spec.mtu: must be at least 1, found 0"#),
        Case("hyphen in resourceName", spec: "resourceName: intel-sriov\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:6: policy "p1": spec.resourceName: "intel-sriov" is not a valid resource name: use letters, digits and '_', starting and ending with a letter or digit (^[a-zA-Z0-9_]+$ and the CRD's pattern)"#),
        Case("resourceName starting with _", spec: "resourceName: _sriov\nnumVfs: 4\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:6: policy "p1": spec.resourceName: "_sriov" is not a valid resource name: use letters, digits and '_', starting and ending with a letter or digit (^[a-zA-Z0-9_]+$ and the CRD's pattern)"#),
        Case("missing resourceName", spec: "numVfs: 4\nnicSelector: {vendor: \"8086\"}",
             #"p.yaml:6: policy "p1": spec.resourceName: is missing; every policy needs the resource name its VFs are advertised as"#),
        Case("missing numVfs and nicSelector", spec: "resourceName: r",
             #"p.yaml:6: policy "p1": spec.numVfs: is missing; set how many VFs each selected PF gets"#,
             #"p.yaml:6: policy "p1": spec.nicSelector: is missing; select the PFs by vendor, deviceID, rootDevices or pfNames"#),
        Case("empty nicSelector", spec: "resourceName: r\nnumVfs: 4\nnicSelector: {}",
             #"p.yaml:8: policy "p1": spec.nicSelector: selects nothing; set at least one of vendor, deviceID, rootDevices or pfNames"#),
        Case("unquoted vendor", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  vendor: 8086",
             #"p.yaml:9: policy "p1": spec.nicSelector.vendor: must be a string, found the number 8086; quote it"#),
        Case("five-digit vendor", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  vendor: \"80861\"",
             #"p.yaml:9: policy "p1": spec.nicSelector.vendor: must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found "80861""#),
        Case("non-hex deviceID", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  deviceID: xyz1",
             #"p.yaml:9: policy "p1": spec.nicSelector.deviceID: must be 4 hex digits as lspci -nn shows them, e.g. "1572"; found "xyz1""#),
        Case("short rootDevice", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  rootDevices: [\"3b:00.0\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.rootDevices[0]: "3b:00.0" is not a full PCI address; write it as lspci -D shows it, e.g. "0000:3b:00.0""#),
        Case("duplicate rootDevice", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  rootDevices: [\"0000:3b:00.0\", \"0000:3b:00.0\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.rootDevices[1]: 0000:3b:00.0 is listed twice"#),
        Case("two # in pfName", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0-3#4\"]",
             ##"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#0-3#4": use one "#" between the PF name and the VF range, e.g. "ens1f0#0-3""##),
        Case("range without dash", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0_3\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#0_3": the VF range must be "first-last", e.g. "ens1f0#0-3""#),
        Case("range start not a number", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#a-3\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#a-3": the range's first VF index is not a non-negative integer"#),
        Case("range end not a number", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0-b\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#0-b": the range's last VF index is not a non-negative integer"#),
        Case("range end before start", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#3-1\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "eth1#3-1": the range's last VF index is smaller than its first"#),
        Case("range past numVfs", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  pfNames: [\"eth1#0-4\"]",
             #"p.yaml:6: policy "p1": spec.nicSelector.pfNames: the VF range of "eth1#0-4" ends at index 4, but numVfs is 4, so the last VF index is 3"#),
        Case("range without PF name", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  pfNames: [\"#0-3\"]",
             ##"p.yaml:9: policy "p1": spec.nicSelector.pfNames[0]: cannot parse "#0-3": the PF name is empty"##),
        Case("pfName listed twice", spec: "resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"eth1#0-1\", \"eth1#2-3\"]",
             #"p.yaml:9: policy "p1": spec.nicSelector.pfNames[1]: PF eth1 is listed twice"#),
        Case("unknown deviceType", spec: valid + "\ndeviceType: dpdk",
             #"p.yaml:10: policy "p1": spec.deviceType: must be "netdevice" or "vfio-pci", found "dpdk""#),
        Case("vfio-pci with RDMA", spec: valid + "\ndeviceType: vfio-pci\nisRdma: true",
             #"p.yaml:6: policy "p1": spec.deviceType: 'deviceType: vfio-pci' conflicts with 'isRdma: true'; set deviceType to netdevice, or isRdma to false"#),
        Case("unknown linkType", spec: valid + "\nlinkType: ethernet",
             #"p.yaml:10: policy "p1": spec.linkType: must be one of eth, ETH, ib, IB; found "ethernet""#),
        Case("switchdev", spec: valid + "\neSwitchMode: switchdev",
             #"p.yaml:10: policy "p1": spec.eSwitchMode: switchdev is not supported by harvester-sriov: it needs OVS hardware offload, which Harvester does not run; use legacy or leave it out"#),
        Case("unknown eSwitchMode", spec: valid + "\neSwitchMode: offload",
             #"p.yaml:10: policy "p1": spec.eSwitchMode: must be "legacy" or "switchdev", found "offload""#),
        Case("externally managed", spec: valid + "\nexternallyManaged: true",
             #"p.yaml:10: policy "p1": spec.externallyManaged: true is not supported: harvester-sriov creates the VFs itself; set it to false or leave it out"#),
        Case("vDPA", spec: valid + "\nvdpaType: virtio",
             #"p.yaml:10: policy "p1": spec.vdpaType: vDPA is not supported by harvester-sriov (it needs switchdev mode); remove vdpaType"#),
        Case("bridge", spec: valid + "\nbridge: {ovs: {}}",
             #"p.yaml:10: policy "p1": spec.bridge: software bridge management is not supported by harvester-sriov (it needs switchdev mode); remove bridge"#),
        Case("netFilter", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  netFilter: \"openstack/NetworkID:abc\"",
             #"p.yaml:9: policy "p1": spec.nicSelector.netFilter: is for cloud platforms (OpenStack) and is not supported by harvester-sriov; select by vendor, deviceID, rootDevices or pfNames"#),
        Case("misspelt spec field", spec: valid + "\nnumVF: 4",
             #"p.yaml:10: policy "p1": spec.numVF: unknown field; see the SriovNetworkNodePolicy spec (resourceName, nodeSelector, priority, mtu, numVfs, nicSelector, deviceType, isRdma, linkType, eSwitchMode, needVhostNet, excludeTopology, externallyManaged)"#),
        Case("misspelt nicSelector field", spec: "resourceName: r\nnumVfs: 4\nnicSelector:\n  pfName: [eth1]",
             #"p.yaml:9: policy "p1": spec.nicSelector.pfName: unknown field; a nicSelector has vendor, deviceID, rootDevices, pfNames (and netFilter)"#),
        Case("quoted boolean", spec: valid + "\nisRdma: \"yes\"",
             #"p.yaml:10: policy "p1": spec.isRdma: must be true or false, found the string "yes""#),
        Case("unquoted label value", spec: valid + "\nnodeSelector:\n  network-sriov.capable: true",
             #"p.yaml:11: policy "p1": spec.nodeSelector.network-sriov.capable: must be a string, found the boolean true; quote it"#),
        Case("wrong apiVersion", text: manifest(valid).replacingFirst("sriovnetwork.openshift.io/v1", with: "v1"),
             #"p.yaml:1: policy "p1": apiVersion: must be "sriovnetwork.openshift.io/v1", found the string "v1""#),
        Case("wrong kind", text: manifest(valid).replacingFirst("kind: SriovNetworkNodePolicy", with: "kind: SriovNetwork"),
             #"p.yaml:2: policy "p1": kind: must be "SriovNetworkNodePolicy" (or a List of them), found the string "SriovNetwork""#),
        Case("invalid name", text: manifest(valid, name: "Policy_1"),
             #"p.yaml:4: metadata.name: "Policy_1" is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"#),
        Case("no name", text: manifest(valid).replacingFirst("  name: p1", with: "  namespace: x"),
             #"p.yaml:4: metadata.name: is missing; every policy needs a name"#),
        Case("not YAML", text: "spec: [unclosed\n",
             #"p.yaml:2: not valid YAML: did not find expected ',' or ']' while parsing a flow sequence"#),
        Case("unknown top-level field", text: manifest(valid) + "specs: {}\n",
             #"p.yaml:10: policy "p1": specs: unknown field; a SriovNetworkNodePolicy has apiVersion, kind, metadata and spec"#),
        Case("a list instead of an object", text: "- a\n- b\n",
             #"p.yaml:1: expected a Kubernetes object (a map with apiVersion and kind), found a list"#),
        Case("duplicate key", text: manifest(valid + "\nnumVfs: 8"),
             #"p.yaml:10: not valid YAML: duplicate key "numVfs""#),
        Case("empty file", text: "# nothing here\n",
             #"p.yaml: holds no SriovNetworkNodePolicy"#),
        Case("bad vf-trust annotation", text: manifest(valid).replacingFirst("  name: p1", with: "  name: p1\n  annotations: {harvester-sriov.io/vf-trust: \"yes\"}"),
             #"p.yaml:5: policy "p1": metadata.annotations.harvester-sriov.io/vf-trust: must be "on" or "off", found "yes""#),
        Case("unknown harvester-sriov annotation", text: manifest(valid).replacingFirst("  name: p1", with: "  name: p1\n  annotations: {harvester-sriov.io/vf-vlan: \"10\"}"),
             #"p.yaml:5: policy "p1": metadata.annotations.harvester-sriov.io/vf-vlan: unknown harvester-sriov annotation; known: vf-mac, vf-trust, vf-spoof-check"#),
        Case("alias bomb", text: "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
             #"p.yaml:1: not valid YAML: more than 100000 nodes after expanding aliases"#),
    ]

    @Test(arguments: invalid)
    func rejects(_ testCase: Case) {
        let decoded = PolicyDecoder.decode(testCase.text, file: "p.yaml")
        #expect(decoded.policies.isEmpty)
        #expect(decoded.problems.map(\.description) == testCase.messages)
    }

    @Test func decodesEveryFieldOfAValidPolicy() throws {
        let text = Self.manifest("""
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
        #expect(policy == NodePolicy(name: "p1", spec: PolicySpec(
            resourceName: "intel_sriov", nodeSelector: ["network-sriov.capable": "true"], priority: 20, mtu: 9000, numVfs: 8,
            nicSelector: NICSelector(vendor: "8086", deviceID: "1572", rootDevices: ["0000:3b:00.0"],
                                     pfNames: [PFName(name: "enp59s0f0", range: 0...3)]),
            deviceType: .vfioPCI, isRdma: false, linkType: "ETH", needVhostNet: true, excludeTopology: true)))
    }

    @Test func annotationsSetVFOptionsAndOthersAreLeftAlone() throws {
        let text = Self.manifest(Self.valid).replacingFirst("  name: p1", with: """
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
        #expect(PolicyDecoder.decode(Self.manifest(Self.valid), file: "p.yaml").policies.first?.vfOptions == VFOptions(),
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
              spec: {resourceName: ra, numVfs: 2, nicSelector: {vendor: "15b3"}}
              status: {}
            ---
            ---
            apiVersion: sriovnetwork.openshift.io/v1
            kind: SriovNetworkNodePolicy
            metadata: {name: b}
            spec: {resourceName: rb, numVfs: 0x10, nicSelector: {deviceID: "1592"}, isRdma: yes}
            """
        let decoded = PolicyDecoder.decode(text, file: "p.yaml")
        #expect(decoded.problems.isEmpty)
        #expect(decoded.policies.map(\.name) == ["a", "b"])
        #expect(decoded.policies.last?.spec.numVfs == 16)
        #expect(decoded.policies.last?.spec.isRdma == true, "YAML 1.1 'yes' is a boolean, as kubectl reads it")
        #expect(decoded.policies.first?.spec.priority == 0, "the operator's default priority is 0")
    }

    @Test(arguments: [
        ("eth1", "eth1", nil),
        ("ens1f0#0-3", "ens1f0", 0...3),
        ("ens1f0#5-5", "ens1f0", 5...5),
    ] as [(String, String, ClosedRange<Int>?)])
    func parsesPFNames(_ text: String, _ name: String, _ range: ClosedRange<Int>?) throws {
        let decoded = PolicyDecoder.decode(Self.manifest("resourceName: r\nnumVfs: 8\nnicSelector:\n  pfNames: [\"\(text)\"]"), file: "p.yaml")
        #expect(decoded.policies.first?.spec.nicSelector.pfNames == [PFName(name: name, range: range)])
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
