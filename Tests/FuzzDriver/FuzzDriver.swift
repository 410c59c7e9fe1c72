import Capability
import SRIOVHost
import SRIOVModel
import SystemPackage

// What the fuzz targets share. Built with -sanitize=fuzzer -DFUZZING (scripts/fuzz-*),
// `run` hands control to libFuzzer's driver (SwiftPM names an executable's entry point
// itself, so libFuzzer's own main cannot be used); in a plain build it replays the files
// it is given (crashes, corpus, kept regressions).
#if canImport(Glibc)
    import Glibc
#endif

#if FUZZING
    // libFuzzer's C entry point keeps its C name.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @_silgen_name("LLVMFuzzerRunDriver")
    private func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
    ) -> Int32
#endif

public enum FuzzDriver {
    /// One fuzz input: every input must end normally, with no crash, hang or trap.
    public typealias Target = @convention(c) (UnsafePointer<UInt8>, Int) -> Int32

    /// Fuzzes `target` under libFuzzer, or replays `paths` through it, printing `ok PATH` each.
    public static func run(_ target: Target, replaying paths: [String]) throws {
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv, target))
        #else
            for path in paths {
                let bytes = try readFile(path)
                _ = bytes.withUnsafeBufferPointer { buffer in
                    // An empty input still needs a pointer; it is never read.
                    target(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, buffer.count)
                }
                print("ok \(path)")
            }
        #endif
    }

    public static func readFile(_ path: String) throws -> [UInt8] {
        let file = try FileDescriptor.open(FilePath(path), .readOnly, options: [.closeOnExec])
        defer { try? file.close() }
        return try file.readToEnd()
    }
}
