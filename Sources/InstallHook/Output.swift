import Capability
import SRIOVHost
import SRIOVModel
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Every byte of data for stdout goes through here. print() buffers and drops write
/// errors, so `detect --json > /dev/full` exited 0 and a full disk cut the JSON short;
/// here a failed or short write that cannot be completed ends the run with one line on
/// stderr and exit status 74 (EX_IOERR).
func output(_ text: String, terminator: String = "\n") {
    let bytes = Array((text + terminator).utf8)
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { buffer -> Int in
            guard let base = buffer.baseAddress else { return 0 }
            return write(STDOUT_FILENO, base + offset, buffer.count - offset)
        }
        if count > 0 {
            offset += count
        } else if count < 0, errno == EINTR {
            continue
        } else {
            // write(2) returning 0 for a non-empty buffer would loop for ever: an I/O error.
            let code = Errno(rawValue: count < 0 ? errno : EIO)
            let symbol = SRIOVError.symbol(code)
            printError("harvester-sriov: writing to standard output failed: \(code.description) (\(symbol))")
            exit(74)
        }
    }
}
