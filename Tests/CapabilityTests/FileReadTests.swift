import Foundation
import SystemPackage
import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// The one read-to-end loop that policy files, RootWriter and `install` (its own binary) use.
@Suite struct FileReadTests {
    static let text = String((0..<1000).map { Character(UnicodeScalar(UInt8(0x61 + $0 % 26))) })

    /// Chunks smaller than the file, of a size that does not divide it: every byte, in order.
    @Test(arguments: [1, 7, 999, 1000, 65536])
    func readsAFileLargerThanOneChunkWhole(chunk: Int) throws {
        let folder = try TemporaryFolder()
        try folder.write("file", Self.text)
        let fd = try FileDescriptor.open(FilePath(folder.path("file")), .readOnly)
        defer { try? fd.close() }
        #expect(try fd.readToEnd(chunk: chunk) == Array(Self.text.utf8))
    }

    /// With a limit, reading stops at the first chunk that takes it past the limit.
    @Test func stopsOnceMoreThanTheLimitIsRead() throws {
        let folder = try TemporaryFolder()
        try folder.write("file", Self.text)
        let fd = try FileDescriptor.open(FilePath(folder.path("file")), .readOnly)
        defer { try? fd.close() }
        #expect(try fd.readToEnd(limit: 25, chunk: 10) == Array(Self.text.utf8.prefix(30)))
    }

    /// An endless "file" is refused, not read for ever: it is not a regular file (issue 19: every file we did
    /// not write is looked at with fstat before a byte is read).
    @Test func aPolicyFileBeyondTheLimitIsAProblemEvenWhenItNeverEnds() {
        let input = PolicyInput.load(["/dev/zero"])
        #expect(
            input.problems.map(\.description) == [
                "/dev/zero: cannot read: it is a character device, not a regular file; give the path of a file"
            ])
    }

    @Test func aReadErrorIsItsErrno() throws {
        let folder = try TemporaryFolder()
        let fd = try FileDescriptor.open(FilePath(folder.path("")), .readOnly)
        defer { try? fd.close() }
        #expect(throws: Errno.isDirectory) { try fd.readToEnd() }
    }
}
