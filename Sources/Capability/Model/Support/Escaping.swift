/// User or API text made safe for one line of a message: control characters (C0, DEL, C1, and the line and
/// paragraph separators) are shown escaped (`\n`, `\t`, `\r`, `\u{1b}`), so a name or an API message can
/// neither split one problem over two lines nor send escape sequences to the terminal. Used where messages are
/// built (SRIOVError, PolicyProblem, the cluster's failure messages).
public func escapingControls(_ text: some StringProtocol) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return String(text) }
    var escaped = ""
    for scalar in text.unicodeScalars {
        guard isControl(scalar) else {
            escaped.unicodeScalars.append(scalar)
            continue
        }
        switch scalar {
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        case "\r": escaped += "\\r"
        default: escaped += "\\u{\(String(scalar.value, radix: 16))}"
        }
    }
    return escaped
}

/// A word as a POSIX shell reads it back: as it is when it is made of safe characters only, else in single
/// quotes, or in bash's `$'...'` when it holds control characters (which then stay on one line).
public func shellQuoted(_ word: String) -> String {
    let safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-"
    if !word.isEmpty, word.unicodeScalars.allSatisfy({ $0.isASCII && safe.unicodeScalars.contains($0) }) {
        return word
    }
    guard word.unicodeScalars.contains(where: isControl) else {
        return "'" + word.replacing("'", with: #"'\''"#) + "'"
    }
    var quoted = "$'"
    for scalar in word.unicodeScalars {
        switch scalar {
        case "\\": quoted += "\\\\"
        case "'": quoted += "\\'"
        case "\n": quoted += "\\n"
        case "\t": quoted += "\\t"
        case "\r": quoted += "\\r"
        default:
            if isControl(scalar), scalar.value < 0x100 {
                quoted += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            } else if isControl(scalar) {
                quoted +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            } else {
                quoted.unicodeScalars.append(scalar)
            }
        }
    }
    return quoted + "'"
}

private func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
}
