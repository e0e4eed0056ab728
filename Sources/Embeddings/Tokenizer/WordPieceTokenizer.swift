/// Greedy longest-match-first WordPiece (transformers' `WordpieceTokenizer`): a word that
/// cannot be covered by vocabulary pieces, or is longer than 100 code points, is `[UNK]`.
struct WordPieceTokenizer: Sendable {
    let vocabulary: Vocabulary
    let unknownID: Int32
    let maxScalarsPerWord = 100

    func ids(for word: String) -> [Int32] {
        let scalars = Array(word.unicodeScalars)
        if scalars.count > maxScalarsPerWord { return [unknownID] }
        // Byte offset of every scalar, so each candidate piece is a slice of the UTF-8 bytes.
        let bytes = Array(word.utf8)
        var offsets: [Int] = [0]
        offsets.reserveCapacity(scalars.count + 1)
        for scalar in scalars { offsets.append(offsets.last! + UTF8.width(scalar)) }

        var pieces: [Int32] = []
        var start = 0
        let continuation: [UInt8] = Array("##".utf8)
        while start < scalars.count {
            var end = scalars.count
            var match: Int32?
            while start < end {
                let piece = bytes[offsets[start]..<offsets[end]]
                match = start > 0 ? vocabulary.id(of: continuation + piece) : vocabulary.id(of: piece)
                if match != nil { break }
                end -= 1
            }
            guard let id = match else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }
}
