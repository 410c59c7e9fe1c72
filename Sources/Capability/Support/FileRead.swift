import SystemPackage

extension FileDescriptor {
    /// The bytes from the current offset to the end of the file. With `limit`, reading
    /// stops once more than `limit` bytes are in, so that a caller that refuses large
    /// files does not read all of one to find that out. `chunk` is the size of one read.
    /// swift-system retries a read that a signal interrupted (EINTR).
    public func readToEnd(limit: Int = .max, chunk: Int = 65536) throws(Errno) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunk)
        while bytes.count <= limit {
            let count: Int
            do {
                count = try buffer.withUnsafeMutableBytes { try read(into: $0) }
            } catch {
                throw error as? Errno ?? .ioError
            }
            if count == 0 { break }
            bytes += buffer[..<count]
        }
        return bytes
    }
}
