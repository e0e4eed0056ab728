import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// `tools/make_tokenizer_cases.py` ran transformers' BertTokenizer on the real
/// bert-base-uncased vocabulary over 340 varied strings; ours must give the same ids.
@Suite struct TokenizerParityTests {
    struct Case: Decodable {
        let text: String
        let ids: [Int32]
    }

    let tokenizer: BertTokenizer
    let cases: [Case]

    init() throws {
        tokenizer = try BertTokenizer(vocabularyURL: Fixtures.vocabulary)
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizer_cases.json"))
        cases = try JSONDecoder().decode([Case].self, from: data)
    }

    @Test func everyCaseMatchesBertTokenizer() {
        #expect(cases.count >= 300)
        var mismatches: [String] = []
        for testCase in cases {
            let ours = tokenizer.encode(testCase.text, maxLength: 512).ids
            if ours != testCase.ids {
                mismatches.append("\(testCase.text.debugDescription.prefix(80)): expected \(testCase.ids.prefix(20)), got \(ours.prefix(20))")
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) differ:\n\(mismatches.prefix(15).joined(separator: "\n"))")
    }

    @Test func knownCaptionFromTheSpec() {
        #expect(tokenizer.encode("a photo of a dog", maxLength: 512).ids == [101, 1037, 6302, 1997, 1037, 3899, 102])
    }

    @Test func longTextIsTruncatedKeepingSeparator() {
        let ids = tokenizer.encode(String(repeating: "dog ", count: 100), maxLength: 32).ids
        #expect(ids.count == 32)
        #expect(ids.first == tokenizer.classID)
        #expect(ids.last == tokenizer.separatorID)
    }

    @Test func emptyOrControlOnlyTextIsRefused() {
        #expect(throws: TokenizerError.emptyText) { try tokenizer.encodeNonEmpty("", maxLength: 512) }
        #expect(throws: TokenizerError.emptyText) { try tokenizer.encodeNonEmpty(" \t\u{200B}\n", maxLength: 512) }
    }

    @Test func missingVocabularyNamesTheFile() {
        let url = URL(fileURLWithPath: "/nonexistent/vocab.txt")
        #expect {
            _ = try BertTokenizer(vocabularyURL: url)
        } throws: { error in
            "\(error)".contains("/nonexistent/vocab.txt")
        }
    }
}
