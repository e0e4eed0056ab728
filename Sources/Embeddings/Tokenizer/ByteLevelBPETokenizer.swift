import Foundation

/// GPT-2's byte-level BPE, as OPT uses it: transformers' `GPT2Tokenizer` over `vocab.json`
/// and `merges.txt`. Text is split around special tokens, pre-tokenized with GPT-2's
/// pattern, each piece's UTF-8 bytes are merged by rank and looked up; OPT's
/// `tokenizer_config.json` (`add_bos_token`, BOS `</s>`) puts `</s>` first.
///
/// Hand-written: no maintained Swift package of this machine's registry implements it.
public struct ByteLevelBPETokenizer: GenerationTokenizer {
    private let ids: [[UInt8]: Int32]
    private let tokens: [Int32: [UInt8]]
    private let ranks: [BytePair: Int]
    private let splitter: SpecialTokenSplitter
    private let specialIDs: Set<Int32>
    private let unknownID: Int32?
    /// Prepended to every encoding (OPT: `</s>`), or nil.
    public let bosID: Int32?
    private let cleansUpSpaces: Bool

    /// Reads `vocab.json`, `merges.txt` and, when present, `tokenizer_config.json` and
    /// `added_tokens.json` from `directory`. Without a tokenizer config, OPT's is assumed.
    public init(directory: URL) throws(TokenizerError) {
        let config = try TokenizerFiles(directory: directory)
        let vocabularyPath = directory.appendingPathComponent("vocab.json").path
        let vocabulary: [String: Int]
        do {
            guard let data = FileManager.default.contents(atPath: vocabularyPath) else {
                throw TokenizerError.unreadableVocabulary(path: vocabularyPath, reason: "missing or unreadable")
            }
            vocabulary = try JSONDecoder().decode([String: Int].self, from: data)
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw .unreadableVocabulary(path: vocabularyPath, reason: "not a JSON object of token ids")
        }
        var ids: [[UInt8]: Int32] = [:]
        var tokens: [Int32: [UInt8]] = [:]
        for (token, id) in vocabulary {
            guard let bytes = ByteAlphabet.bytes(of: token), let id = Int32(exactly: id), id >= 0 else {
                // Special tokens are not byte-mapped text: kept as their UTF-8.
                ids[Array(token.utf8)] = Int32(clamping: id)
                tokens[Int32(clamping: id)] = Array(token.utf8)
                continue
            }
            ids[bytes] = id
            tokens[id] = bytes
        }
        let mergesPath = directory.appendingPathComponent("merges.txt").path
        guard let mergesData = FileManager.default.contents(atPath: mergesPath) else {
            throw .unreadableVocabulary(path: mergesPath, reason: "missing or unreadable: byte-level BPE needs its merges")
        }
        var ranks: [BytePair: Int] = [:]
        for line in String(decoding: mergesData, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("#version") { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let first = ByteAlphabet.bytes(of: String(parts[0])),
                  let second = ByteAlphabet.bytes(of: String(parts[1]))
            else {
                throw .unreadableVocabulary(path: mergesPath, reason: "line \"\(line.prefix(40))\" is not two byte-level tokens")
            }
            let pair = BytePair(first: first, second: second)
            if ranks[pair] == nil { ranks[pair] = ranks.count }
        }

        var special: [SpecialToken] = []
        for (text, id) in config.addedTokens { special.append(SpecialToken(text: text, id: id)) }
        for name in config.specialTokenNames(defaults: ["bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"]) {
            if let id = vocabulary[name].flatMap(Int32.init(exactly:)) ?? config.addedTokens[name] {
                special.append(SpecialToken(text: name, id: id))
            }
        }
        self.ids = ids
        self.tokens = tokens
        self.ranks = ranks
        splitter = SpecialTokenSplitter(special)
        specialIDs = Set(special.map(\.id))
        let unknownName = config.specialToken("unk_token") ?? "</s>"
        unknownID = vocabulary[unknownName].flatMap(Int32.init(exactly:))
        let bosName = config.specialToken("bos_token") ?? "</s>"
        if config.bool("add_bos_token") ?? true {
            guard let bos = vocabulary[bosName].flatMap(Int32.init(exactly:)) else {
                throw .missingSpecialToken(token: bosName, path: vocabularyPath)
            }
            bosID = bos
        } else {
            bosID = nil
        }
        cleansUpSpaces = config.bool("clean_up_tokenization_spaces") ?? false
    }

    public func encode(_ text: String) -> [Int32] {
        var result: [Int32] = bosID.map { [$0] } ?? []
        for piece in splitter.split(text) {
            switch piece {
            case .special(let id):
                result.append(id)
            case .text(let chunk):
                for word in GPT2PreTokenizer.split(chunk) {
                    for symbol in merge(Array(String(word).utf8)) {
                        if let id = ids[symbol] ?? unknownID { result.append(id) }
                    }
                }
            }
        }
        return result
    }

    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids where !specialIDs.contains(id) {
            if let token = tokens[id] { bytes += token }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        return cleansUpSpaces ? TokenizationSpaces.cleanUp(text) : text
    }

    /// GPT-2's `bpe`: merges the lowest-ranked adjacent pair everywhere, left to right, until none is ranked.
    private func merge(_ bytes: [UInt8]) -> [[UInt8]] {
        var word = bytes.map { [$0] }
        while word.count > 1 {
            var best: (rank: Int, pair: BytePair)?
            for index in 0..<(word.count - 1) {
                let pair = BytePair(first: word[index], second: word[index + 1])
                if let rank = ranks[pair], rank < (best?.rank ?? .max) { best = (rank, pair) }
            }
            guard let best else { break }
            var merged: [[UInt8]] = []
            var index = 0
            while index < word.count {
                if index < word.count - 1, word[index] == best.pair.first, word[index + 1] == best.pair.second {
                    merged.append(word[index] + word[index + 1])
                    index += 2
                } else {
                    merged.append(word[index])
                    index += 1
                }
            }
            word = merged
        }
        return word
    }
}

/// Two adjacent symbols, each a run of bytes.
private struct BytePair: Hashable {
    let first: [UInt8]
    let second: [UInt8]
}

/// GPT-2's `bytes_to_unicode`: every byte as a printable character, so that BPE tokens are text.
enum ByteAlphabet {
    /// Byte → character.
    static let characters: [Unicode.Scalar] = {
        var printable = Array(UInt8(ascii: "!")...UInt8(ascii: "~")) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
        var mapping = [Unicode.Scalar](repeating: " ", count: 256)
        for byte in printable { mapping[Int(byte)] = Unicode.Scalar(byte) }
        var next: UInt32 = 256
        for byte in 0...255 where !printable.contains(UInt8(byte)) {
            mapping[byte] = Unicode.Scalar(next)!
            next += 1
            printable.append(UInt8(byte))
        }
        return mapping
    }()

    private static let bytesByCharacter: [Unicode.Scalar: UInt8] = {
        var inverse: [Unicode.Scalar: UInt8] = [:]
        for (byte, character) in characters.enumerated() { inverse[character] = UInt8(byte) }
        return inverse
    }()

    /// The bytes a vocabulary or merges token stands for, or nil if it is not byte-mapped text.
    static func bytes(of token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        for scalar in token.unicodeScalars {
            guard let byte = bytesByCharacter[scalar] else { return nil }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : bytes
    }
}

/// transformers' `clean_up_tokenization`: no space before punctuation and English contractions.
enum TokenizationSpaces {
    static func cleanUp(_ text: String) -> String {
        var text = text
        for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                           (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        return text
    }
}
