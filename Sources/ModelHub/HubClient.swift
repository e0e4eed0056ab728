import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Downloads a model snapshot from the Hugging Face hub (or any server with its URL layout)
/// into the hub cache: each file into `blobs/<id>.incomplete`, resumed with an HTTP range
/// after a cut connection (also across runs), checked against the hub's published sha256
/// (or git blob id), then renamed into place and linked from `snapshots/<commit>/`.
public struct HubClient: Sendable {
    public let endpoint: URL
    public let cache: HubCache
    public let token: String?
    /// Attempts per file when the connection breaks; each resumes where the last stopped.
    public var attempts = 5

    public init(endpoint: URL, cache: HubCache, token: String? = nil) {
        self.endpoint = endpoint
        self.cache = cache
        self.token = token
    }

    /// `HF_ENDPOINT` or https://huggingface.co; `HF_TOKEN` when set.
    public static func standard(cache: HubCache, environment: [String: String] = ProcessInfo.processInfo.environment) -> HubClient {
        let endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : URL(string: $0) } ?? URL(string: "https://huggingface.co")!
        return HubClient(endpoint: endpoint, cache: cache, token: environment["HF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Progress of a pull: the file, bytes done and its size.
    public typealias Progress = @Sendable (_ file: String, _ done: Int64, _ total: Int64) -> Void

    /// Pulls `repo` at `revision`; returns the snapshot folder. Files already in the cache
    /// with the right checksum are not downloaded again.
    public func pull(repo: String, revision: String = "main", progress: @escaping Progress = { _, _, _ in }) async throws -> URL {
        let info = try await repositoryInfo(repo: repo, revision: revision)
        let files = info.neededFiles
        guard files.contains(where: { $0.rfilename == "config.json" }),
              files.contains(where: { $0.rfilename.hasSuffix(".safetensors") }) else {
            throw HubError("\(repo)@\(revision) has no config.json and safetensors weights: not a snapshot imgsearch can load")
        }
        let manager = FileManager.default
        let blobs = cache.blobsFolder(repo)
        try manager.createDirectory(at: blobs, withIntermediateDirectories: true)
        let snapshot = cache.snapshotFolder(repo, commit: info.sha)
        try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
        for file in files {
            guard let blobName = file.blobName, blobName.allSatisfy(\.isHexDigit) else {
                throw HubError("\(repo): the hub gave no checksum for \(file.rfilename)")
            }
            let blob = blobs.appendingPathComponent(blobName)
            if !manager.fileExists(atPath: blob.path) {
                try await download(repo: repo, commit: info.sha, file: file, to: blob, progress: progress)
            }
            let link = snapshot.appendingPathComponent(file.rfilename)
            try? manager.removeItem(at: link)
            try manager.createSymbolicLink(atPath: link.path, withDestinationPath: "../../blobs/\(blobName)")
        }
        let refs = cache.repositoryFolder(repo).appendingPathComponent("refs")
        try manager.createDirectory(at: refs, withIntermediateDirectories: true)
        if revision != info.sha {
            try Data(info.sha.utf8).write(to: refs.appendingPathComponent(revision), options: .atomic)
        }
        return snapshot
    }

    public func repositoryInfo(repo: String, revision: String) async throws -> RepositoryInfo {
        guard Self.isValid(repo: repo) else { throw HubError("\"\(repo)\" is not a repository id like ORG/NAME") }
        let url = endpoint.appendingPathComponent("api/models/\(repo)/revision/\(revision)")
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        components.queryItems = [URLQueryItem(name: "blobs", value: "true")]
        let (status, body): (Int, Data)
        do {
            (status, body) = try await HTTPClient.get(request(components.url!))
        } catch {
            throw HubError("\(repo)@\(revision): \(error)")
        }
        switch status {
        case 200:
            do {
                return try JSONDecoder().decode(RepositoryInfo.self, from: body)
            } catch {
                throw HubError("\(url.absoluteString): unexpected answer (\(error))")
            }
        case 401, 403:
            throw HubError("\(repo): access denied (HTTP \(status)); a gated or private model needs HF_TOKEN")
        case 404:
            throw HubError("\(repo)@\(revision): not found on \(endpoint.absoluteString) (HTTP 404): check the repository id and revision")
        default:
            throw HubError("\(repo)@\(revision): HTTP \(status) from \(endpoint.absoluteString)")
        }
    }

    private func download(repo: String, commit: String, file: RepositoryInfo.File, to blob: URL,
                          progress: @escaping Progress) async throws {
        let partial = URL(fileURLWithPath: blob.path + ".incomplete")
        let url = endpoint.appendingPathComponent("\(repo)/resolve/\(commit)/\(file.rfilename)")
        var lastError: Error?
        for _ in 0..<attempts {
            do {
                let transfer = try HTTPTransfer(request: request(url), appendingTo: partial, name: file.rfilename,
                                                expectedSize: file.expectedSize, progress: progress)
                try await transfer.run()
                lastError = nil
                break
            } catch let error as HubError where error.isClientError {
                throw error
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        if let lastError { throw lastError }
        try verify(partial, against: file)
        try FileManager.default.moveItem(at: partial, to: blob)
    }

    /// Checks a downloaded file's size and checksum; a mismatch deletes it (a later pull
    /// starts that file afresh).
    func verify(_ path: URL, against file: RepositoryInfo.File) throws {
        let actual = try Checksum.of(fileAt: path, gitBlob: file.lfs == nil)
        let expected = file.lfs?.sha256 ?? file.blobId ?? ""
        guard actual == expected.lowercased() else {
            try? FileManager.default.removeItem(at: path)
            throw HubError("\(file.rfilename): checksum mismatch (expected \(expected), got \(actual)); the download was discarded, run the pull again")
        }
    }

    private func request(_ url: URL) -> URLRequest {
        var request = URLRequest(url: url, timeoutInterval: 60)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.setValue("imgsearch", forHTTPHeaderField: "User-Agent")
        return request
    }

    static func isValid(repo: String) -> Bool {
        let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { part in
            !part.isEmpty && part != "." && part != ".." && part.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        }
    }
}

/// The checksums the hub publishes: sha256 of an LFS file, the git blob id (sha1 of
/// "blob SIZE\0" + content) of any other.
enum Checksum {
    static func of(fileAt url: URL, gitBlob: Bool) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        if gitBlob {
            var hash = Insecure.SHA1()
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: 0)
            hash.update(data: Data("blob \(size)\0".utf8))
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { hash.update(data: chunk) }
            return hash.finalize().map { String(format: "%02x", $0) }.joined()
        }
        var hash = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { hash.update(data: chunk) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
