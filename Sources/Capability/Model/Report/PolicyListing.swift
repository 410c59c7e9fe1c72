/// `policy list`: one row per stored policy.
public enum PolicyListing {
    public static func table(_ state: DesiredState) -> String {
        guard !state.policies.isEmpty else { return "No policies are stored.\n" }
        var rows = [["NAME", "PRIORITY", "NUMVFS", "RESOURCE", "DEVICE TYPE", "MTU", "NIC SELECTOR", "NODE SELECTOR"]]
        for policy in state.policies {
            let spec = policy.spec
            let nic = spec.nicSelector
            var selector: [String] = []
            if let vendor = nic.vendor { selector.append("vendor=\(vendor)") }
            if let device = nic.deviceID { selector.append("deviceID=\(device)") }
            if !nic.rootDevices.isEmpty { selector.append("rootDevices=\(nic.rootDevices.joined(separator: ","))") }
            if !nic.pfNames.isEmpty {
                selector.append("pfNames=\(nic.pfNames.map(\.description).joined(separator: ","))")
            }
            rows.append([
                policy.name, String(spec.priority), String(spec.numVfs), spec.resourceName,
                spec.deviceType.rawValue + (spec.isRdma ? " rdma" : ""), spec.mtu.map(String.init) ?? "-",
                selector.joined(separator: " "),
                spec.nodeSelector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","),
            ])
        }
        return alignedColumns(rows)
    }
}
