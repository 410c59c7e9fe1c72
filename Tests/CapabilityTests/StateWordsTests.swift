import Testing

@testable import Capability
@testable import SRIOVHost
@testable import SRIOVModel

/// Issue 19: a state file of the wrong shape is one line in plain words: which field, what was expected, what to
/// do; never the decoder's words ("keyed decoding container", "Dictionary<String, Any>").
@Suite struct StateWordsTests {
    func message(_ text: String) -> String {
        do {
            _ = try DesiredState.decode(Array(text.utf8), file: "/s.json")
            return "decoded"
        } catch {
            return error.description
        }
    }

    static let base = #"{"schemaVersion":1,"policies":[],"nodeLabels":{},"cards":[]}"#

    @Test(arguments: [
        "null", "[1,2]", #"{"policies":{}}"#, #"{"schemaVersion":1.5,"policies":[],"nodeLabels":{},"cards":[]}"#,
        #"{"schemaVersion":12345678901234567890123,"policies":[],"nodeLabels":{},"cards":[]}"#,
        #"{"schemaVersion":1,"policies":{},"nodeLabels":{},"cards":[]}"#,
        #"{"schemaVersion":1,"policies":[],"nodeLabels":{"a":1},"cards":[]}"#, "{", "",
        #"{"schemaVersion":1,"policies":[{"name":"p"}],"nodeLabels":{},"cards":[]}"#,
    ])
    func aStateOfTheWrongShapeIsPlainWords(_ text: String) {
        let line = message(text)
        #expect(!line.contains("decoding container"), "\(line)")
        #expect(!line.contains("Dictionary<"), "\(line)")
        #expect(!line.contains("Swift"), "\(line)")
        #expect(!line.contains("\n"), "\(line)")
        #expect(line.hasPrefix("/s.json: is not a harvester-sriov state file ("), "\(line)")
        #expect(line.hasSuffix("); restore it from a backup, or remove it and apply the policies again"), "\(line)")
    }

    @Test(arguments: [
        ("null", "the whole file must be an object, found null"),
        ("[1,2]", "the whole file must be an object, found a list"),
        (#"{"policies":{}}"#, "the field schemaVersion is missing"),
        (
            #"{"schemaVersion":1.5,"policies":[],"nodeLabels":{},"cards":[]}"#,
            "schemaVersion must be a whole number, found 1.5"
        ),
        (
            #"{"schemaVersion":12345678901234567890123,"policies":[],"nodeLabels":{},"cards":[]}"#,
            "schemaVersion must be a whole number of at most 18 digits, found 12345678901234567890123"
        ),
        (#"{"schemaVersion":1,"policies":{},"nodeLabels":{},"cards":[]}"#, "policies must be a list, found an object"),
        ("{", "it is not valid JSON"),
    ])
    func whatIsWrongIsSaid(text: String, words: String) {
        #expect(
            message(text)
                == "/s.json: is not a harvester-sriov state file (\(words)); restore it from a backup, or remove it "
                + "and apply the policies again")
    }
}
