import Embeddings
import Foundation
import Indexer
import Library
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@Suite struct IndexingServiceTests {
    let folder: URL
    let photos: URL
    let library: PhotoLibrary
    let model: Blip2Model

    init() throws {
        (folder, photos) = try Fixtures.photoFolder(copying: ["images/coffee.png"])
        library = try PhotoLibrary(path: folder.appendingPathComponent("c.sqlite").path, create: true)
        model = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cpu"))
    }

    private func daemon(statusPath: String) throws -> LibraryDaemon {
        LibraryDaemon(indexRun: try library.indexRun(model: model, batchSize: 4), crawler: Crawler(roots: [photos.path]),
                      statusPath: statusPath, settleSeconds: 0)
    }

    @Test func aGracefulShutdownStopsTheLoopOnceItsPassIsCommitted() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let daemon = try daemon(statusPath: folder.appendingPathComponent("status.json").path)
        let group = ServiceGroup(configuration: .init(services: [IndexingService(daemon: daemon, log: { _ in })],
                                                      logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Generous: on 2 cores the other suites' synchronous tests can hold the cooperative
            // threads the group starts on for minutes (a clean-clone CI run once took over 60 s
            // to get the first pass going, and shut it down before it had embedded anything).
            let deadline = ContinuousClock.now + .seconds(600)
            while daemon.activity.counters.passes == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(daemon.activity.counters.passes >= 1, "no pass within 10 minutes")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(daemon.activity.counters.passes >= 1 && daemon.activity.counters.embedded == 1)
        #expect(try library.catalog.files(inRoots: [photos.path]).map(\.state) == [.indexed])
    }

    @Test func aFailingLoopEndsTheGroupWithItsError() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let unwritable = folder.appendingPathComponent("missing/status.json").path
        let group = ServiceGroup(configuration: .init(services: [IndexingService(daemon: try daemon(statusPath: unwritable), log: { _ in })],
                                                      logger: Logger(label: "test")))
        await #expect(throws: (any Error).self) { try await group.run() }
        #expect(try library.catalog.files(inRoots: [photos.path]).map(\.state) == [.indexed])
    }
}
