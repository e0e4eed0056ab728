import ArgumentParser

@main
struct IMGSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "imgsearch",
        abstract: "Local natural-language image search with BLIP-2.",
        subcommands: [])
}
