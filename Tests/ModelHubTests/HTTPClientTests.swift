import Foundation
import Testing
@testable import ModelHub
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The one HTTP helper: any status is an answer, no answer is an error naming the host.
@Suite struct HTTPClientTests {
    @Test func noServerIsAFailureNamingTheHost() async throws {
        let closed = try #require(URL(string: "http://127.0.0.1:9/api/status"))  // discard port: nothing listens
        let failure = await #expect(throws: HTTPFailure.self) { try await HTTPClient.get(URLRequest(url: closed, timeoutInterval: 5)) }
        #expect(failure?.description.hasPrefix("cannot reach 127.0.0.1") == true)
    }
}
