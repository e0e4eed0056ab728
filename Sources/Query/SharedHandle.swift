import Foundation
internal import CFaiss

/// A C index handle that threads share, freed in `deinit`: calls that only read it may hold
/// it together (`reading`), calls that change it hold it alone (`writing`). The exact and
/// approximate scans allow concurrent searches, which a `Mutex` (one holder at a time)
/// would serialise; FAISS indexes take every call alone. A pthread readers–writer lock,
/// preferring writers so that a refresh is not starved by a stream of searches: neither the
/// standard library nor our dependencies offer one.
final class SharedHandle: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock: UnsafeMutablePointer<pthread_rwlock_t>
    private let free: (OpaquePointer) -> Void

    init(_ handle: OpaquePointer, free: @escaping (OpaquePointer) -> Void) {
        self.handle = handle
        self.free = free
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_rwlock_t())
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        free(handle)
        pthread_rwlock_destroy(lock)
        lock.deinitialize(count: 1)
        lock.deallocate()
    }

    /// Runs `body` while no writer holds the handle; other readers may run at once.
    func reading<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(handle)
    }

    /// Runs `body` holding the handle alone.
    func writing<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body(handle)
    }

    /// A C call of the vindex family, reading or alone; a non-zero status throws its message.
    func call(exclusive: Bool, _ body: (OpaquePointer, inout vindex_error) -> Int32) throws(VectorIndexError) {
        let run: (OpaquePointer) -> String? = { handle in
            var error = vindex_error()
            return body(handle, &error) == 0 ? nil : error.text
        }
        if let failure = exclusive ? writing(run) : reading(run) { throw VectorIndexError(reason: failure) }
    }
}
