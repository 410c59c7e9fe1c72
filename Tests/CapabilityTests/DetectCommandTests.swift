import Foundation
import Testbed
import Testing

/// The built `harvester-sriov detect`, run as a user runs it, against umockdev testbeds.
@Suite struct DetectCommandTests {
    @Test func jsonFollowsTheOperatorsInterfaceNames() throws {
        let testbed = try Testbed(Fixtures.server)
        let result = try Umockdev.run(["detect", "--json"], in: testbed.root)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        let json = try JSONDocument(result.stdout)
        #expect(json["capable"] as? Bool == true)
        var hostname = [CChar](repeating: 0, count: 256)
        gethostname(&hostname, 255)
        let expected = String(decoding: hostname.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(json["node"] as? String == expected)

        let interfaces = try #require(json["interfaces"] as? [[String: Any]])
        #expect(
            interfaces.map { $0["pciAddress"] as? String } == [
                "0000:3b:00.0", "0000:3b:00.1", "0000:86:00.0", "0000:86:00.1", "0000:af:00.0",
            ])
        let required: Set = [
            "name", "mac", "driver", "pciAddress", "vendor", "deviceID", "vendorName", "deviceName", "mtu",
            "numVfs", "totalvfs", "linkSpeed", "linkType", "vfDeviceID", "numaNode", "iommuGroup",
            "serialNumber", "Vfs",
        ]
        for interface in interfaces {
            #expect(required.isSubset(of: Set(interface.keys)), "missing \(required.subtracting(interface.keys))")
        }

        let x710 = interfaces[0]
        #expect(x710["name"] as? String == "enp59s0f0")
        #expect(x710["mac"] as? String == "3c:fd:fe:9e:a1:00")
        #expect(x710["permanentMac"] as? String == "3c:fd:fe:9e:a1:00")
        #expect(x710["vendor"] as? String == "8086")
        #expect(x710["deviceID"] as? String == "1572")
        #expect(x710["vendorName"] as? String == "Intel Corporation")
        #expect(x710["numVfs"] as? Int == 4)
        #expect(x710["totalvfs"] as? Int == 64)
        #expect(x710["mtu"] as? Int == 1500)
        #expect(x710["numaNode"] as? Int == 0)
        #expect(x710["iommuGroup"] as? Int == 30)
        #expect(x710["linkType"] as? String == "ETH")
        #expect(x710["linkAdminState"] as? String == "up")
        #expect(x710["vfDeviceID"] as? String == "154c")
        #expect(x710["serialNumber"] is NSNull, "no DSN capability: null, not a made-up value")

        let vfs = try #require(x710["Vfs"] as? [[String: Any]])
        #expect(vfs.map { $0["vfID"] as? Int } == [0, 1, 2, 3])
        #expect(vfs[0]["name"] as? String == "enp59s0f0v0")
        #expect(vfs[0]["pciAddress"] as? String == "0000:3b:02.0")
        #expect(vfs[0]["driver"] as? String == "iavf")
        #expect(vfs[0]["deviceID"] as? String == "154c")
        #expect(vfs[0]["mtu"] as? Int == 1500)
        #expect(vfs[3]["driver"] as? String == "vfio-pci")
        #expect(vfs[3]["name"] is NSNull)
        #expect(vfs[3]["mac"] is NSNull)
        #expect(vfs[3]["mtu"] is NSNull)

        let e810 = interfaces[4]
        #expect(e810["serialNumber"] as? String == "b4-96-91-ff-ff-aa-10-00")
        #expect(e810["numaNode"] as? Int == 1)

        let unusable = try #require(json["unusable"] as? [[String: Any]])
        #expect(unusable.count == 1)
        #expect(unusable[0]["pciAddress"] as? String == "0000:00:03.0")
        #expect(unusable[0]["name"] as? String == "eth0")
        #expect(unusable[0]["vendor"] as? String == "1af4")
        #expect(unusable[0]["deviceID"] as? String == "1041")
        #expect(unusable[0]["reason"] as? String == "no-sriov-capability")
        #expect((unusable[0]["detail"] as? String)?.isEmpty == false)
    }

    @Test func tableShowsPFsWithTheirVFsAndTheUnusableNICs() throws {
        let testbed = try Testbed([Fixtures.virtio, Fixtures.x710WithVFs])
        let result = try Umockdev.run(["detect"], in: testbed.root)
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasSuffix("network-sriov.capable=true") == true)
        #expect(
            lines.contains {
                $0.hasPrefix("enp59s0f0 ") && $0.contains("0000:3b:00.0") && $0.contains("4/64") && $0.contains("i40e")
            })
        #expect(
            lines.contains { $0.hasPrefix("  vf 0 enp59s0f0v0") && $0.contains("0000:3b:02.0") && $0.contains("iavf") })
        #expect(lines.contains { $0.hasPrefix("  vf 3 -") && $0.contains("0000:3b:02.3") && $0.contains("vfio-pci") })
        #expect(lines.contains("Not usable for SR-IOV:"))
        #expect(lines.contains { $0.hasPrefix("0000:00:03.0  eth0") && $0.contains("no-sriov-capability") })
    }

    @Test(arguments: [["detect"], ["detect", "--json"]])
    func aHostWithoutNICsIsNotAnError(_ arguments: [String]) throws {
        let testbed = try Testbed([Fixtures.nvme])
        let result = try Umockdev.run(arguments, in: testbed.root)
        #expect(result.status == 0)
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.contains("false"))
    }

    @Test func unreadableSysfsIsAClearErrorOnStderr() throws {
        // A testbed folder with no sys/ in it: the program sees no /sys at all.
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let result = try Umockdev.run(["detect", "--json"], in: empty.path)
        #expect(result.status == 69)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr
                == "harvester-sriov: cannot read /sys/devices: sysfs is not mounted at /sys; mount it (mount -t sysfs sysfs /sys) or run on the node itself\n"
        )
    }

    @Test func versionAndHelp() throws {
        let version = try Umockdev.runBinary(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.split(separator: ".").count == 3)
        let help = try Umockdev.runBinary(["detect", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--json"))
        let unknown = try Umockdev.runBinary(["detect", "--frobnicate"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("Unknown option '--frobnicate'"))
    }
}
