// Fuzz target for the manifest decoders (policies, networks) and validators. Built two ways:
// - scripts/fuzz-policy builds it with -sanitize=fuzzer -DFUZZING: main hands control
//   to libFuzzer's driver (SwiftPM names an executable's entry point itself, so
//   libFuzzer's own main cannot be used);
// - a plain build replays the files it is given (crashes, corpus).
// Every input must end in policies or problems: no crash, no hang, no trap.
import Capability
import FuzzDriver
import SRIOVHost
import SRIOVModel

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
    // The same text read as SriovNetworks (their JSON strings included), rendered as `export network` does.
    let networks = SriovNetworkDecoder.decode(text, file: "fuzz.yaml").networks
    _ = try? NetworkAttachment.yaml(networks, prefix: ResourcePrefix.standard)
    return 0
}

@main
struct PolicyFuzzerMain {
    static func main() throws {
        try FuzzDriver.run(fuzzPolicy, replaying: Array(CommandLine.arguments.dropFirst()))
    }

}
