import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// `install`, `uninstall` and `label`: render the files for a root, then write them
/// through the one writer, or preview them.
public struct NodeInstallation: Sendable {
    public let root: TargetRoot
    public let options: InstallOptions

    public init(root: TargetRoot, options: InstallOptions) {
        self.root = root
        self.options = options
    }

    var writer: RootWriter { RootWriter(root: root, layout: options.layout) }
    var installer: FileInstaller { FileInstaller(writer: writer) }
    var store: StateStore { StateStore(root: root, layout: options.layout) }

    /// On a booted Harvester node yip applies the /oem file only at the next boot, so the
    /// files it would write under /etc are written now too. Not in the installer's
    /// chroot (Elemental's live mode), where /etc is the image's, not the node's.
    var appliesNow: Bool {
        options.layout == .harvester && root.isLiveHost && Layout.isBootedElemental
    }

    /// Everything `install` puts in place; the state file when none exists or it records another label key.
    public func installFiles(label: CapabilityLabel, binary: [UInt8]) throws(SRIOVError) -> [GeneratedFile] {
        var files = try NodeFiles.installFiles(options, label: label, binary: binary, applyNow: appliesNow)
        if let state = try stateRecording(label) { files.append(state) }
        return files
    }

    /// The state with `label`'s key recorded (`DesiredState.labelKey`), so that policies are matched against
    /// the key the node carries; nil when the stored state records it already. A state that cannot be read is
    /// left alone for the default key (as before there was a key to record) and refused for another.
    func stateRecording(_ label: CapabilityLabel) throws(SRIOVError) -> GeneratedFile? {
        let path = options.layout.stateFile
        let key = DesiredState.storedKey(label.key)
        guard let bytes = try store.writer.read(path) else {
            return GeneratedFile(path, .bytes(DesiredState(labelKey: key).jsonBytes))
        }
        var state: DesiredState
        do {
            state = try DesiredState.decodeUnchecked(bytes, file: store.displayPath)
        } catch {
            if key == nil { return nil }
            throw error
        }
        guard state.labelKey != key else { return nil }
        state.labelKey = key
        return GeneratedFile(path, .bytes(state.jsonBytes))
    }

    /// Writes the recorded key under the state lock, so that it cannot replace policies that a `policy apply`
    /// stored since `stateRecording` looked.
    private func recordKey(_ label: CapabilityLabel) throws(SRIOVError) -> FileInstaller.Change {
        let key = DesiredState.storedKey(label.key)
        let update = try store.update(checkingRules: false) { (state: inout DesiredState) throws(SRIOVError) in
            state.labelKey = key
        }
        return FileInstaller.Change(path: store.displayPath, outcome: update.outcome, diff: "")
    }

    public func install(
        label: CapabilityLabel, binary: [UInt8], dryRun: Bool
    ) throws(SRIOVError) -> [FileInstaller.Change] {
        let files = try installFiles(label: label, binary: binary)
        guard !dryRun else { return try installer.preview(files) }
        let state = options.layout.stateFile
        var changes = try installer.apply(files.filter { $0.path != state })
        if files.contains(where: { $0.path == state }) { changes.append(try recordKey(label)) }
        return changes
    }

    /// The label files, and the state when it must record another key (`stateRecording`).
    public func label(_ label: CapabilityLabel, dryRun: Bool) throws(SRIOVError) -> [FileInstaller.Change] {
        let files = try NodeFiles.labelFiles(options, label: label, applyNow: appliesNow)
        let state = try stateRecording(label)
        guard !dryRun else { return try installer.preview(files + (state.map { [$0] } ?? [])) }
        try installer.check(files + (state.map { [$0] } ?? []))
        var changes = try installer.apply(files)
        if state != nil { changes.append(try recordKey(label)) }
        return changes
    }

    /// Removes exactly the files `install` writes; the stored policies only with `purge`.
    /// Temporary files that killed writes of these files (the state file included) left
    /// behind go too, and are listed.
    public func uninstall(purge: Bool) throws(SRIOVError) -> [FileInstaller.Change] {
        let paths = try NodeFiles.installedPaths(options) + [options.layout.stateFile]
        let writer = self.writer
        // The folders a purge removes, checked before anything is: a link or a file planted there would stop
        // it halfway, with the binary and units gone and every later run stopped the same way.
        if purge {
            for folder in [options.layout.policiesFolder, options.layout.stateFile.removingLastComponent()] {
                try writer.checkFolder(folder)
            }
        }
        var changes: [FileInstaller.Change] = []
        for path in paths {
            for stale in try writer.removeStaleTemporaries(of: path) {
                changes.append(FileInstaller.Change(path: root.display(stale), outcome: .removed, diff: ""))
            }
            if path != options.layout.stateFile {
                let outcome = try writer.remove(path)
                changes.append(FileInstaller.Change(path: root.display(path), outcome: outcome, diff: ""))
            }
        }
        if purge {
            let removed = try store.purge()
            changes.append(FileInstaller.Change(path: store.displayPath, outcome: removed.state, diff: ""))
            changes.append(FileInstaller.Change(path: store.lockDisplayPath, outcome: removed.lock, diff: ""))
            // The state's folder is ours (the label patch lived there too), and so is an
            // empty drop-in folder; drop-in files an admin left there stay, and so does the folder.
            for folder in [options.layout.policiesFolder, options.layout.stateFile.removingLastComponent()]
            where try writer.removeFolderIfEmpty(folder) == .removed {
                changes.append(FileInstaller.Change(path: root.display(folder), outcome: .removed, diff: ""))
            }
        }
        return changes
    }

    /// The running program's own bytes, to install a copy of it.
    public static func runningExecutable() throws(SRIOVError) -> [UInt8] {
        let path: FilePath = "/proc/self/exe"
        do {
            let fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
            defer { try? fd.close() }
            // Larger reads for a file of tens of MB.
            return try fd.readToEnd(chunk: 1 << 20)
        } catch {
            throw .io(path: path.string, operation: "read", errno: error as? Errno ?? .ioError)
        }
    }
}
