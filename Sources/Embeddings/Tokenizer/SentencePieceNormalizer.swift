/// SentencePiece's normalizer (normalizer.cc): the model's precompiled character map (a
/// Darts double-array trie of UTF-8 prefixes and their replacements, e.g. NFKC), then
/// whitespace rules: leading, trailing and repeated spaces dropped, a dummy prefix space,
/// spaces written as "▁".
struct SentencePieceNormalizer {
    static let spaceSymbol: [UInt8] = Array("\u{2581}".utf8)

    private let trie: [UInt32]
    private let replacements: [UInt8]
    private let spec: SentencePieceModel.NormalizerSpec
    private let treatWhitespaceAsSuffix: Bool
    /// User-defined pieces, matched before normalization and left as they are.
    private let userDefined: [[UInt8]]

    init(model: SentencePieceModel, path: String) throws(TokenizerError) {
        spec = model.normalizer
        treatWhitespaceAsSuffix = model.treatWhitespaceAsSuffix
        userDefined = model.pieces.filter { $0.type == .userDefined }.map(\.bytes).sorted { $0.count > $1.count }
        let blob = spec.precompiledCharsMap
        guard !blob.isEmpty else {
            trie = []
            replacements = []
            return
        }
        guard blob.count > 4 else { throw .unreadableVocabulary(path: path, reason: "the normalization rule blob is broken") }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize % 4 == 0, 4 + trieSize <= blob.count else {
            throw .unreadableVocabulary(path: path, reason: "the normalization rule blob is broken")
        }
        var units: [UInt32] = []
        units.reserveCapacity(trieSize / 4)
        var offset = 4
        while offset < 4 + trieSize {
            units.append(UInt32(blob[offset]) | UInt32(blob[offset + 1]) << 8 | UInt32(blob[offset + 2]) << 16 | UInt32(blob[offset + 3]) << 24)
            offset += 4
        }
        trie = units
        replacements = Array(blob[(4 + trieSize)...])
    }

    /// Normalizer::Normalize.
    func normalize(_ text: [UInt8]) -> [UInt8] {
        var input = text[...]
        if spec.removeExtraWhitespaces {
            while !input.isEmpty {
                let (piece, consumed) = normalizePrefix(input)
                guard piece == [0x20] else { break }
                input = input.dropFirst(consumed)
            }
        }
        guard !input.isEmpty else { return [] }
        let space: [UInt8] = spec.escapeWhitespaces ? Self.spaceSymbol : [0x20]
        var output: [UInt8] = []
        if !treatWhitespaceAsSuffix && spec.addDummyPrefix { output += space }
        var previousIsSpace = spec.removeExtraWhitespaces
        while !input.isEmpty {
            let (piece, consumed) = normalizePrefix(input)
            var normalized = piece[...]
            while previousIsSpace, normalized.first == 0x20 { normalized = normalized.dropFirst() }
            if !normalized.isEmpty {
                for byte in normalized {
                    if spec.escapeWhitespaces && byte == 0x20 { output += Self.spaceSymbol } else { output.append(byte) }
                }
                previousIsSpace = normalized.last == 0x20
            }
            input = input.dropFirst(consumed)
            if !spec.removeExtraWhitespaces { previousIsSpace = false }
        }
        if spec.removeExtraWhitespaces {
            while output.count >= space.count, Array(output.suffix(space.count)) == space { output.removeLast(space.count) }
        }
        if treatWhitespaceAsSuffix && spec.addDummyPrefix { output += space }
        return output
    }

    /// Normalizer::NormalizePrefix: the replacement of the longest mapped prefix, or the
    /// first character unchanged (U+FFFD for a malformed byte); and the bytes consumed.
    private func normalizePrefix(_ input: ArraySlice<UInt8>) -> ([UInt8], Int) {
        if let symbol = userDefined.first(where: { input.starts(with: $0) }) { return (symbol, symbol.count) }
        var longest: (length: Int, value: Int)?
        if !trie.isEmpty {
            commonPrefixSearch(input) { length, value in
                if longest == nil || length > longest!.length { longest = (length, value) }
            }
        }
        if let longest {
            let start = longest.value
            let end = replacements[start...].firstIndex(of: 0) ?? replacements.endIndex
            return (Array(replacements[start..<end]), longest.length)
        }
        let length = UTF8Character.length(of: input)
        guard let length else { return (Array("\u{FFFD}".utf8), 1) }
        return (Array(input.prefix(length)), length)
    }

    /// Darts-clone's commonPrefixSearch over the double array: every key that is a prefix of `key`.
    private func commonPrefixSearch(_ key: ArraySlice<UInt8>, _ found: (Int, Int) -> Void) {
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        func label(_ unit: UInt32) -> UInt32 { unit & ((1 << 31) | 0xFF) }
        func hasLeaf(_ unit: UInt32) -> Bool { (unit >> 8) & 1 == 1 }
        func value(_ unit: UInt32) -> Int { Int(unit & ((1 << 31) - 1)) }

        var position = offset(trie[0])
        for (index, byte) in key.enumerated() {
            position ^= Int(byte)
            guard position < trie.count else { return }
            let unit = trie[position]
            guard label(unit) == UInt32(byte) else { return }
            position ^= offset(unit)
            guard position < trie.count else { return }
            if hasLeaf(unit) { found(index + 1, value(trie[position])) }
        }
    }
}

/// UTF-8 character boundaries as SentencePiece's string_util sees them.
enum UTF8Character {
    /// OneCharLen: the length the lead byte announces.
    static func announcedLength(_ lead: UInt8) -> Int {
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4][Int(lead >> 4)]
    }

    /// The length of the well-formed character at the start, or nil when it is malformed.
    static func length(of bytes: ArraySlice<UInt8>) -> Int? {
        guard let lead = bytes.first else { return nil }
        let length = announcedLength(lead)
        guard length > 1 || lead < 0x80 else { return nil }
        guard bytes.count >= length else { return nil }
        let prefix = Array(bytes.prefix(length))
        return String(validating: prefix, as: UTF8.self) == nil ? nil : length
    }
}
