import Foundation

/// Runs the built `imgsearch` executable, as argument-parser's `AssertExecuteCommand` does:
/// the binary sits beside the test bundle in the build products directory.
public enum CommandRunner {
    public struct Outcome: Sendable {
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    public static var productsDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Runs `imgsearch arguments`; `environment` entries are added to (or replace) this process's.
    public static func imgsearch(_ arguments: [String], environment: [String: String] = [:]) throws -> Outcome {
        try run([productsDirectory.appendingPathComponent("imgsearch").path] + arguments, environment: environment)
    }

    /// Runs `command[0]` (a path) with the rest as its arguments.
    public static func run(_ command: [String], environment: [String: String] = [:]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        // Standard error goes to a file: reading two pipes one after the other could block.
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("imgsearch-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errData = try Data(contentsOf: errorFile)
        return Outcome(status: process.terminationStatus,
                       standardOutput: String(decoding: outData, as: UTF8.self),
                       standardError: String(decoding: errData, as: UTF8.self))
    }
}

/// Runs a command as a user without privileges when the tests run as root (who reads every
/// file whatever its mode), so that permissions mean what they mean for a user.
public struct UnprivilegedUser {
    /// The command prefix: `setpriv` to `nobody` under root, nothing otherwise.
    public let prefix: [String]
    /// The imgsearch binary and a fixture model that user can run and read.
    public let binary: String
    public let model: String

    /// Opens `directory` (and everything in it) to that user, and, under root, copies the
    /// binary and the fixture model `modelName` into it: the checkout itself may lie where
    /// `nobody` cannot go (a home folder).
    public init(sharing directory: URL, modelName: String = "tiny-a") throws {
        let built = CommandRunner.productsDirectory.appendingPathComponent("imgsearch").path
        guard getuid() == 0 else {
            (prefix, binary, model) = ([], built, Fixtures.model(modelName).path)
            return
        }
        let manager = FileManager.default
        let tools = directory.appendingPathComponent("unprivileged")
        try manager.createDirectory(at: tools, withIntermediateDirectories: true)
        binary = tools.appendingPathComponent("imgsearch").path
        try manager.copyItem(atPath: built, toPath: binary)
        model = tools.appendingPathComponent(modelName).path
        try manager.createDirectory(atPath: model, withIntermediateDirectories: true)
        let source = Fixtures.model(modelName)
        for file in try manager.contentsOfDirectory(atPath: source.path) {  // links resolved: they point into the checkout
            try manager.copyItem(at: source.appendingPathComponent(file).resolvingSymlinksInPath(),
                                 to: URL(fileURLWithPath: model).appendingPathComponent(file))
        }
        try manager.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        for case let name as String in manager.enumerator(atPath: directory.path)! {
            let path = directory.appendingPathComponent(name).path
            var isFolder: ObjCBool = false
            manager.fileExists(atPath: path, isDirectory: &isFolder)
            let executable = isFolder.boolValue || path == binary
            try manager.setAttributes([.posixPermissions: executable ? 0o777 : 0o666], ofItemAtPath: path)
        }
        prefix = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    }
}
