import Embeddings
import Indexer
import NIOPosix
import ServiceLifecycle

/// The daemon's indexing loop as a service of the daemon's `ServiceGroup`. The loop blocks
/// (model, disk), so it runs on a thread pool of its own; when the group shuts down
/// gracefully (SIGTERM, Ctrl-C, or another service ending) it finishes and commits the
/// batch in flight, then returns.
public struct IndexingService: Service {
    public let daemon: LibraryDaemon
    let log: @Sendable (String) -> Void

    public init(daemon: LibraryDaemon, log: @escaping @Sendable (String) -> Void) {
        self.daemon = daemon
        self.log = log
    }

    public func run() async throws {
        let stop = Cancellation()
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        var failure: (any Error)?
        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await thread.runIfActive { [daemon, log] in
                        try daemon.run(shouldStop: { stop.isCancelled }, log: log)
                    }
                } onCancel: {
                    stop.cancel()
                }
            } onGracefulShutdown: {
                stop.cancel()
            }
        } catch {
            failure = error
        }
        try await thread.shutdownGracefully()
        if let failure { throw failure }
    }
}
