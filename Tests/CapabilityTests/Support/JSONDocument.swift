import Foundation

/// A parsed JSON document, indexed by keys and array positions: `doc["interfaces", 0, "name"]`.
struct JSONDocument {
    let root: Any

    init(_ text: String) throws {
        root = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    subscript(_ path: Any...) -> Any? {
        var current: Any? = root
        for step in path {
            switch (current, step) {
            case let (object as [String: Any], key as String): current = object[key]
            case let (array as [Any], index as Int): current = index < array.count ? array[index] : nil
            default: return nil
            }
        }
        return current
    }
}
