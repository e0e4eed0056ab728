import Dispatch

/// A value computed on a background queue and collected once: the pipeline's bounded queue
/// of length one. While the model embeds batch k, batch k+1 is read, hashed and decoded;
/// memory holds at most two batches of pixels whatever the library's size.
///
/// `@unchecked Sendable`: `value` is written once on the background queue before `ready`
/// is signalled, and read only after `ready` is waited on, so the semaphore orders the two.
final class PreparedAhead<Value: Sendable>: @unchecked Sendable {
    private var value: Value?
    private let ready = DispatchSemaphore(value: 0)

    init(on queue: DispatchQueue, _ work: @escaping @Sendable () -> Value) {
        queue.async {
            self.value = work()
            self.ready.signal()
        }
    }

    /// Blocks until the value is ready; call once.
    func wait() -> Value {
        ready.wait()
        return value!
    }
}
