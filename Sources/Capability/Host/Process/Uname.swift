import SRIOVModel

#if canImport(Glibc)
    import Glibc
#endif

/// One field of uname(2) (`\.nodename`, `\.release`), or "" when the call fails.
func uname<Field>(_ field: KeyPath<utsname, Field>) -> String {
    var names = utsname()
    guard Glibc.uname(&names) == 0 else { return "" }
    return withUnsafeBytes(of: names[keyPath: field]) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
}
