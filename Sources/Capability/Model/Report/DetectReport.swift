/// Renders a `HostInventory` for people (a table) and for machines (JSON whose interface
/// objects use the operator's `SriovNetworkNodeState.status.interfaces` names).
public enum DetectReport {
    public static func json(_ host: HostInventory) -> String {
        PrettyJSON.text { write(host, to: &$0) }
    }

    public static func table(_ host: HostInventory) -> String {
        var out = "Node \(host.node): network-sriov.capable=\(host.capable)\n"
        if host.interfaces.isEmpty {
            out += "\nNo SR-IOV capable NIC.\n"
        } else {
            var rows = [["PF", "PCI ADDRESS", "DRIVER", "ID", "VFS", "NUMA", "MAC", "DEVICE"]]
            for pf in host.interfaces {
                rows.append([
                    pf.name ?? "-", pf.address.description, pf.function.driver ?? "-",
                    "\(pf.function.vendor):\(pf.function.deviceID)",
                    "\(pf.numVFs.map(String.init) ?? "-")/\(pf.totalVFs)",
                    pf.numaNode.map(String.init) ?? "-", pf.function.primaryNetdev?.mac ?? "-",
                    pf.deviceName ?? "-",
                ])
                for vf in pf.vfs {
                    rows.append([
                        "  vf \(vf.vfID) " + (vf.function.primaryNetdev?.name ?? "-"), vf.function.address.description,
                        vf.function.driver ?? "-", "\(vf.function.vendor):\(vf.function.deviceID)", "", "",
                        vf.function.primaryNetdev?.mac ?? "-", "",
                    ])
                }
            }
            out += "\n" + alignedColumns(rows)
        }
        if !host.unusable.isEmpty {
            out += "\nNot usable for SR-IOV:\n"
            var rows = [["PCI ADDRESS", "NAME", "ID", "REASON", "DETAIL"]]
            for nic in host.unusable {
                rows.append([
                    nic.function.address.description, nic.function.primaryNetdev?.name ?? "-",
                    "\(nic.function.vendor):\(nic.function.deviceID)", nic.reason.rawValue, nic.detail,
                ])
            }
            out += alignedColumns(rows)
        }
        return out
    }
}

// MARK: - The JSON document

/// Writes pretty JSON with the bytes JSONEncoder writes with `[.prettyPrinted, .sortedKeys,
/// .withoutEscapingSlashes]` (FoundationEssentials' JSONWriter): two-space indent,
/// `"key" : value`, an empty array as `[` newline newline `]`, and only `"`, `\\` and control
/// characters escaped. JSONEncoder boxes every value and builds a dictionary per object,
/// which on a host with 2,000 VFs cost most of `detect --json`'s time; this writes the
/// bytes straight away. It does not sort: callers write members in the UTF-8 order of their
/// keys, as `.sortedKeys` does (DetectJSONTests compares every document with JSONEncoder's).
struct PrettyJSON {
    private(set) var bytes: [UInt8] = []
    private var depth = 0
    /// No member or element written yet in the innermost object or array.
    private var first = true
    /// No line breaks, indents or spaces: for JSON embedded in another document.
    private var compact = false

    /// The document with the trailing newline `encodeJSON` adds.
    static func text(_ body: (inout PrettyJSON) -> Void) -> String {
        var json = PrettyJSON()
        json.bytes.reserveCapacity(1 << 16)
        body(&json)
        json.bytes.append(UInt8(ascii: "\n"))
        return String(decoding: json.bytes, as: UTF8.self)
    }

    /// The document without any whitespace (nor a trailing newline).
    static func compactText(_ body: (inout PrettyJSON) -> Void) -> String {
        var json = PrettyJSON()
        json.compact = true
        body(&json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    mutating func object(_ members: (inout PrettyJSON) -> Void) {
        container(UInt8(ascii: "{"), UInt8(ascii: "}"), members)
    }

    mutating func array<Elements: Sequence>(
        _ elements: Elements, _ element: (inout PrettyJSON, Elements.Element) -> Void
    ) {
        container(UInt8(ascii: "["), UInt8(ascii: "]")) { json in
            for item in elements {
                json.nextItem()
                element(&json, item)
            }
        }
    }

    /// Starts the member `key`; the caller writes its value. Keys are plain identifiers.
    mutating func key(_ key: StaticString) {
        nextItem()
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        if compact { append("\":") } else { append("\" : ") }
    }

    /// A member whose value is JSON text already checked (`JSONText.compacted`), written as it is.
    mutating func member(_ name: StaticString, json: String) {
        key(name)
        append(json)
    }

    /// A value that is JSON text already checked, written as it is (after `nextItem` in an array).
    mutating func json(_ text: String) { append(text) }

    mutating func member(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    mutating func member(_ name: StaticString, _ value: Int?) {
        key(name)
        if let value { append(String(value)) } else { null() }
    }

    mutating func member(_ name: StaticString, _ value: Bool) {
        key(name)
        append(value ? "true" : "false")
    }

    mutating func null() { append("null") }

    /// Bytes appended as one copy: appending a sequence goes byte by byte.
    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            append(text)
        } else {
            for byte in text.utf8 { escaped(byte) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), byte])
        case 0x08: bytes.append(contentsOf: "\\b".utf8)
        case 0x0c: bytes.append(contentsOf: "\\f".utf8)
        case 0x0a: bytes.append(contentsOf: "\\n".utf8)
        case 0x0d: bytes.append(contentsOf: "\\r".utf8)
        case 0x09: bytes.append(contentsOf: "\\t".utf8)
        case 0x00..<0x20:
            let digits = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: "\\u00".utf8)
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0xf)])
        default: bytes.append(byte)
        }
    }

    private mutating func container(_ open: UInt8, _ close: UInt8, _ body: (inout PrettyJSON) -> Void) {
        bytes.append(open)
        if !compact { bytes.append(UInt8(ascii: "\n")) }
        let outerFirst = first
        (depth, first) = (depth + 1, true)
        body(&self)
        (depth, first) = (depth - 1, outerFirst)
        if !compact {
            bytes.append(UInt8(ascii: "\n"))
            indent()
        }
        bytes.append(close)
    }

    private mutating func nextItem() {
        if compact {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            return
        }
        if !first { append(",\n") }
        first = false
        indent()
    }

    private mutating func indent() {
        // One copy from a run of spaces (deeper levels take more than one).
        let spaces: StaticString = "                                "
        var count = 2 * depth
        spaces.withUTF8Buffer { spaces in
            while count > 0 {
                let run = min(count, spaces.count)
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: spaces[..<run]))
                count -= run
            }
        }
    }
}

// Members in the UTF-8 order of their keys: upper case before lower case.
extension DetectReport {
    static func write(_ host: HostInventory, to json: inout PrettyJSON) {
        json.object { json in
            json.member("capable", host.capable)
            json.key("interfaces")
            json.array(host.interfaces) { json, pf in write(pf, to: &json) }
            json.member("node", host.node)
            json.key("unusable")
            json.array(host.unusable) { json, nic in write(nic, to: &json) }
        }
    }

    static func write(_ pf: PhysicalFunction, to json: inout PrettyJSON) {
        let netdev = pf.function.primaryNetdev
        json.object { json in
            // The operator's SriovNetworkNodeState spells it so.
            json.key("Vfs")
            json.array(pf.vfs) { json, vf in write(vf, to: &json) }
            json.member("deviceID", pf.function.deviceID)
            json.member("deviceName", pf.deviceName)
            json.member("driver", pf.function.driver)
            json.member("iommuGroup", pf.iommuGroup)
            json.member("linkAdminState", netdev?.adminUp.map { $0 ? "up" : "down" })
            json.member("linkSpeed", netdev?.speed.map { "\($0) Mb/s" })
            json.member("linkType", netdev?.linkType)
            json.member("mac", netdev?.mac)
            json.member("mtu", netdev?.mtu)
            json.member("name", netdev?.name)
            json.key("netdevs")
            json.array(pf.function.netdevs) { json, netdev in json.string(netdev.name) }
            json.member("numVfs", pf.numVFs)
            json.member("numaNode", pf.numaNode)
            json.member("pciAddress", pf.address.sysfsName)
            json.member("permanentMac", netdev?.permanentMAC)
            json.member("serialNumber", pf.serialNumber)
            json.key("sriovCapability")
            if let cap = pf.capability {
                json.object { json in
                    json.member("firstVFOffset", cap.firstVFOffset)
                    json.member("initialVFs", cap.initialVFs)
                    json.member("numVFs", cap.numVFs)
                    json.member("totalVFs", cap.totalVFs)
                    json.member("vfDeviceID", cap.vfDeviceID)
                    json.member("vfStride", cap.vfStride)
                }
            } else {
                json.null()
            }
            json.member("totalvfs", pf.totalVFs)
            json.member("vendor", pf.function.vendor)
            json.member("vendorName", pf.vendorName)
            json.member("vfDeviceID", pf.capability?.vfDeviceID)
        }
    }

    static func write(_ vf: VirtualFunction, to json: inout PrettyJSON) {
        let netdev = vf.function.primaryNetdev
        json.object { json in
            json.member("deviceID", vf.function.deviceID)
            json.member("driver", vf.function.driver)
            json.member("iommuGroup", vf.iommuGroup)
            json.member("mac", netdev?.mac)
            json.member("mtu", netdev?.mtu)
            json.member("name", netdev?.name)
            json.member("pciAddress", vf.function.address.sysfsName)
            json.member("vendor", vf.function.vendor)
            json.member("vfID", vf.vfID)
        }
    }

    static func write(_ nic: UnusableNIC, to json: inout PrettyJSON) {
        json.object { json in
            json.member("detail", nic.detail)
            json.member("deviceID", nic.function.deviceID)
            json.member("driver", nic.function.driver)
            json.member("name", nic.function.primaryNetdev?.name)
            json.member("pciAddress", nic.function.address.sysfsName)
            json.member("reason", nic.reason.rawValue)
            json.member("vendor", nic.function.vendor)
        }
    }
}
