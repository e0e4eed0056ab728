import Foundation

/// The pre-tokenization of transformers' `BertTokenizer` (`BasicTokenizer` with
/// `do_lower_case=True`): clean control characters, isolate CJK ideographs, NFC,
/// split on whitespace, lower-case, strip accents (NFD, drop Mn), split off punctuation.
///
/// Every step works on Unicode scalars, as Python strings do; Swift `Character`s
/// (grapheme clusters) would merge an emoji's modifiers or a letter's accents.
struct BasicTokenizer: Sendable {
    func split(_ text: String) -> [String] {
        let cleaned = isolatingCJK(cleaned(lowercasedPerScalar(text)))
        let normalized = cleaned.precomposedStringWithCanonicalMapping
        var words: [String] = []
        for token in splitOnWhitespace(normalized) {
            words.append(contentsOf: splitOnPunctuation(strippingAccents(token)))
        }
        return words
    }

    /// `PreTrainedTokenizer.tokenize` lower-cases one code point at a time (its regex matches
    /// `.+?` lazily), so a capital sigma always becomes σ, never the word-final ς.
    private func lowercasedPerScalar(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(result)
    }

    /// Drops NUL, U+FFFD and every `C*` category scalar; turns whitespace into a space.
    private func cleaned(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD { continue }
            if scalar.isBertWhitespace {
                result.append(" ")
            } else if !scalar.isBertControl {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private func isolatingCJK(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.isCJKIdeograph {
                result.append(" ")
                result.append(scalar)
                result.append(" ")
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private func strippingAccents(_ token: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in token.decomposedStringWithCanonicalMapping.unicodeScalars
        where scalar.properties.generalCategory != .nonspacingMark {
            result.append(scalar)
        }
        return String(result)
    }

    private func splitOnPunctuation(_ token: String) -> [String] {
        var pieces: [String] = []
        var current = String.UnicodeScalarView()
        for scalar in token.unicodeScalars {
            if scalar.isBertPunctuation {
                if !current.isEmpty { pieces.append(String(current)) }
                pieces.append(String(scalar))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces
    }
}

/// Python's `str.split()` with no argument: runs of `str.isspace()` characters separate words.
func splitOnWhitespace(_ text: String) -> [String] {
    var words: [String] = []
    var current = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        if scalar.isPythonWhitespace {
            if !current.isEmpty { words.append(String(current)) }
            current = String.UnicodeScalarView()
        } else {
            current.append(scalar)
        }
    }
    if !current.isEmpty { words.append(String(current)) }
    return words
}

extension Unicode.Scalar {
    /// `_is_whitespace` of transformers' tokenization_bert.py.
    var isBertWhitespace: Bool {
        switch value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        default: return properties.generalCategory == .spaceSeparator
        }
    }

    /// `_is_control`: any `C*` category except tab, newline and carriage return.
    var isBertControl: Bool {
        switch value {
        case 0x09, 0x0A, 0x0D: return false
        default:
            switch properties.generalCategory {
            case .control, .format, .surrogate, .privateUse, .unassigned: return true
            default: return false
            }
        }
    }

    /// `_is_punctuation`: the ASCII symbol ranges, which BERT treats as punctuation, plus `P*`.
    var isBertPunctuation: Bool {
        switch value {
        case 33...47, 58...64, 91...96, 123...126: return true
        default:
            switch properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return true
            default: return false
            }
        }
    }

    /// `_is_chinese_char`: the CJK Unified Ideographs blocks (not Hangul or kana).
    var isCJKIdeograph: Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }

    /// Python's `str.isspace()`: bidirectional class WS, B or S, or category Zs.
    var isPythonWhitespace: Bool {
        switch value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029,
             0x202F, 0x205F, 0x3000:
            return true
        default: return false
        }
    }
}
