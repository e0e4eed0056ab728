import Foundation

/// T5's tokenizer: a SentencePiece unigram model (`spiece.model`) with transformers'
/// `T5Tokenizer` conventions: text split around special tokens first, each part normalized
/// and segmented by the best-scoring path (Viterbi), `</s>` appended, `<extra_id_N>` tokens
/// after the model's pieces.
///
/// Hand-written after sentencepiece's normalizer.cc and unigram_model.cc
/// (EncodeOptimized): Debian's libsentencepiece carries its own protobuf-lite, whose
/// exported symbols clash with libtorch's libprotobuf when both are loaded (a crash in
/// protobuf's static initialisers before main).
public struct SentencePieceTokenizer: GenerationTokenizer {
    private let model: SentencePieceModel
    private let normalizer: SentencePieceNormalizer
    /// Pieces the lattice may use (normal, user-defined, unused) by their bytes.
    private let pieceIDs: [[UInt8]: Int32]
    /// Every prefix of those pieces: where the lattice search stops extending a piece.
    private let piecePrefixes: Set<[UInt8]>
    private let unknownID: Int32
    private let minScore: Float
    private let maxScore: Float
    private let splitter: SpecialTokenSplitter
    private let specialIDs: Set<Int32>
    /// Appended to every encoding (`</s>`).
    public let eosID: Int32

    /// Loads `spiece.model` from `directory`; `tokenizer_config.json`'s `extra_ids` (100 by
    /// default) and `added_tokens.json` add tokens after the model's own pieces.
    public init(directory: URL) throws(TokenizerError) {
        let files = try TokenizerFiles(directory: directory)
        let path = directory.appendingPathComponent("spiece.model").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .unreadableVocabulary(path: path, reason: "missing or unreadable: the T5 tokenizer needs its SentencePiece model")
        }
        let model = try SentencePieceModel(data: Array(data), path: path)
        guard model.modelType == 1 else {
            throw .unreadableVocabulary(path: path, reason: "model type \(model.modelType) is not unigram, the only SentencePiece model T5 uses")
        }
        self.model = model
        normalizer = try SentencePieceNormalizer(model: model, path: path)

        var pieceIDs: [[UInt8]: Int32] = [:]
        var prefixes = Set<[UInt8]>()
        var unknown: Int32?
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude
        var controlIDs: [[UInt8]: Int32] = [:]
        for (index, piece) in model.pieces.enumerated() {
            switch piece.type {
            case .normal, .userDefined, .unused:
                pieceIDs[piece.bytes] = pieceIDs[piece.bytes] ?? Int32(index)
                for length in 1...piece.bytes.count { prefixes.insert(Array(piece.bytes.prefix(length))) }
            case .unknown:
                unknown = Int32(index)
                controlIDs[piece.bytes] = Int32(index)
            case .control, .byte:
                controlIDs[piece.bytes] = Int32(index)
            }
            if piece.type == .normal {
                minScore = min(minScore, piece.score)
                maxScore = max(maxScore, piece.score)
            }
        }
        guard let unknown else { throw .unreadableVocabulary(path: path, reason: "the model defines no unknown piece") }
        self.pieceIDs = pieceIDs
        piecePrefixes = prefixes
        unknownID = unknown
        self.minScore = minScore
        self.maxScore = maxScore

        // T5Tokenizer's specials: the model's own piece when it has one, otherwise a new id
        // after the extra ids (in transformers' order: eos, unk, pad).
        let pieceCount = Int32(model.pieces.count)
        let extraIDs = Int32(files.integer("extra_ids") ?? 100)
        var special: [SpecialToken] = []
        var nextID = pieceCount + max(0, extraIDs)
        var eos: Int32?
        for key in ["eos_token", "unk_token", "pad_token"] {
            let defaults = ["eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"]
            guard let name = files.specialToken(key) ?? defaults[key] else { continue }
            let bytes = Array(name.utf8)
            let id: Int32
            if let own = controlIDs[bytes] ?? pieceIDs[bytes] {
                id = own
            } else {
                id = nextID
                nextID += 1
            }
            special.append(SpecialToken(text: name, id: id))
            if key == "eos_token" { eos = id }
        }
        // <extra_id_0> is the last id; they strip the whitespace on both sides.
        for index in 0..<max(0, extraIDs) {
            special.append(SpecialToken(text: "<extra_id_\(index)>", id: pieceCount + extraIDs - 1 - index,
                                        stripsLeft: true, stripsRight: true))
        }
        for (text, id) in files.addedTokens where !special.contains(where: { $0.text == text }) {
            special.append(SpecialToken(text: text, id: id))
        }
        splitter = SpecialTokenSplitter(special)
        specialIDs = Set(special.map(\.id))
        eosID = eos!
    }

    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for piece in splitter.split(text) {
            switch piece {
            case .special(let id): ids.append(id)
            case .text(let chunk): ids += segment(normalizer.normalize(Array(chunk.utf8)))
            }
        }
        return ids + [eosID]
    }

    /// unigram_model.cc's EncodeOptimized: the best-scoring segmentation, an unknown piece
    /// (scored below every real one) for a character no piece covers; runs of unknown
    /// pieces merge into one, as SentencePieceProcessor::Encode does.
    private func segment(_ normalized: [UInt8]) -> [Int32] {
        guard !normalized.isEmpty else { return [] }
        struct Best {
            var id: Int32 = -1
            var score: Float = 0
            var start = -1
        }
        let size = normalized.count
        let unknownScore = minScore - 10
        var best = [Best](repeating: Best(), count: size + 1)
        var start = 0
        while start < size {
            let scoreSoFar = best[start].score
            let characterLength = min(UTF8Character.announcedLength(normalized[start]), size - start)
            var coversCharacter = false
            var end = start + 1
            while end <= size {
                let candidate = Array(normalized[start..<end])
                guard piecePrefixes.contains(candidate) else { break }
                if let id = pieceIDs[candidate] {
                    let piece = model.pieces[Int(id)]
                    if piece.type != .unused {
                        let length = end - start
                        let score: Float = piece.type == .userDefined
                            ? Float(Double(Float(length) * maxScore) - 0.1 + Double(scoreSoFar))
                            : piece.score + scoreSoFar
                        if best[end].start == -1 || score > best[end].score {
                            best[end] = Best(id: id, score: score, start: start)
                        }
                        if length == characterLength { coversCharacter = true }
                    }
                }
                end += 1
            }
            if !coversCharacter {
                let score = unknownScore + scoreSoFar
                if best[start + characterLength].start == -1 || score > best[start + characterLength].score {
                    best[start + characterLength] = Best(id: unknownID, score: score, start: start)
                }
            }
            start += characterLength
        }
        var ids: [Int32] = []
        var end = size
        while end > 0 {
            let node = best[end]
            if !(node.id == unknownID && ids.last == unknownID) { ids.append(node.id) }
            end = node.start
        }
        return ids.reversed()
    }

    /// transformers' T5Tokenizer decode with special tokens skipped: the pieces joined, "▁"
    /// as a space, the leading space of the first dropped, then stripped.
    public func decode(_ ids: [Int32]) -> String {
        var text: [UInt8] = []
        var first = true
        for id in ids where !specialIDs.contains(id) && id >= 0 && Int(id) < model.pieces.count {
            let piece = model.pieces[Int(id)]
            switch piece.type {
            case .control, .unknown:
                continue
            case .byte:
                if let byte = UInt8(String(decoding: piece.bytes.dropFirst(3).dropLast(), as: UTF8.self), radix: 16) {
                    text.append(byte)
                }
            case .normal, .userDefined, .unused:
                var bytes = piece.bytes[...]
                if first || text.isEmpty, bytes.starts(with: SentencePieceNormalizer.spaceSymbol),
                   model.normalizer.addDummyPrefix || model.normalizer.removeExtraWhitespaces {
                    bytes = bytes.dropFirst(SentencePieceNormalizer.spaceSymbol.count)
                }
                text += Self.unescapingSpaces(bytes)
            }
            first = false
        }
        return PythonWhitespace.strip(String(decoding: text, as: UTF8.self))
    }

    private static func unescapingSpaces(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        var rest = bytes
        while !rest.isEmpty {
            if rest.starts(with: SentencePieceNormalizer.spaceSymbol) {
                output.append(0x20)
                rest = rest.dropFirst(SentencePieceNormalizer.spaceSymbol.count)
            } else {
                output.append(rest.removeFirst())
            }
        }
        return output
    }
}

/// Python's `str.strip()`: the characters `str.isspace()` accepts.
enum PythonWhitespace {
    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    static func strip(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !isSpace($0) }),
              let last = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }
}
