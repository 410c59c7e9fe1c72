import ArgumentParser
import Capability

/// `--root` and `--layout`, shared by every command that reads or writes stored state.
struct RootOptions: ParsableArguments {
    @Option(
        help:
            "The system to read or write: / on a running node, the mounted target (/run/cos/target) during installation."
    )
    var root = "/"

    @Option(
        help:
            "fhs (generic distribution) or harvester (Elemental: /oem and /usr/local). Default: harvester when the root has /oem."
    )
    var layout: LayoutOption?

    func resolve() throws(SRIOVError) -> (root: TargetRoot, layout: Layout) {
        let root = try TargetRoot(self.root)
        return (root, layout?.layout ?? Layout.detect(root))
    }

    func store() throws(SRIOVError) -> StateStore {
        let (root, layout) = try resolve()
        return StateStore(root: root, layout: layout)
    }
}

enum LayoutOption: String, ExpressibleByArgument, CaseIterable {
    case fhs, harvester
    var layout: Layout { Layout(rawValue: rawValue)! }
}
