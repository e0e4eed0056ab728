import Foundation

/// Paths of the committed fixtures under `Tests/Fixtures` (see its README for the scripts
/// that regenerate them).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func model(_ name: String) -> URL {
        root.appendingPathComponent("models").appendingPathComponent(name)
    }

    static var vocabulary: URL { root.appendingPathComponent("vocab.txt") }

    /// A fresh temporary directory, removed by the caller with `removeTemporary`.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("imgsearch-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies a fixture model into a temporary directory the test may damage.
    static func copyOfModel(_ name: String) throws -> URL {
        let directory = try temporaryDirectory()
        let source = model(name)
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(file).resolvingSymlinksInPath()
            try FileManager.default.copyItem(at: from, to: directory.appendingPathComponent(file))
        }
        return directory
    }

    static func readFloats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
    }
}

/// The reference outputs `tools/make_fixtures.py` computed with transformers.
struct ExpectedOutputs: Decodable {
    let texts: [String]
    let input_ids: [[Int32]]
    let attention_mask: [[Int32]]
    let pixels_shape: [Int]
    let image_embeddings: [[[Float]]]
    let text_embeddings: [[Float]]
    let itc: [[Float]]
    let itm: [[Float]]

    static func load(model name: String) throws -> ExpectedOutputs {
        let data = try Data(contentsOf: Fixtures.model(name).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(ExpectedOutputs.self, from: data)
    }

    /// The reference's ids of text `index`, without the right padding.
    func unpaddedIDs(_ index: Int) -> [Int32] {
        zip(input_ids[index], attention_mask[index]).filter { $0.1 == 1 }.map(\.0)
    }
}

func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
