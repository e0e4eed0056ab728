import Testing
import Server

/// `--listen` and `listen:` values.
@Suite struct ListenAddressTests {
    @Test func parsesHostsPortsAndIPv6() throws {
        let address = try ListenAddress("127.0.0.1:7878")
        #expect(address.host == "127.0.0.1" && address.port == 7878 && address.isLoopback)
        let anyPort = try ListenAddress(":0")
        #expect(anyPort.host == "127.0.0.1" && anyPort.port == 0)
        #expect(try ListenAddress("[::1]:80").host == "::1")
        #expect(try ListenAddress("[::1]:80").description == "[::1]:80")
        #expect(try ListenAddress("0.0.0.0:7878").isLoopback == false)
        #expect(try ListenAddress("localhost:1").isLoopback)
        #expect(try ListenAddress("[::1]:1").isLoopback)
        #expect(try ListenAddress("127.8.9.10:1").isLoopback)
    }

    @Test func refusesWhatIsNotHostColonPort() {
        for text in ["7878", "host:", "host:port", "host:65536", "host:-1", "::1:80", ""] {
            #expect(throws: ListenAddress.Invalid.self, "\(text)") { try ListenAddress(text) }
        }
    }
}
