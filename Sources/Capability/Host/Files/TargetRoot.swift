import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// The root folder harvester-sriov writes into: `/` on a running node, the mounted
/// new system (`/run/cos/target`) during installation.
public struct TargetRoot: Sendable {
    public let path: FilePath
    /// Where the node's `/usr/local` (the persistent partition) is, under this root: `usr/local`,
    /// or Elemental 2's `run/elemental/persistent` in its after-install chroot (`PersistentMount`).
    public private(set) var usrLocal: FilePath = "usr/local"

    /// `--root` must be an absolute path to an existing folder: a relative one would
    /// depend on the installer's working directory.
    public init(_ text: String) throws(SRIOVError) {
        guard text.hasPrefix("/") else {
            throw .usage("--root \(text): must be an absolute path, e.g. --root /run/cos/target")
        }
        var status = stat()
        guard stat(text, &status) == 0 else {
            let code = Errno(rawValue: errno)
            throw .usage(
                "--root \(text): \(code.description) (\(SRIOVError.symbol(code))); "
                    + "mount the target system first or pass the right path")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw .usage("--root \(text): is not a folder") }
        path = FilePath(text).lexicallyNormalized()
    }

    /// True when the root is this running system, so live-host checks apply.
    public var isLiveHost: Bool {
        var here = stat()
        var there = stat()
        guard stat("/", &here) == 0, stat(path.string, &there) == 0 else { return false }
        return here.st_dev == there.st_dev && here.st_ino == there.st_ino
    }

    /// This root, with the node's `/usr/local` written where `persistent` says it is mounted.
    public func writing(to persistent: PersistentMount) -> TargetRoot {
        var copy = self
        copy.usrLocal = persistent.usrLocal
        return copy
    }

    /// Where `relative` (a path as the booted node sees it) is under this root now.
    public func physical(_ relative: FilePath) -> FilePath {
        guard usrLocal != "usr/local", relative.starts(with: "usr/local") else { return relative }
        return usrLocal.appending(relative.components.dropFirst(2))
    }

    /// The full path of `relative` under the root, for messages.
    public func display(_ relative: FilePath) -> String {
        let relative = physical(relative)
        return path == "/" ? "/" + relative.string : path.appending(relative.components).string
    }
}

/// Where things live under a root.
public enum Layout: String, Sendable, CaseIterable {
    /// A generic distribution: state in /etc, binary in /usr/local/bin.
    case fhs
    /// Harvester's Elemental OS: only /oem and /usr/local persist, so state and binary
    /// go under /usr/local and the rest is written at every boot by a yip file in /oem.
    case harvester

    /// `harvester` when the root has Elemental's /oem partition, else `fhs`.
    public static func detect(_ root: TargetRoot) -> Layout {
        var status = stat()
        return stat(root.path.appending("oem").string, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
            ? .harvester : .fhs
    }

    /// True on an installed Elemental node booted from its active or passive image;
    /// false in the installer's live system and in a recovery boot.
    public static var isBootedElemental: Bool {
        access("/run/cos/active_mode", F_OK) == 0 || access("/run/cos/passive_mode", F_OK) == 0
    }

    /// The desired-state file, relative to the root.
    public var stateFile: FilePath {
        switch self {
        case .fhs: "etc/harvester-sriov/state.json"
        case .harvester: "usr/local/etc/harvester-sriov/state.json"
        }
    }

    /// The drop-in policy folder beside the state: its `*.yaml` manifests apply together
    /// with the stored policies (plan, restore, status) without `policy apply`.
    public var policiesFolder: FilePath { stateFile.removingLastComponent().appending("policies.d") }
}
