import Foundation
import TestSupport
import Testing
import ZIPFoundation

/// End-to-end runs of the built `imgsearch` binary on the tiny-a fixture: real PNG photos
/// through the decoder, the model and the printers, compared with transformers' outputs.
@Suite struct CommandLineTests {
    let model = Fixtures.model("tiny-a").path
    let expected: ExpectedOutputs
    let astronaut = Fixtures.root.appendingPathComponent("images/astronaut.png").path
    let chelsea = Fixtures.root.appendingPathComponent("images/chelsea.png").path

    init() throws {
        expected = try ExpectedOutputs.load(model: "tiny-a")
    }

    struct EmbedLine: Decodable {
        let kind: String
        let path: String?
        let text: String?
        let tokens: [Int32]?
        let embedding: JSONEmbedding
    }

    /// An image line holds [[Float]], a text line [Float].
    enum JSONEmbedding: Decodable {
        case image([[Float]]), text([Float])
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let rows = try? container.decode([[Float]].self) { self = .image(rows) } else { self = .text(try container.decode([Float].self)) }
        }
        var flat: [Float] {
            switch self {
            case .image(let rows): rows.flatMap { $0 }
            case .text(let values): values
            }
        }
    }

    func lines<T: Decodable>(_ output: String, as type: T.Type) throws -> [T] {
        try output.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    @Test func embedPrintsReferenceEmbeddingsAsJSONLines() throws {
        let run = try CommandRunner.imgsearch(["embed", "--model", model, "--device", "cpu", "--json",
                                               "--image", astronaut, "--image", chelsea,
                                               "--text", expected.texts[0], "--text", expected.texts[2]])
        #expect(run.status == 0, "\(run.standardError)")
        let parsed = try lines(run.standardOutput, as: EmbedLine.self)
        try #require(parsed.count == 4)
        #expect(parsed.map(\.kind) == ["image", "image", "text", "text"])
        #expect(parsed[0].path == astronaut)
        for (line, reference) in zip(parsed[0..<2], expected.image_embeddings[0..<2]) {
            #expect(maxAbsoluteDifference(line.embedding.flat, reference.flatMap { $0 }) <= 1e-4)
        }
        for (line, index) in zip(parsed[2...], [0, 2]) {
            #expect(line.text == expected.texts[index])
            #expect(line.tokens == expected.unpaddedIDs(index))
            #expect(maxAbsoluteDifference(line.embedding.flat, expected.text_embeddings[index]) <= 1e-4)
        }
    }

    @Test func embedReportsAnUnreadableImageAndEmbedsTheRest() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let corrupt = directory.appendingPathComponent("holiday.jpg")
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46]).write(to: corrupt)
        let run = try CommandRunner.imgsearch(["embed", "--model", model, "--device", "cpu", "--json",
                                               "--image", corrupt.path, "--image", chelsea])
        #expect(run.status == 1)
        #expect(run.standardError.contains("\(corrupt.path): "))
        let parsed = try lines(run.standardOutput, as: EmbedLine.self)
        #expect(parsed.map(\.path) == [chelsea])
    }

    @Test func embedWritesANumpyArchive() throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.npz")
        let run = try CommandRunner.imgsearch(["embed", "--model", model, "--device", "cpu", "--output", output.path,
                                               "--image", astronaut, "--text", expected.texts[1]])
        #expect(run.status == 0, "\(run.standardError)")
        let archive = try Archive(url: output, accessMode: .read)
        #expect(Set(archive.map(\.path)) == ["image_embeddings.npy", "image_paths.npy", "text_embeddings.npy", "texts.npy"])
        var npy = Data()
        _ = try archive.extract(try #require(archive["image_embeddings.npy"])) { npy.append($0) }
        #expect(npy.prefix(6) == Data([0x93]) + Data("NUMPY".utf8))
        let headerLength = Int(npy[8]) | Int(npy[9]) << 8
        let header = String(decoding: npy[10..<(10 + headerLength)], as: UTF8.self)
        #expect(header.contains("'descr': '<f4'") && header.contains("'shape': (1, 32, 16)"))
        #expect((10 + headerLength) % 64 == 0)
        let floats = npy[(10 + headerLength)...].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(maxAbsoluteDifference(floats, expected.image_embeddings[0].flatMap { $0 }) <= 1e-4)
    }

    struct MatchLine: Decodable {
        let path: String
        let text: String
        let itc: Float
        let itm: Float
    }

    @Test func matchPrintsReferenceITCAndITM() throws {
        let run = try CommandRunner.imgsearch(["match", "--model", model, "--device", "cpu", "--json", astronaut]
                                              + expected.texts)
        #expect(run.status == 0, "\(run.standardError)")
        let parsed = try lines(run.standardOutput, as: MatchLine.self)
        #expect(parsed.map(\.text) == expected.texts)
        #expect(maxAbsoluteDifference(parsed.map(\.itc), expected.itc[0]) <= 1e-4)
        #expect(maxAbsoluteDifference(parsed.map(\.itm), expected.itm[0]) <= 1e-4)
    }

    @Test func badModelDirectoryFailsWithOneLine() throws {
        let run = try CommandRunner.imgsearch(["embed", "--model", "/nonexistent/blip2", "--text", "a dog", "--json"])
        #expect(run.status != 0)
        #expect(run.standardError == "Error: /nonexistent/blip2: no such model directory\n")
        #expect(run.standardOutput.isEmpty)
    }

    @Test func emptyTextIsRefused() throws {
        let run = try CommandRunner.imgsearch(["embed", "--model", model, "--device", "cpu", "--text", " \t", "--json"])
        #expect(run.status != 0)
        #expect(run.standardError.contains("the text is empty"))
    }
}
