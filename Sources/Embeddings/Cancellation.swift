import Synchronization

/// A request, from another thread, that a long job stop at its next checkpoint: a
/// generation throws `ModelError.cancelled` before its next token (the vision pass and the
/// prompt, once begun, run to their end); the daemon's indexing loop finishes and commits
/// the batch in flight.
public final class Cancellation: Sendable {
    private let cancelled = Atomic<Bool>(false)

    public init() {}

    public func cancel() { cancelled.store(true, ordering: .relaxed) }

    public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}
