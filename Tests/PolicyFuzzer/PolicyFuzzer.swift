import Capability

// Fuzz target for the manifest decoder and validators. Built two ways:
// - scripts/fuzz-policy builds it with -sanitize=fuzzer -DFUZZING: main hands control
//   to libFuzzer's driver (SwiftPM names an executable's entry point itself, so
//   libFuzzer's own main cannot be used);
// - a plain build replays the files it is given (crashes, corpus).
// Every input must end in policies or problems: no crash, no hang, no trap.
#if canImport(Glibc)
    import Glibc
#endif

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let decoded = PolicyDecoder.decode(text, file: "fuzz.yaml")
    // The cross-policy rules and resolution must cope with whatever decoded.
    let origins = Dictionary(decoded.policies.map { ($0.name, "fuzz.yaml") }, uniquingKeysWith: { first, _ in first })
    _ = PolicyRules.checkSet(decoded.policies, origins: origins)
    let host = HostInventory(node: "fuzz", interfaces: [], unusable: [])
    _ = PlanResolver.resolve(decoded.policies, host: host, labels: [:])
    // A decoded policy round-trips through the stored state.
    _ = DesiredState(policies: decoded.policies).jsonBytes
    return 0
}

#if FUZZING
    // libFuzzer's C entry point keeps its C name.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    @_silgen_name("LLVMFuzzerRunDriver")
    func LLVMFuzzerRunDriver(
        _ argc: UnsafeMutablePointer<Int32>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32
    ) -> Int32
#endif

@main
struct PolicyFuzzerMain {
    static func main() throws {
        #if FUZZING
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzPolicy(data, size) })
        #else
            for path in CommandLine.arguments.dropFirst() {
                let bytes = try readFile(path)
                _ = bytes.withUnsafeBufferPointer {
                    fuzzPolicy($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count)
                }
                print("ok \(path)")
            }
        #endif
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "rb") else { throw ReplayError(path: path) }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { return bytes }
            bytes += buffer[..<count]
        }
    }

    struct ReplayError: Error { let path: String }
}
