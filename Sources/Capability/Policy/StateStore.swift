/// Reads and writes the desired state under a root.
public struct StateStore: Sendable {
    public let writer: RootWriter
    public let layout: Layout

    public init(root: TargetRoot, layout: Layout) {
        writer = RootWriter(root: root, layout: layout)
        self.layout = layout
    }

    public var displayPath: String { writer.root.display(layout.stateFile) }

    /// The stored state, or an empty one when none is stored yet.
    public func load() throws(SRIOVError) -> DesiredState {
        guard let bytes = try writer.read(layout.stateFile) else { return .empty }
        return try DesiredState.decode(bytes, file: displayPath)
    }

    @discardableResult
    public func save(_ state: DesiredState) throws(SRIOVError) -> WriteOutcome {
        try writer.write(layout.stateFile, state.jsonBytes, mode: 0o644)
    }
}
