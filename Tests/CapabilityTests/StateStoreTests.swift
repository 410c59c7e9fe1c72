import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import Testing

/// Storing policies: atomic, idempotent, symlink-safe writes under a target root.
@Suite struct StateStoreTests {
    static let policyText = PolicyManifest.policy(
        "a", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "8086"}}"#)

    func input(_ text: String = policyText, in folder: TemporaryFolder) throws -> PolicyInput {
        try folder.write("in/p.yaml", text)
        return PolicyInput.load([folder.path("in/p.yaml")])
    }

    @Test(arguments: Layout.allCases)
    func applyStoresOnceThenSaysUnchanged(_ layout: Layout) throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: layout)
        let application = PolicyApplication(store: store)
        let first = try application.apply(try input(in: folder), nodeLabels: ["zone": "a"], host: nil, dryRun: false)
        #expect(first.outcome == .created)
        #expect(first.changes == ["policy a: added"])
        #expect(first.notes.count == 1)
        let path = "root/" + layout.stateFile.string
        let stored = try folder.read(path)
        var status = stat()
        stat(folder.path(path), &status)
        #expect(status.st_mode & 0o777 == 0o644)

        let second = try application.apply(try input(in: folder), nodeLabels: ["zone": "a"], host: nil, dryRun: false)
        #expect(second.outcome == .unchanged)
        #expect(second.changes == ["policy a: unchanged"])
        #expect(try folder.read(path) == stored)
        var again = stat()
        stat(folder.path(path), &again)
        #expect(again.st_ino == status.st_ino, "an unchanged file is not replaced")

        let loaded = try store.load()
        #expect(loaded.policies.map(\.name) == ["a"])
        #expect(loaded.nodeLabels == ["zone": "a"])
    }

    @Test func applyReplacesByNameKeepsOthersAndDryRunWritesNothing() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let application = PolicyApplication(store: store)
        _ = try application.apply(try input(in: folder), nodeLabels: [:], host: nil, dryRun: false)
        let before = try folder.read("root/etc/harvester-sriov/state.json")

        let changed =
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: 8, nicSelector: {vendor: "8086"}}"#)
            + PolicyManifest.policy("b", #"{resourceName: s, numVfs: 2, nicSelector: {vendor: "15b3"}}"#)
        let dry = try application.apply(try input(changed, in: folder), nodeLabels: [:], host: nil, dryRun: true)
        #expect(dry.outcome == .updated)
        #expect(dry.changes == ["policy a: replaced", "policy b: added"])
        #expect(try folder.read("root/etc/harvester-sriov/state.json") == before)

        let real = try application.apply(try input(changed, in: folder), nodeLabels: [:], host: nil, dryRun: false)
        #expect(real.outcome == .updated)
        #expect(try store.load().policies.map { "\($0.name)=\($0.spec.numVfs)" } == ["a=8", "b=2"])

        let removed = try application.remove(["a"])
        #expect(removed.outcome == .updated)
        #expect(try store.load().policies.map(\.name) == ["b"])
        #expect(
            throws: SRIOVError.usage(
                "no policy named zz is stored in \(folder.path("root"))/etc/harvester-sriov/state.json; `harvester-sriov policy list` shows the stored ones"
            )
        ) {
            try application.remove(["zz"])
        }
    }

    @Test func invalidInputWritesNothing() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let bad = try input(
            PolicyManifest.policy("a", #"{resourceName: r, numVfs: -1, nicSelector: {vendor: "8086"}}"#), in: folder)
        #expect(throws: SRIOVError.self) {
            try PolicyApplication(store: store).apply(bad, nodeLabels: [:], host: nil, dryRun: false)
        }
        #expect(!folder.exists("root/etc"))
    }

    @Test func aConflictWithAStoredPolicyIsRefused() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let application = PolicyApplication(store: store)
        _ = try application.apply(
            try input(
                PolicyManifest.policy("a", #"{resourceName: r, numVfs: 8, nicSelector: {pfNames: ["eth1#0-3"]}}"#),
                in: folder),
            nodeLabels: [:], host: nil, dryRun: false)
        let clash = try input(
            PolicyManifest.policy("b", #"{resourceName: s, numVfs: 8, nicSelector: {pfNames: ["eth1#2-5"]}}"#),
            in: folder)
        #expect(
            throws: SRIOVError.invalidPolicies([
                PolicyProblem(
                    file: folder.path("in/p.yaml"), policy: "b", field: "spec.nicSelector.pfNames",
                    message:
                        #"the VF range of "eth1#2-5" overlaps "eth1#0-3" of policy "a"; give each policy its own VFs of eth1"#
                )
            ])
        ) {
            try application.apply(clash, nodeLabels: [:], host: nil, dryRun: false)
        }
    }

    @Test func onTheLiveHostCardsAreRecordedAndHostErrorsRefused() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let host = try Umockdev.discover(Fixtures.server)
        let report = try PolicyApplication(store: store).apply(
            try input(
                PolicyManifest.policy("cx5", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "15b3"}}"#),
                in: folder),
            nodeLabels: [:], host: host, dryRun: false)
        #expect(report.notes.isEmpty)
        #expect(report.state.cards.map(\.pciAddress.description) == ["0000:86:00.0", "0000:86:00.1"])
        #expect(report.state.cards.map(\.serialNumber) == ["98-03-9b-03-00-7f-00-a0", "98-03-9b-03-00-7f-00-a0"])
        #expect(report.state.cards.map(\.permanentMAC) == ["98:03:9b:7f:00:a0", "98:03:9b:7f:00:a1"])

        let tooMany = try input(
            PolicyManifest.policy("cx5", #"{resourceName: r, numVfs: 9, nicSelector: {vendor: "15b3"}}"#), in: folder)
        #expect(throws: SRIOVError.self) {
            try PolicyApplication(store: store).apply(tooMany, nodeLabels: [:], host: host, dryRun: false)
        }
        #expect(try store.load().policies.first?.spec.numVfs == 4, "the refused apply left the stored state alone")
    }

    @Test func aCorruptStateFileIsReportedNotOverwritten() throws {
        let folder = try TemporaryFolder()
        try folder.write("root/etc/harvester-sriov/state.json", "{not json")
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        #expect(throws: SRIOVError.self) { try store.load() }
        #expect(throws: SRIOVError.self) {
            try PolicyApplication(store: store).apply(try input(in: folder), nodeLabels: [:], host: nil, dryRun: false)
        }
        #expect(try folder.read("root/etc/harvester-sriov/state.json") == "{not json")
    }

    // MARK: a stored state that breaks a manifest rule

    /// A stored state with one thing wrong; `STATE` in a message stands for the file's path.
    struct BadState: CustomTestStringConvertible, Sendable {
        let label: String
        let state: DesiredState
        let messages: [String]
        var testDescription: String { label }

        init(_ label: String, _ policies: [NodePolicy], nodeLabels: [String: String] = [:], _ messages: String...) {
            self.label = label
            state = DesiredState(policies: policies, nodeLabels: nodeLabels)
            self.messages = messages
        }
    }

    static func stored(_ name: String = "a", _ change: (inout PolicySpec) -> Void = { _ in }) -> NodePolicy {
        var spec = PolicySpec(resourceName: "r", numVfs: 8, nicSelector: NICSelector(vendor: "8086"))
        change(&spec)
        return NodePolicy(name: name, spec: spec)
    }

    static func ranges(_ ranges: ClosedRange<Int>...) -> NICSelector {
        NICSelector(pfNames: ranges.map { PFName(name: "eth1", range: $0) })
    }

    /// The line for a problem of stored policy `name`, with what to do about it.
    static func problem(_ field: String, _ message: String, of name: String = "a") -> String {
        #"STATE: policy "\#(name)": \#(field): \#(message); "#
            + "remove the policy with `harvester-sriov policy remove \(name)` and apply its manifest again, "
            + "or restore STATE from a backup"
    }

    // The same rules as manifests, so the same words.
    static let resourceNameRule = PolicyDecoderTests.resourceNameRule
    static let labelRule = PolicyDecoderTests.labelRule

    static let badStates: [BadState] = [
        BadState(
            "numVfs 0", [stored { $0.numVfs = 0 }],
            problem(
                "spec.numVfs",
                "0 VFs is not allowed (the operator's webhook refuses it too); "
                    + "to remove VFs, remove the policy with `harvester-sriov policy remove a`")),
        BadState("numVfs -1", [stored { $0.numVfs = -1 }], problem("spec.numVfs", "must be at least 0, found -1")),
        BadState(
            "the smallest numVfs with a range",
            [
                stored {
                    $0.numVfs = .min
                    $0.nicSelector = ranges(0...1)
                }
            ],
            problem("spec.numVfs", "must be at least 0, found -9223372036854775808")),
        BadState(
            "a name stored twice", [stored(), stored { $0.numVfs = 2 }],
            problem("metadata.name", "is stored twice")),
        BadState(
            "a range past numVfs", [stored { $0.nicSelector = ranges(4...8) }],
            problem(
                "spec.nicSelector.pfNames",
                #"the VF range of "eth1#4-8" ends at index 8, but numVfs is 8, so the last VF index is 7"#)),
        BadState(
            "a negative range", [stored { $0.nicSelector = ranges(-2...3) }],
            problem(
                "spec.nicSelector.pfNames[0]",
                #"cannot parse "eth1#-2-3": the VF range must be "first-last", e.g. "ens1f0#0-3""#)),
        BadState(
            "a PF listed twice", [stored { $0.nicSelector = ranges(0...1, 2...3) }],
            problem("spec.nicSelector.pfNames[1]", "PF eth1 is listed twice")),
        BadState("negative MTU", [stored { $0.mtu = -1 }], problem("spec.mtu", "must be at least 1, found -1")),
        BadState(
            "priority 100", [stored { $0.priority = 100 }],
            problem("spec.priority", "must be between 0 (highest) and 99 (lowest), found 100")),
        BadState(
            "negative priority", [stored { $0.priority = -5 }],
            problem("spec.priority", "must be between 0 (highest) and 99 (lowest), found -5")),
        BadState(
            "bad resource name", [stored { $0.resourceName = "a b" }],
            problem("spec.resourceName", #""a b" "# + resourceNameRule)),
        BadState(
            "bad vendor", [stored { $0.nicSelector.vendor = "86" }],
            problem(
                "spec.nicSelector.vendor",
                #"must be 4 hex digits as lspci -nn shows them, e.g. "8086"; found "86""#)),
        BadState(
            "bad deviceID", [stored { $0.nicSelector.deviceID = "15-2" }],
            problem(
                "spec.nicSelector.deviceID",
                #"must be 4 hex digits as lspci -nn shows them, e.g. "1572"; found "15-2""#)),
        BadState(
            "short root device", [stored { $0.nicSelector.rootDevices = ["3b:00.0"] }],
            problem(
                "spec.nicSelector.rootDevices[0]",
                #""3b:00.0" is not a full PCI address; write it as lspci -D shows it, e.g. "0000:3b:00.0""#)),
        BadState(
            "empty selector", [stored { $0.nicSelector = NICSelector() }],
            problem(
                "spec.nicSelector",
                "selects nothing; set at least one of vendor, deviceID, rootDevices or pfNames")),
        BadState(
            "vfio-pci with RDMA",
            [
                stored {
                    $0.deviceType = .vfioPCI
                    $0.isRdma = true
                }
            ],
            problem(
                "spec.deviceType",
                "'deviceType: vfio-pci' conflicts with 'isRdma: true'; set deviceType to netdevice, or isRdma to false")
        ),
        BadState(
            "lowercase link type", [stored { $0.linkType = "eth" }],
            problem(
                "spec.linkType",
                #"must be ETH or IB (as harvester-sriov stores eth|ETH|ib|IB), found "eth""#)),
        BadState(
            "bad nodeSelector", [stored { $0.nodeSelector = ["zone": "a b"] }],
            problem("spec.nodeSelector.zone", #"the value "a b" "# + labelRule)),
        BadState(
            "bad policy name", [stored("A")],
            problem(
                "metadata.name",
                #""A" is not a valid name: use lowercase letters, digits, '-' and '.', "#
                    + "starting and ending with a letter or digit, at most 253 characters", of: "A")),
        BadState(
            "overlapping ranges",
            [
                stored { $0.nicSelector = ranges(0...3) },
                stored("b") {
                    $0.resourceName = "s"
                    $0.nicSelector = ranges(3...5)
                },
            ],
            problem(
                "spec.nicSelector.pfNames",
                #"the VF range of "eth1#3-5" overlaps "eth1#0-3" of policy "a"; "#
                    + "give each policy its own VFs of eth1", of: "b")),
        BadState(
            "bad node label", [stored()], nodeLabels: ["-zone": "a"],
            #"STATE: nodeLabels.-zone: the key name "-zone" "# + labelRule
                + "; restore STATE from a backup, "
                + "or remove it and apply the policies again with valid --node-label flags"),
    ]

    @Test(arguments: badStates)
    func aStateThatBreaksAManifestRuleIsRefusedAndLeftAlone(_ bad: BadState) throws {
        let folder = try TemporaryFolder()
        let text = String(decoding: bad.state.jsonBytes, as: UTF8.self)
        try folder.write("root/etc/harvester-sriov/state.json", text)
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let expected = bad.messages.map { $0.replacingOccurrences(of: "STATE", with: store.displayPath) }
        do {
            _ = try store.load()
            Issue.record("a state that breaks a rule must be refused")
        } catch {
            #expect(error.exitCode == 65)
            #expect(error.description.split(separator: "\n").map(String.init) == expected)
        }
        let policies = try input(in: folder)
        do {
            _ = try PolicyApplication(store: store).apply(policies, nodeLabels: [:], host: nil, dryRun: false)
            Issue.record("apply onto a state that breaks a rule must be refused")
        } catch {
            #expect(error.description.split(separator: "\n").map(String.init) == expected)
        }
        #expect(try folder.read("root/etc/harvester-sriov/state.json") == text, "a refused state is not rewritten")
    }

    @Test func aStateFileOfTheWrongShapeNamesWhere() throws {
        let folder = try TemporaryFolder()
        let good = String(decoding: DesiredState(policies: [Self.stored()]).jsonBytes, as: UTF8.self)
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        for (text, what) in [
            (
                good.replacingOccurrences(of: #""numVfs" : 8"#, with: #""numVfs" : "8""#),
                "policies[0].spec.numVfs must be a whole number, found a string"
            ),
            (
                good.replacingOccurrences(of: #""resourceName" : "r""#, with: #""resourceNames" : "r""#),
                "the field policies[0].spec.resourceName is missing"
            ),
        ] {
            #expect(text != good)
            try folder.write("root/etc/harvester-sriov/state.json", text)
            #expect(
                throws: SRIOVError.invalidPolicies([
                    PolicyProblem(
                        file: store.displayPath,
                        message:
                            "is not a harvester-sriov state file (\(what)); restore it from a backup, "
                            + "or remove it and apply the policies again")
                ])
            ) {
                try store.load()
            }
        }
    }

    /// `policy remove` is the way out: it reads the state without the rules, and checks
    /// them on what is left.
    @Test func removeMendsAStateWithABadPolicyAndRefusesToKeepOne() throws {
        let folder = try TemporaryFolder()
        let state = DesiredState(policies: [
            Self.stored("bad") { $0.numVfs = 0 }, Self.stored("worse") { $0.mtu = 0 },
            Self.stored("good") { $0.resourceName = "g" },
        ])
        try folder.write("root/etc/harvester-sriov/state.json", String(decoding: state.jsonBytes, as: UTF8.self))
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let application = PolicyApplication(store: store)
        let before = try folder.read("root/etc/harvester-sriov/state.json")

        let worse = Self.problem("spec.mtu", "must be at least 1, found 0", of: "worse")
            .replacingOccurrences(of: "STATE", with: store.displayPath)
        do {
            _ = try application.remove(["bad"])
            Issue.record("a remove that leaves a bad policy must be refused")
        } catch {
            #expect(error.description == worse)
        }
        #expect(try folder.read("root/etc/harvester-sriov/state.json") == before, "a refused remove writes nothing")

        let removed = try application.remove(["bad", "worse"])
        #expect(removed.outcome == .updated)
        #expect(try store.load().policies.map(\.name) == ["good"])
    }

    @Test func aNameStoredTwiceIsRefusedByApplyAndPlanAndRemovedByRemove() throws {
        let folder = try TemporaryFolder()
        let twice = DesiredState(policies: [
            Self.stored(), Self.stored { $0.numVfs = 2 },
            Self.stored("b") { $0.resourceName = "s" },
        ])
        try folder.write("root/etc/harvester-sriov/state.json", String(decoding: twice.jsonBytes, as: UTF8.self))
        try folder.write("in/p.yaml", Self.policyText)
        let root = try folder.folder("root")
        let state = "\(root)/etc/harvester-sriov/state.json"
        let message = Self.problem("metadata.name", "is stored twice").replacingOccurrences(of: "STATE", with: state)

        let apply = try Umockdev.runBinary(["policy", "apply", "--root", root, folder.path("in/p.yaml")])
        #expect(apply.status == 65)
        #expect(apply.stderr == message + "\nharvester-sriov: 1 problem; nothing was written\n")
        let plan = try Umockdev.runBinary(["plan", "--root", root])
        #expect(plan.status == 65)
        #expect(plan.stderr.hasPrefix(message + "\n"))

        let remove = try Umockdev.runBinary(["policy", "remove", "--root", root, "a"])
        #expect(remove.status == 0)
        #expect(try StateStore(root: try TargetRoot(root), layout: .fhs).load().policies.map(\.name) == ["b"])
    }

    @Test(arguments: ["relative/root", "", "/nonexistent/root"])
    func badRootsAreRefused(_ root: String) {
        #expect(throws: SRIOVError.self) { try TargetRoot(root) }
    }

    @Test func layoutIsDetectedFromTheOEMPartition() throws {
        let folder = try TemporaryFolder()
        try folder.write("plain/.keep", "")
        try folder.write("elemental/oem/90_custom.yaml", "")
        #expect(Layout.detect(try TargetRoot(folder.path("plain"))) == .fhs)
        #expect(Layout.detect(try TargetRoot(folder.path("elemental"))) == .harvester)
    }
}

/// The one writer: atomic, idempotent, and never through a symbolic link.
@Suite struct RootWriterTests {
    @Test func writesAtomicallyWithTheModeAndSaysWhatChanged() throws {
        let folder = try TemporaryFolder()
        let writer = RootWriter(root: try TargetRoot(folder.path("")))
        #expect(try writer.write("a/b/file", Array("one\n".utf8), mode: 0o600) == .created)
        #expect(try writer.write("a/b/file", Array("one\n".utf8), mode: 0o600) == .unchanged)
        #expect(try writer.write("a/b/file", Array("one\n".utf8), mode: 0o644) == .updated, "a mode change is a change")
        #expect(try writer.write("a/b/file", Array("two\n".utf8), mode: 0o644) == .updated)
        #expect(try folder.read("a/b/file") == "two\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path("a/b"))
        #expect(leftovers == ["file"], "no temporary file is left behind")
        #expect(try writer.remove("a/b/file") == .removed)
        #expect(try writer.remove("a/b/file") == .absent)
    }

    @Test func aSymlinkedFolderInTheRootIsRefused() throws {
        let folder = try TemporaryFolder()
        let outside = try TemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder.path("root"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc"), withDestinationPath: outside.path(""))
        let writer = RootWriter(root: try TargetRoot(try folder.folder("root")))
        #expect(
            throws: SRIOVError.unsafePath(
                "refusing to write through \(folder.path("root"))/etc: it is a symbolic link or not a folder, and a path inside --root must not lead outside it; remove it or choose another --root"
            )
        ) {
            try writer.write("etc/harvester-sriov/state.json", Array("{}".utf8))
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: outside.path("")).isEmpty,
            "nothing was written outside the root")
    }

    @Test func aSymlinkPlantedAsTheFileIsRefused() throws {
        let folder = try TemporaryFolder()
        try folder.write("outside/passwd", "secret\n")
        try FileManager.default.createDirectory(atPath: folder.path("root/etc"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder.path("root/etc/state.json"), withDestinationPath: folder.path("outside/passwd"))
        let writer = RootWriter(root: try TargetRoot(try folder.folder("root")))
        #expect(
            throws: SRIOVError.unsafePath(
                "refusing to replace \(folder.path("root"))/etc/state.json: it is a symbolic link; remove it first")
        ) {
            try writer.write("etc/state.json", Array("{}".utf8))
        }
        #expect(try folder.read("outside/passwd") == "secret\n")
    }

    @Test func aReadOnlyTargetIsAClearError() throws {
        // A read-only bind mount needs privileges; so does a chmod that binds root. Use
        // /proc, which refuses file creation for everyone, as the read-only target.
        let writer = RootWriter(root: try TargetRoot("/proc/self"))
        do {
            try writer.write("harvester-sriov-test", Array("x".utf8))
            Issue.record("writing into /proc must fail")
        } catch {
            #expect(error.exitCode == 74)
            #expect(error.description.hasPrefix("create /proc/self/harvester-sriov-test: "))
        }
    }
}
