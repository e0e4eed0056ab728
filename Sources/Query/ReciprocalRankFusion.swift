/// What a search ranks by: BLIP-2 similarity, the words of the captions, or both.
public enum SearchMode: String, Sendable, CaseIterable {
    /// The exact BLIP-2 ITC ranking.
    case semantic
    /// Captions holding every word of the text (SQLite FTS5, BM25).
    case keyword
    /// Both rankings fused by `ReciprocalRankFusion`.
    case hybrid
}

/// Reciprocal rank fusion (Cormack et al. 2009): an item's score is the sum over the
/// rankings that hold it of 1/(k + rank), rank counted from 1; best first, ties by first appearance.
public enum ReciprocalRankFusion {
    public static func fuse<Item: Hashable>(_ rankings: [[Item]], k: Double = 60) -> [(item: Item, score: Double)] {
        var scores: [Item: Double] = [:]
        var order: [Item] = []
        for ranking in rankings {
            for (index, item) in ranking.enumerated() {
                if scores[item] == nil { order.append(item) }
                scores[item, default: 0] += 1 / (k + Double(index + 1))
            }
        }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return order.map { ($0, scores[$0]!) }
            .sorted { $0.score != $1.score ? $0.score > $1.score : position[$0.item]! < position[$1.item]! }
    }

    /// How deep each ranking is read for a fused top `limit`.
    public static func depth(forLimit limit: Int) -> Int { max(3 * limit, 100) }
}
