import Foundation
import Synchronization

/// Set when the user or the service manager asks the process to stop: long runs finish the
/// batch in flight, commit it, and exit.
let stopRequested = Atomic<Bool>(false)

enum StopSignals {
    /// Routes `signals` to `stopRequested`. They are unblocked first: a process inherits its
    /// parent's signal mask, and a parent that blocked SIGTERM would make the daemon unkillable.
    static func install(_ signals: [Int32], secondSignalStopsAtOnce: Bool) {
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        sigprocmask(SIG_UNBLOCK, &set, nil)
        for number in signals {
            if secondSignalStopsAtOnce {
                signal(number) { received in
                    stopRequested.store(true, ordering: .relaxed)
                    signal(received, SIG_DFL)
                }
            } else {
                signal(number) { _ in stopRequested.store(true, ordering: .relaxed) }
            }
        }
    }
}
