extension Array {
    /// The array cut into consecutive pieces small enough to be one SQL statement's `IN (...)`
    /// list: SQLite limits how many parameters a statement takes.
    var parameterBatches: [[Element]] {
        Swift.stride(from: 0, to: count, by: 500).map { Array(self[$0..<Swift.min($0 + 500, count)]) }
    }
}
