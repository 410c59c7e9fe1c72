import Capability
import Foundation
import Testing

/// Storing policies: atomic, idempotent, symlink-safe writes under a target root.
@Suite struct StateStoreTests {
    static let policyText = PolicyRulesTests.policy("a", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "8086"}}"#)

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

        let changed = PolicyRulesTests.policy("a", #"{resourceName: r, numVfs: 8, nicSelector: {vendor: "8086"}}"#)
            + PolicyRulesTests.policy("b", #"{resourceName: s, numVfs: 2, nicSelector: {vendor: "15b3"}}"#)
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
        #expect(throws: SRIOVError.usage("no policy named zz is stored in \(folder.path("root"))/etc/harvester-sriov/state.json; `harvester-sriov policy list` shows the stored ones")) {
            try application.remove(["zz"])
        }
    }

    @Test func invalidInputWritesNothing() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let bad = try input(PolicyRulesTests.policy("a", #"{resourceName: r, numVfs: -1, nicSelector: {vendor: "8086"}}"#), in: folder)
        #expect(throws: SRIOVError.self) { try PolicyApplication(store: store).apply(bad, nodeLabels: [:], host: nil, dryRun: false) }
        #expect(!folder.exists("root/etc"))
    }

    @Test func aConflictWithAStoredPolicyIsRefused() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let application = PolicyApplication(store: store)
        _ = try application.apply(try input(PolicyRulesTests.policy("a", #"{resourceName: r, numVfs: 8, nicSelector: {pfNames: ["eth1#0-3"]}}"#), in: folder),
                                  nodeLabels: [:], host: nil, dryRun: false)
        let clash = try input(PolicyRulesTests.policy("b", #"{resourceName: s, numVfs: 8, nicSelector: {pfNames: ["eth1#2-5"]}}"#), in: folder)
        #expect(throws: SRIOVError.invalidPolicies([PolicyProblem(file: folder.path("in/p.yaml"), policy: "b", field: "spec.nicSelector.pfNames",
            message: #"the VF range of "eth1#2-5" overlaps "eth1#0-3" of policy "a"; give each policy its own VFs of eth1"#)])) {
            try application.apply(clash, nodeLabels: [:], host: nil, dryRun: false)
        }
    }

    @Test func onTheLiveHostCardsAreRecordedAndHostErrorsRefused() throws {
        let folder = try TemporaryFolder()
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        let host = try Umockdev.discover(Fixtures.server)
        let report = try PolicyApplication(store: store).apply(
            try input(PolicyRulesTests.policy("cx5", #"{resourceName: r, numVfs: 4, nicSelector: {vendor: "15b3"}}"#), in: folder),
            nodeLabels: [:], host: host, dryRun: false)
        #expect(report.notes.isEmpty)
        #expect(report.state.cards.map(\.pciAddress.description) == ["0000:86:00.0", "0000:86:00.1"])
        #expect(report.state.cards.map(\.serialNumber) == ["98-03-9b-03-00-7f-00-a0", "98-03-9b-03-00-7f-00-a0"])
        #expect(report.state.cards.map(\.permanentMAC) == ["98:03:9b:7f:00:a0", "98:03:9b:7f:00:a1"])

        let tooMany = try input(PolicyRulesTests.policy("cx5", #"{resourceName: r, numVfs: 9, nicSelector: {vendor: "15b3"}}"#), in: folder)
        #expect(throws: SRIOVError.self) { try PolicyApplication(store: store).apply(tooMany, nodeLabels: [:], host: host, dryRun: false) }
        #expect(try store.load().policies.first?.spec.numVfs == 4, "the refused apply left the stored state alone")
    }

    @Test func aCorruptStateFileIsReportedNotOverwritten() throws {
        let folder = try TemporaryFolder()
        try folder.write("root/etc/harvester-sriov/state.json", "{not json")
        let store = StateStore(root: try TargetRoot(try folder.folder("root")), layout: .fhs)
        #expect(throws: SRIOVError.self) { try store.load() }
        #expect(throws: SRIOVError.self) { try PolicyApplication(store: store).apply(try input(in: folder), nodeLabels: [:], host: nil, dryRun: false) }
        #expect(try folder.read("root/etc/harvester-sriov/state.json") == "{not json")
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
        try FileManager.default.createSymbolicLink(atPath: folder.path("root/etc"), withDestinationPath: outside.path(""))
        let writer = RootWriter(root: try TargetRoot(try folder.folder("root")))
        #expect(throws: SRIOVError.unsafePath("refusing to write through \(folder.path("root"))/etc: it is a symbolic link or not a folder, and a path inside --root must not lead outside it; remove it or choose another --root")) {
            try writer.write("etc/harvester-sriov/state.json", Array("{}".utf8))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path("")).isEmpty, "nothing was written outside the root")
    }

    @Test func aSymlinkPlantedAsTheFileIsRefused() throws {
        let folder = try TemporaryFolder()
        try folder.write("outside/passwd", "secret\n")
        try FileManager.default.createDirectory(atPath: folder.path("root/etc"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.path("root/etc/state.json"), withDestinationPath: folder.path("outside/passwd"))
        let writer = RootWriter(root: try TargetRoot(try folder.folder("root")))
        #expect(throws: SRIOVError.unsafePath("refusing to replace \(folder.path("root"))/etc/state.json: it is a symbolic link; remove it first")) {
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
