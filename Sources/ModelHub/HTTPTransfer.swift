import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP GET streamed into a file, resuming after what the file already holds with a
/// `Range` request (a server that ignores the range gets the file restarted). Connection
/// errors and short reads throw, leaving the bytes received for the next attempt.
final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let destination: URL
    private let name: String
    private let expectedSize: Int64?
    private let progress: HubClient.Progress
    private var request: URLRequest
    private let finished = DispatchSemaphore(value: 0)
    // Touched only on the session's serial delegate queue, then read after `finished`.
    private var handle: FileHandle?
    private var written: Int64 = 0
    private var failure: Error?

    init(request: URLRequest, appendingTo destination: URL, name: String, expectedSize: Int64?,
         progress: @escaping HubClient.Progress) throws {
        self.request = request
        self.destination = destination
        self.name = name
        self.expectedSize = expectedSize
        self.progress = progress
        super.init()
        if !FileManager.default.fileExists(atPath: destination.path) {
            guard FileManager.default.createFile(atPath: destination.path, contents: nil) else {
                throw HubError("\(destination.path): cannot create the file")
            }
        }
        let existing = (try FileManager.default.attributesOfItem(atPath: destination.path)[.size] as? NSNumber)?.int64Value ?? 0
        written = existing
        if existing > 0 { self.request.setValue("bytes=\(existing)-", forHTTPHeaderField: "Range") }
    }

    /// Runs the transfer to its end.
    func run() throws {
        if let expectedSize, written == expectedSize { return }
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: queue)
        session.dataTask(with: request).resume()
        finished.wait()
        session.finishTasksAndInvalidate()
        try? handle?.close()
        if let failure { throw failure }
        if let expectedSize, written != expectedSize {
            throw HubError("\(name): connection closed after \(written) of \(expectedSize) bytes")
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        do {
            switch status {
            case 206:
                handle = try FileHandle(forWritingTo: destination)
                try handle?.seekToEnd()
            case 200:  // the whole file: start again
                handle = try FileHandle(forWritingTo: destination)
                try handle?.truncate(atOffset: 0)
                written = 0
            case 416 where expectedSize == written:  // nothing left to fetch
                completionHandler(.cancel)
                return
            case 404:
                throw HubError("\(name): not found on the server (HTTP 404)", httpStatus: status)
            default:
                throw HubError("\(name): HTTP \(status)", httpStatus: status)
            }
            completionHandler(.allow)
        } catch {
            failure = error
            completionHandler(.cancel)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard failure == nil, let handle else { return }
        do {
            try handle.write(contentsOf: data)
            written += Int64(data.count)
            progress(name, written, expectedSize ?? written)
        } catch {
            failure = HubError("\(destination.path): cannot write (\(error))")
            dataTask.cancel()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error, (error as? URLError)?.code != .cancelled {
            failure = HubError("\(name): \(HTTPTransfer.explain(error, url: request.url))")
        }
        finished.signal()
    }

    /// A GET of a small resource: its status and body.
    static func get(_ request: URLRequest, what: String) throws -> (Int, Data) {
        final class Outcome: @unchecked Sendable {
            var value: (Int, Data)?
            var error: Error?
        }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let session = URLSession(configuration: .ephemeral)
        session.dataTask(with: request) { data, response, error in
            if let response = response as? HTTPURLResponse {
                outcome.value = (response.statusCode, data ?? Data())
            } else {
                outcome.error = error
            }
            done.signal()
        }.resume()
        done.wait()
        session.finishTasksAndInvalidate()
        guard let value = outcome.value else {
            throw HubError("\(what): \(explain(outcome.error, url: request.url))")
        }
        return value
    }

    static func explain(_ error: Error?, url: URL?) -> String {
        let host = url?.host ?? "the server"
        switch (error as? URLError)?.code {
        case .notConnectedToInternet?, .cannotFindHost?, .dnsLookupFailed?, .cannotConnectToHost?:
            return "cannot reach \(host) (offline?): \(error?.localizedDescription ?? "no connection")"
        case .timedOut?:
            return "\(host) did not answer in time"
        default:
            return "transfer from \(host) failed: \(error.map { "\($0.localizedDescription)" } ?? "unknown error")"
        }
    }
}
