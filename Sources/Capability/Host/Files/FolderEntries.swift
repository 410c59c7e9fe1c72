#if canImport(Glibc)
    import Glibc
#endif

/// Calls `body` with each name in an open folder stream (`opendir`, `fdopendir`), without `.` and `..`:
/// the one readdir loop, for sysfs listings and the root writer's.
package func forEachEntry(of folder: OpaquePointer, _ body: (_ name: String) -> Void) {
    while let entry = readdir(folder) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != ".", name != ".." { body(name) }
    }
}
