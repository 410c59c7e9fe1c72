/// Whole milliseconds, saturating rather than trapping for durations beyond Int's range.
package func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = (Int(duration.components.seconds), duration.components.attoseconds)
    let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
    guard !overflow else { return seconds < 0 ? .min : .max }
    let (sum, carry) = whole.addingReportingOverflow(Int(attoseconds / 1_000_000_000_000_000))
    return carry ? (seconds < 0 ? .min : .max) : sum
}

/// Seconds for messages, to a tenth: "60", "0.5".
package func seconds(_ duration: Duration) -> String {
    let total = milliseconds(duration)
    let tenths = total / 100 + (total % 100 >= 50 ? 1 : 0)
    return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
}
