import SRIOVHost
import SRIOVModel

extension DevicePluginConfig {
    /// `export device-plugin --write`: installs the config where the device plugin reads it, through the atomic
    /// writer (a second run with the same plan changes nothing).
    public func install(under root: TargetRoot) throws(SRIOVError) -> WriteOutcome {
        try RootWriter(root: root).write(Self.path, Array(json().utf8))
    }
}
