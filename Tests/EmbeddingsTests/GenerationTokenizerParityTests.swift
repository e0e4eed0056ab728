import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// Our OPT/GPT-2 and T5 tokenizers against transformers' slow and fast tokenizers on 330
/// strings (unicode, emoji, CJK, whitespace runs, control characters, very long text), with
/// real vocabularies: GPT-2's BPE (rebuilt from openai-whisper's gpt2.tiktoken) and the
/// sentencepiece sdist's English and Japanese unigram test models.
@Suite struct GenerationTokenizerParityTests {
    struct Reference: Decodable {
        let ids: [[Int32]]
        let decoded: [String]
    }

    struct Cases: Decodable {
        let strings: [String]
        let gpt2: [String: Reference]
        let spEn: [String: Reference]
        let spJa: [String: Reference]

        enum CodingKeys: String, CodingKey {
            case strings, gpt2
            case spEn = "sp-en"
            case spJa = "sp-ja"
        }
    }

    let cases: Cases

    init() throws {
        let data = try Data(contentsOf: Fixtures.root.appendingPathComponent("tokenizer_cases_generation.json"))
        cases = try JSONDecoder().decode(Cases.self, from: data)
    }

    /// Differences between ours and `reference`, one line each. With `agreeing`, only the
    /// strings where that other reference gives the same ids (encode) or text (decode) count.
    func mismatches(_ tokenizer: some GenerationTokenizer, _ reference: Reference, agreeing other: Reference? = nil) -> [String] {
        var lines: [String] = []
        for (index, text) in cases.strings.enumerated() {
            let ids = tokenizer.encode(text)
            if ids != reference.ids[index], other.map({ $0.ids[index] == reference.ids[index] }) ?? true {
                lines.append("encode \(text.debugDescription.prefix(60)): expected \(reference.ids[index].prefix(12)), got \(ids.prefix(12))")
            }
            let decoded = tokenizer.decode(reference.ids[index])
            if decoded != reference.decoded[index], other.map({ $0.decoded[index] == reference.decoded[index] }) ?? true {
                lines.append("decode \(text.debugDescription.prefix(60)): expected \(reference.decoded[index].debugDescription.prefix(60)), got \(decoded.debugDescription.prefix(60))")
            }
        }
        return lines
    }

    @Test(arguments: ["slow", "fast"]) func gpt2ByteLevelBPE(kind: String) throws {
        #expect(cases.strings.count >= 300)
        let tokenizer = try ByteLevelBPETokenizer(directory: Fixtures.tokenizer("gpt2"))
        let lines = mismatches(tokenizer, try #require(cases.gpt2[kind]))
        #expect(lines.isEmpty, "\(lines.count) differ from GPT2Tokenizer\(kind == "fast" ? "Fast" : ""):\n\(lines.prefix(12).joined(separator: "\n"))")
    }

    /// SentencePiece is the slow tokenizer's engine: every string matches it. The fast one
    /// (converted to the tokenizers library) differs from the slow one on some strings, in
    /// ids (control characters, `<s>`) and in decoded text (it keeps edge spaces): ours
    /// matches it wherever the two references agree, and the disagreements stay few.
    @Test(arguments: ["sp-en", "sp-ja"]) func sentencePieceUnigram(model: String) throws {
        let tokenizer = try SentencePieceTokenizer(directory: Fixtures.tokenizer(model))
        let slow = try #require(model == "sp-en" ? cases.spEn["slow"] : cases.spJa["slow"])
        let fast = try #require(model == "sp-en" ? cases.spEn["fast"] : cases.spJa["fast"])
        let slowLines = mismatches(tokenizer, slow)
        #expect(slowLines.isEmpty, "\(slowLines.count) differ from T5Tokenizer:\n\(slowLines.prefix(12).joined(separator: "\n"))")
        let fastLines = mismatches(tokenizer, fast, agreeing: slow)
        #expect(fastLines.isEmpty, "\(fastLines.count) differ from T5TokenizerFast:\n\(fastLines.prefix(12).joined(separator: "\n"))")
        let idsAgreeing = zip(slow.ids, fast.ids).filter { $0.0 == $0.1 }.count
        let textsAgreeing = zip(slow.decoded, fast.decoded).filter { $0.0 == $0.1 }.count
        #expect(idsAgreeing >= 300 && textsAgreeing >= 250, "ids agree on \(idsAgreeing), texts on \(textsAgreeing) strings")
    }
}
