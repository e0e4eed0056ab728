import Crypto
import Foundation

/// SHA-256 of a file's bytes, in hex: what identifies an image's content, so a moved,
/// renamed or copied file is recognised and never embedded again.
public enum ContentHash {
    public static func of(fileAt path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ContentHashError(path: path, reason: String(cString: strerror(errno))) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}

/// A file whose content could not be hashed, and why (the system's words: "Permission
/// denied", "No such file or directory").
public struct ContentHashError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { reason }
}
