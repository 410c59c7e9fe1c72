import SRIOVHost
import SRIOVModel
import SystemPackage

/// Puts generated files under a root through the one writer, or says what it would do.
public struct FileInstaller: Sendable {
    public struct Change: Sendable {
        public var path: String
        public var outcome: WriteOutcome
        /// A unified diff (text), a note (binary, link); empty when unchanged.
        public var diff: String
    }

    public let writer: RootWriter

    public init(writer: RootWriter) { self.writer = writer }

    /// What writing `files` would change, with diffs; writes nothing.
    public func preview(_ files: [GeneratedFile]) throws(SRIOVError) -> [Change] {
        var changes: [Change] = []
        for file in files {
            let display = writer.root.display(file.path)
            switch file.content {
            case let .symlink(target):
                let current = try writer.readLink(file.path)
                let outcome: WriteOutcome = current == target ? .unchanged : current == nil ? .created : .updated
                changes.append(
                    Change(
                        path: display, outcome: outcome,
                        diff: outcome == .unchanged
                            ? "" : "link \(display) -> \(target)\(current.map { " (was -> \($0))" } ?? "")\n"))
            case let .text(text): changes.append(try previewFile(file.path, Array(text.utf8), text: text))
            case let .bytes(bytes): changes.append(try previewFile(file.path, bytes, text: nil))
            }
        }
        return changes
    }

    /// What writing `bytes` to `path` would change: a unified diff when the new content is
    /// `text` and the current one is UTF-8 too, else a one-line note.
    private func previewFile(_ path: FilePath, _ bytes: [UInt8], text: String?) throws(SRIOVError) -> Change {
        let display = writer.root.display(path)
        let current = try writer.read(path)
        let outcome: WriteOutcome = current == bytes ? .unchanged : current == nil ? .created : .updated
        var diff = ""
        if outcome != .unchanged {
            if let text, current.map({ String(validating: $0, as: UTF8.self) != nil }) ?? true {
                diff = UnifiedDiff.render(
                    old: current.map { String(decoding: $0, as: UTF8.self) }, new: text, path: display)
            } else {
                diff = "Binary files \(current == nil ? "/dev/null" : "a" + display) and b\(display) differ\n"
            }
        }
        return Change(path: display, outcome: outcome, diff: diff)
    }

    /// Checks that every file can be written (`RootWriter.check`) and writes none: a
    /// refusal found here leaves the root exactly as it was.
    public func check(_ files: [GeneratedFile]) throws(SRIOVError) {
        for file in files {
            if case .symlink = file.content {
                try writer.check(file.path, as: .symlink)
            } else {
                try writer.check(file.path, as: .file)
            }
        }
        try checkSpace(files)
    }

    /// Every file system the files go to has room for them, so that no write in the middle fails with ENOSPC
    /// (a full persistent partition). A file is written next to the old one, then renamed over it: each new
    /// file needs its whole size, plus a block for the folder; one whose size is what is there now counts as
    /// unchanged.
    private func checkSpace(_ files: [GeneratedFile]) throws(SRIOVError) {
        var needed: [UInt: (bytes: UInt64, free: UInt64, path: FilePath)] = [:]
        for file in files {
            let size: UInt64
            switch file.content {
            case .symlink: size = 0
            case let .text(text): size = UInt64(text.utf8.count)
            case let .bytes(bytes): size = UInt64(bytes.count)
            }
            let space = try writer.space(for: file.path)
            guard size != space.current || size == 0 else { continue }
            needed[space.filesystem, default: (0, space.free, file.path)].bytes += size + 4096
        }
        for (_, need) in needed.sorted(by: { $0.key < $1.key }) where need.bytes > need.free {
            throw .io(
                path: writer.root.display(need.path.removingLastComponent()), operation: "write to",
                errno: .noSpace,
                hint: "the files need \((need.bytes + 1023) / 1024) KiB on its file system and \(need.free / 1024) KiB "
                    + "are free; free space there and run again (nothing was written)")
        }
    }

    /// Checks every file, then writes them; each is atomic and untouched when already right.
    public func apply(_ files: [GeneratedFile]) throws(SRIOVError) -> [Change] {
        try check(files)
        var changes: [Change] = []
        for file in files {
            let outcome: WriteOutcome
            switch file.content {
            case let .symlink(target): outcome = try writer.symlink(file.path, to: target)
            case let .text(text): outcome = try writer.write(file.path, Array(text.utf8), mode: file.mode)
            case let .bytes(bytes): outcome = try writer.write(file.path, bytes, mode: file.mode)
            }
            changes.append(Change(path: writer.root.display(file.path), outcome: outcome, diff: ""))
        }
        return changes
    }
}
