extension Array {
    /// The array cut into consecutive pieces small enough to be one SQL statement's `IN (...)`
    /// list: SQLite limits how many parameters a statement takes.
    var parameterBatches: [[Element]] {
        Swift.stride(from: 0, to: count, by: 500).map { Array(self[$0..<Swift.min($0 + 500, count)]) }
    }
}

import GRDB

extension Catalog {
    /// The rows `sql` gives for `keys`, asked in slices small enough for one statement:
    /// `sql` receives the slice's `?, ?, …` placeholders, and `leading` arguments come before
    /// the slice's. No keys, no query.
    func rows(for keys: [some DatabaseValueConvertible], leading: [any DatabaseValueConvertible] = [],
              _ sql: (String) -> String) throws -> [Row] {
        guard !keys.isEmpty else { return [] }
        return try read { db in
            var rows: [Row] = []
            for slice in keys.parameterBatches {
                let arguments: [(any DatabaseValueConvertible)?] = leading + slice.map { $0 }
                rows += try Row.fetchAll(db, sql: sql(databaseQuestionMarks(count: slice.count)),
                                         arguments: StatementArguments(arguments))
            }
            return rows
        }
    }
}
