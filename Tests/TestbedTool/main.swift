// Writes a synthetic host for the benchmark: `make-testbed PFS VFS [PARENT]` prints
// the folder to use as UMOCKDEV_DIR. PFs are X710 ports, each with VFS VFs that
// have netdevs, plus the devices every server has (NVMe, a management NIC).
import Capability
import Foundation
import SRIOVHost
import SRIOVModel
import Testbed

let arguments = CommandLine.arguments
guard arguments.count >= 3, let pfCount = Int(arguments[1]), let vfCount = Int(arguments[2]), pfCount <= 128 else {
    print("usage: make-testbed PFS(<=128) VFS [PARENT]")
    exit(64)
}
var functions: [FakeFunction] = [Catalog.nvme(at: "0000:01:00.0")]
for index in 0..<pfCount {
    // Two ports per card, one card per bus from 0x10 up: 2 functions, VFs behind them.
    let bus = 0x10 + index / 2 * 2
    let address = "0000:\(hex(bus, width: 2)):00.\(index % 2)"
    let mac = "3c:fd:fe:00:\(hex(index, width: 2)):00"
    functions.append(
        Catalog.pf(
            .x710, at: address, name: "enp\(bus)s0f\(index % 2)", mac: mac, numVFs: vfCount,
            numaNode: index % 2, iommuGroup: 100 + index * 100))
}
functions.append(Catalog.virtio(at: "0000:00:03.0", name: "eth0", mac: "52:54:00:12:34:56"))
let testbed = try Testbed(functions, in: arguments.count > 3 ? arguments[3] : nil)
testbed.keep()
print(testbed.root)
