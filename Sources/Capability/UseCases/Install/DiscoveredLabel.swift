import SRIOVHost
import SRIOVModel

extension CapabilityLabel {
    /// The label for this host as discovery finds it now, under `key`: what `install` and `label` set.
    public static func discovered(key: String) throws(SRIOVError) -> CapabilityLabel {
        try CapabilityLabel(key: key, capable: try HostDiscovery.discover().capable)
    }
}
