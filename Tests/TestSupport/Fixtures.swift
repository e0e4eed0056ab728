import Foundation

/// Paths of the committed fixtures under `Tests/Fixtures` (see its README for the scripts
/// that regenerate them).
public enum Fixtures {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func model(_ name: String) -> URL {
        root.appendingPathComponent("models").appendingPathComponent(name)
    }

    public static var vocabulary: URL { root.appendingPathComponent("vocab.txt") }

    /// A fresh temporary directory; the caller removes it.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("imgsearch-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Copies a fixture model into a temporary directory the test may damage.
    public static func copyOfModel(_ name: String) throws -> URL {
        let directory = try temporaryDirectory()
        let source = model(name)
        for file in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            let from = source.appendingPathComponent(file).resolvingSymlinksInPath()
            try FileManager.default.copyItem(at: from, to: directory.appendingPathComponent(file))
        }
        return directory
    }

    public static func readFloats(_ url: URL) throws -> [Float] {
        let data = try Data(contentsOf: url)
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
    }
}

/// The reference outputs `tools/make_fixtures.py` computed with transformers.
public struct ExpectedOutputs: Decodable {
    public let texts: [String]
    public let input_ids: [[Int32]]
    public let attention_mask: [[Int32]]
    public let pixels_shape: [Int]
    public let image_embeddings: [[[Float]]]
    public let text_embeddings: [[Float]]
    public let itc: [[Float]]
    public let itm: [[Float]]

    public static func load(model name: String) throws -> ExpectedOutputs {
        let data = try Data(contentsOf: Fixtures.model(name).appendingPathComponent("expected.json"))
        return try JSONDecoder().decode(ExpectedOutputs.self, from: data)
    }

    /// The reference's ids of text `index`, without the right padding.
    public func unpaddedIDs(_ index: Int) -> [Int32] {
        zip(input_ids[index], attention_mask[index]).filter { $0.1 == 1 }.map(\.0)
    }
}

public func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
