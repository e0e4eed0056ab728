import ArgumentParser
import Logging

/// The `imgsearch` command line: parses arguments and wires library calls; no logic of its own.
struct IMGSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgsearch",
        abstract: "Local natural-language image search with BLIP-2.",
        subcommands: [Index.self, Search.self, Duplicates.self, Daemon.self, Status.self, Prune.self, Embed.self, Match.self, Caption.self, Ask.self, Model.self, Demo.self])
}

/// Sets up logging to standard error before any command runs.
@main
enum EntryPoint {
    static func main() async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        await IMGSearch.main()
    }
}

/// The process-wide logger; messages go to standard error so standard output stays parseable.
let log = Logger(label: "imgsearch")
