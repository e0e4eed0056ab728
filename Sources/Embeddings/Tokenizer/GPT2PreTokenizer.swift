/// GPT-2's pre-tokenization pattern, matched by hand over Unicode scalars:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// `\s` is the Unicode White_Space property, as in the `regex` module transformers uses.
enum GPT2PreTokenizer {
    private enum Kind { case letter, number, space, other }

    private static func kind(_ scalar: Unicode.Scalar) -> Kind {
        if scalar.properties.isWhitespace { return .space }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    private static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    static func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        let kinds = scalars.map(kind)
        var words: [String] = []
        var start = 0
        func emit(_ end: Int) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[start..<end])
            words.append(String(view))
            start = end
        }
        func run(from index: Int, of wanted: Kind) -> Int {
            var end = index
            while end < scalars.count, kinds[end] == wanted { end += 1 }
            return end
        }
        while start < scalars.count {
            if scalars[start] == "'",
               let suffix = contractions.first(where: { scalars[(start + 1)...].starts(with: $0) }) {
                emit(start + 1 + suffix.count)
                continue
            }
            // ` ?X+` for letters, numbers and other: an optional leading space, then the run.
            let body = scalars[start] == " " && start + 1 < scalars.count && kinds[start + 1] != .space ? start + 1 : start
            if kinds[body] != .space {
                emit(run(from: body, of: kinds[body]))
                continue
            }
            // Whitespace: all of it at the end of the text; before a non-space, all but its
            // last character (which then leads the next word), unless that leaves nothing.
            let end = run(from: start, of: .space)
            emit(end == scalars.count || end - 1 == start ? end : end - 1)
        }
        return words
    }
}
