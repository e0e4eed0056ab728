import Foundation

/// Checks a cached snapshot against the checksums its blobs are named by.
public enum SnapshotCheck {
    /// One line per problem: a required file missing, a dangling link, a blob whose content
    /// does not match its name (sha256 for LFS files, git blob id for the others).
    public static func problems(in folder: URL) -> [String] {
        let manager = FileManager.default
        var problems: [String] = []
        let names = (try? manager.contentsOfDirectory(atPath: folder.path)) ?? []
        if !names.contains("config.json") { problems.append("config.json is missing") }
        let hasTokenizer = names.contains("vocab.txt") || names.contains("spiece.model")
            || (names.contains("vocab.json") && names.contains("merges.txt"))
        if !hasTokenizer { problems.append("no tokenizer (vocab.txt, vocab.json + merges.txt, or spiece.model)") }
        if !names.contains(where: { $0.hasSuffix(".safetensors") }) { problems.append("no .safetensors weights") }
        for name in names.sorted() {
            let link = folder.appendingPathComponent(name)
            let target = link.resolvingSymlinksInPath()
            guard manager.fileExists(atPath: target.path) else {
                problems.append("\(name): its blob is missing")
                continue
            }
            let blobName = target.lastPathComponent
            // A file that is not a hub blob (a hand-made folder) has no checksum to check.
            guard blobName.count == 64 || blobName.count == 40, blobName.allSatisfy(\.isHexDigit) else { continue }
            do {
                let actual = try Checksum.of(fileAt: target, gitBlob: blobName.count == 40)
                if actual != blobName.lowercased() { problems.append("\(name): checksum mismatch (content \(actual))") }
            } catch {
                problems.append("\(name): cannot read (\(error))")
            }
        }
        return problems
    }
}
