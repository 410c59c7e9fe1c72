import FoundationEssentials

/// Left-aligned columns two spaces apart; the last column is not padded.
/// Widths count Unicode scalars: cells are IDs, names and pci.ids text.
package func alignedColumns(_ rows: [[String]]) -> String {
    let widths = rows[0].indices.map { column in rows.map { $0[column].unicodeScalars.count }.max() ?? 0 }
    var out = ""
    for row in rows {
        var line = ""
        for (column, cell) in row.enumerated() {
            if column > 0 { line += "  " }
            line += cell
            if column < row.count - 1 {
                line += String(repeating: " ", count: widths[column] - cell.unicodeScalars.count)
            }
        }
        while line.utf8.last == UInt8(ascii: " ") { line.removeLast() }
        out += line + "\n"
    }
    return out
}

/// Pretty JSON with a trailing newline. Optionals are written as `null`, never left out.
package func encodeJSON(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    // Encoding these plain value types cannot fail (no floats, no custom encoders that
    // throw); were it to, `null` is valid JSON and says nothing was there.
    guard let data = try? encoder.encode(value) else { return "null\n" }
    return String(decoding: data, as: UTF8.self) + "\n"
}
