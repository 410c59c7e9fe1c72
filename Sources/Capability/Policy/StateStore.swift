/// Reads and writes the desired state under a root.
public struct StateStore: Sendable {
    public let writer: RootWriter
    public let layout: Layout

    public init(root: TargetRoot, layout: Layout) {
        writer = RootWriter(root: root, layout: layout)
        self.layout = layout
    }

    public var displayPath: String { writer.root.display(layout.stateFile) }

    /// The stored state, or an empty one when none is stored yet. `checkingRules: false`
    /// skips the manifest rules (not the form), for `policy remove` to mend a bad state.
    public func load(checkingRules: Bool = true) throws(SRIOVError) -> DesiredState {
        guard let bytes = try writer.read(layout.stateFile) else { return .empty }
        return checkingRules ? try DesiredState.decode(bytes, file: displayPath)
                             : try DesiredState.decodeUnchecked(bytes, file: displayPath)
    }

    @discardableResult
    public func save(_ state: DesiredState) throws(SRIOVError) -> WriteOutcome {
        try writer.write(layout.stateFile, state.jsonBytes, mode: 0o644)
    }
}
