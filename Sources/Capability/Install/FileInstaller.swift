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
            case .text, .bytes:
                let bytes = Self.bytes(file)
                let current = try writer.read(file.path)
                let outcome: WriteOutcome = current == bytes ? .unchanged : current == nil ? .created : .updated
                var diff = ""
                if outcome != .unchanged {
                    if case let .text(text) = file.content,
                        current.map({ String(validating: $0, as: UTF8.self) != nil }) ?? true
                    {
                        diff = UnifiedDiff.render(
                            old: current.map { String(decoding: $0, as: UTF8.self) }, new: text, path: display)
                    } else {
                        diff = "Binary files \(current == nil ? "/dev/null" : "a" + display) and b\(display) differ\n"
                    }
                }
                changes.append(Change(path: display, outcome: outcome, diff: diff))
            }
        }
        return changes
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
    }

    /// Checks every file, then writes them; each is atomic and untouched when already right.
    public func apply(_ files: [GeneratedFile]) throws(SRIOVError) -> [Change] {
        try check(files)
        var changes: [Change] = []
        for file in files {
            let outcome: WriteOutcome
            switch file.content {
            case let .symlink(target): outcome = try writer.symlink(file.path, to: target)
            case .text, .bytes: outcome = try writer.write(file.path, Self.bytes(file), mode: file.mode)
            }
            changes.append(Change(path: writer.root.display(file.path), outcome: outcome, diff: ""))
        }
        return changes
    }

    static func bytes(_ file: GeneratedFile) -> [UInt8] {
        switch file.content {
        case let .text(text): Array(text.utf8)
        case let .bytes(bytes): bytes
        case let .symlink(target): Array(target.utf8)
        }
    }
}
