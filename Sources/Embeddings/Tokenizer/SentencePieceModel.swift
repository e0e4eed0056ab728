import Foundation

/// A serialized SentencePiece model (`spiece.model`, a `ModelProto`): its pieces with
/// scores and types, and the normalizer and trainer settings encoding depends on. Read
/// with a minimal protobuf wire-format reader: only the fields below are used.
struct SentencePieceModel {
    /// `ModelProto.SentencePiece.Type`.
    enum PieceType: UInt64 {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        let bytes: [UInt8]
        let score: Float
        let type: PieceType
    }

    var pieces: [Piece] = []
    /// `TrainerSpec.model_type`: 1 unigram, 2 BPE, 3 word, 4 char.
    var modelType: UInt64 = 1
    var treatWhitespaceAsSuffix = false
    var byteFallback = false
    var unknownSurface = Array(" \u{2047} ".utf8)
    var normalizer = NormalizerSpec()

    /// `NormalizerSpec`: the precompiled character map and the whitespace rules.
    struct NormalizerSpec {
        var precompiledCharsMap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    init(data: [UInt8], path: String) throws(TokenizerError) {
        var reader = ProtobufReader(bytes: data[...], path: path)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let message)): pieces.append(try Self.piece(message, path: path))
            case (2, .bytes(let message)): try readTrainerSpec(message, path: path)
            case (3, .bytes(let message)): normalizer = try Self.normalizerSpec(message, path: path)
            default: break
            }
        }
        guard !pieces.isEmpty else { throw .unreadableVocabulary(path: path, reason: "no pieces: not a SentencePiece model") }
    }

    private static func piece(_ message: ArraySlice<UInt8>, path: String) throws(TokenizerError) -> Piece {
        var reader = ProtobufReader(bytes: message, path: path)
        var bytes: [UInt8] = []
        var score: Float = 0
        var type = PieceType.normal
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (1, .bytes(let text)): bytes = Array(text)
            case (2, .fixed32(let bits)): score = Float(bitPattern: bits)
            case (3, .varint(let raw)):
                guard let known = PieceType(rawValue: raw) else {
                    throw .unreadableVocabulary(path: path, reason: "unknown piece type \(raw)")
                }
                type = known
            default: break
            }
        }
        guard !bytes.isEmpty else { throw .unreadableVocabulary(path: path, reason: "a piece is empty") }
        return Piece(bytes: bytes, score: score, type: type)
    }

    private mutating func readTrainerSpec(_ message: ArraySlice<UInt8>, path: String) throws(TokenizerError) {
        var reader = ProtobufReader(bytes: message, path: path)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (3, .varint(let raw)): modelType = raw
            case (24, .varint(let raw)): treatWhitespaceAsSuffix = raw != 0
            case (35, .varint(let raw)): byteFallback = raw != 0
            case (44, .bytes(let text)): unknownSurface = Array(text)
            default: break
            }
        }
    }

    private static func normalizerSpec(_ message: ArraySlice<UInt8>, path: String) throws(TokenizerError) -> NormalizerSpec {
        var spec = NormalizerSpec()
        var reader = ProtobufReader(bytes: message, path: path)
        while let (field, value) = try reader.next() {
            switch (field, value) {
            case (2, .bytes(let map)): spec.precompiledCharsMap = Array(map)
            case (3, .varint(let raw)): spec.addDummyPrefix = raw != 0
            case (4, .varint(let raw)): spec.removeExtraWhitespaces = raw != 0
            case (5, .varint(let raw)): spec.escapeWhitespaces = raw != 0
            default: break
            }
        }
        return spec
    }
}

/// Reads protobuf's wire format: (field number, value) pairs.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    private var bytes: ArraySlice<UInt8>
    private let path: String

    init(bytes: ArraySlice<UInt8>, path: String) {
        self.bytes = bytes
        self.path = path
    }

    mutating func next() throws(TokenizerError) -> (UInt64, Value)? {
        guard !bytes.isEmpty else { return nil }
        let key = try varint()
        switch key & 7 {
        case 0: return (key >> 3, .varint(try varint()))
        case 1: return (key >> 3, .fixed64(UInt64(littleEndian: try fixed(8))))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.count) else { throw broken("a field runs past the end") }
            let value = bytes.prefix(Int(length))
            bytes = bytes.dropFirst(Int(length))
            return (key >> 3, .bytes(value))
        case 5: return (key >> 3, .fixed32(UInt32(truncatingIfNeeded: try fixed(4))))
        default: throw broken("unsupported wire type \(key & 7)")
        }
    }

    private mutating func varint() throws(TokenizerError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while let byte = bytes.first {
            bytes = bytes.dropFirst()
            guard shift < 64 else { throw broken("a varint is too long") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        throw broken("truncated")
    }

    private mutating func fixed(_ width: Int) throws(TokenizerError) -> UInt64 {
        guard bytes.count >= width else { throw broken("truncated") }
        var value: UInt64 = 0
        for (index, byte) in bytes.prefix(width).enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        bytes = bytes.dropFirst(width)
        return value
    }

    private func broken(_ reason: String) -> TokenizerError {
        .unreadableVocabulary(path: path, reason: "not a SentencePiece model (\(reason))")
    }
}
