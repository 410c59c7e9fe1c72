/// Lowercase hex, zero-padded to `width` digits: the form pci.ids, sysfs and the
/// operator use for IDs, PCI addresses and MACs. Public for the test beds, which write
/// sysfs in the same form.
public func hex(_ value: some BinaryInteger, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

/// `0x8086` as sysfs writes IDs, to `8086` as `new_id` and `remove_id` read them.
package func withoutHexPrefix(_ text: String) -> String {
    text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
}
