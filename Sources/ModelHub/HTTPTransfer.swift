import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP GET streamed into a file, resuming after what the file already holds with a
/// `Range` request (a server that ignores the range gets the file restarted). Connection
/// errors and short reads throw, leaving the bytes received for the next attempt.
/// (`HTTPClient.get` holds a whole reply in memory; a multi-gigabyte weight file is
/// written as it arrives, through URLSession's delegate.)
final class HTTPTransfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let destination: URL
    private let name: String
    private let expectedSize: Int64?
    private let progress: HubClient.Progress
    private var request: URLRequest
    /// Resumed when the transfer ends.
    private var finished: CheckedContinuation<Void, Never>?
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
    func run() async throws {
        if let expectedSize, written == expectedSize { return }
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: queue)
        await withCheckedContinuation { continuation in
            queue.addOperation { [self] in
                finished = continuation
                session.dataTask(with: request).resume()
            }
        }
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
            failure = HubError("\(name): \(HTTPFailure(url: request.url, cause: error))")
        }
        finished?.resume()
        finished = nil
    }
}
