import Foundation
import TestSupport
import Testing
@testable import Embeddings

/// Every defect of a snapshot gives a one-line error naming the file, key or tensor, never a crash.
@Suite struct ModelLoadingErrorTests {
    /// Loads `directory` and returns the error text, failing the test if loading succeeds.
    func loadError(_ directory: URL, parts: ModelParts = .all) -> String {
        do {
            _ = try Blip2Model(directory: directory, options: ComputeOptions(device: "cpu", parts: parts))
            Issue.record("loading \(directory.path) should have failed")
            return ""
        } catch {
            #expect(!error.description.contains("\n"), "error is not one line: \(error.description)")
            return error.description
        }
    }

    func withCopy(_ body: (URL) throws -> Void) throws {
        let directory = try Fixtures.copyOfModel("tiny-a")
        defer { try? FileManager.default.removeItem(at: directory) }
        try body(directory)
    }

    func editConfig(_ directory: URL, _ change: (inout [String: Any]) -> Void) throws {
        let url = directory.appendingPathComponent("config.json")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        change(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    func weights(_ directory: URL) -> URL { directory.appendingPathComponent("model.safetensors") }

    @Test func missingDirectoryIsNamed() {
        #expect(loadError(URL(fileURLWithPath: "/nonexistent/model")).contains("/nonexistent/model: no such model directory"))
    }

    @Test func missingConfigIsNamed() throws {
        try withCopy { directory in
            try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
            #expect(loadError(directory).contains("config.json"))
        }
    }

    @Test func malformedConfigIsNamed() throws {
        try withCopy { directory in
            try Data("{ not json".utf8).write(to: directory.appendingPathComponent("config.json"))
            #expect(loadError(directory).contains("config.json: not a valid JSON object"))
        }
    }

    @Test func otherArchitectureIsRefused() throws {
        try withCopy { directory in
            try editConfig(directory) { $0["model_type"] = "clip" }
            #expect(loadError(directory).contains("model_type: is \"clip\", expected \"blip-2\""))
        }
    }

    @Test func configWithoutTextPathIsRefused() throws {
        try withCopy { directory in
            try editConfig(directory) { config in
                var qformer = config["qformer_config"] as! [String: Any]
                qformer["use_qformer_text_input"] = false
                config["qformer_config"] = qformer
            }
            #expect(loadError(directory).contains("qformer_config.use_qformer_text_input: must be true"))
        }
    }

    @Test func wronglyTypedConfigValueNamesTheKey() throws {
        try withCopy { directory in
            try editConfig(directory) { config in
                var vision = config["vision_config"] as! [String: Any]
                vision["hidden_size"] = "wide"
                config["vision_config"] = vision
            }
            #expect(loadError(directory).contains("vision_config.hidden_size: expected an integer"))
        }
    }

    @Test func unsupportedActivationIsRefused() throws {
        try withCopy { directory in
            try editConfig(directory) { config in
                var vision = config["vision_config"] as! [String: Any]
                vision["hidden_act"] = "quick_gelu"
                config["vision_config"] = vision
            }
            #expect(loadError(directory).contains("vision_config.hidden_act: \"quick_gelu\" is not supported"))
        }
    }

    @Test func configDisagreeingWithWeightsNamesTheMissingTensor() throws {
        try withCopy { directory in
            try editConfig(directory) { config in
                var vision = config["vision_config"] as! [String: Any]
                vision["num_hidden_layers"] = 3
                config["vision_config"] = vision
            }
            #expect(loadError(directory).contains("missing tensor vision_model.encoder.layers.2."))
        }
    }

    @Test func truncatedWeightsAreReported() throws {
        try withCopy { directory in
            let handle = try FileHandle(forWritingTo: weights(directory))
            try handle.truncate(atOffset: 1_000_000)
            try handle.close()
            let message = loadError(directory)
            #expect(message.contains("model.safetensors: truncated"))
        }
    }

    @Test func truncatedHeaderIsReported() throws {
        try withCopy { directory in
            let handle = try FileHandle(forWritingTo: weights(directory))
            try handle.truncate(atOffset: 100)
            try handle.close()
            #expect(loadError(directory).contains("model.safetensors: truncated: the header claims"))
        }
    }

    @Test func garbageWeightsAreReported() throws {
        try withCopy { directory in
            var garbage = Data([16, 0, 0, 0, 0, 0, 0, 0])
            garbage.append(Data("this is no json!".utf8))
            try garbage.write(to: weights(directory))
            #expect(loadError(directory).contains("malformed safetensors header"))
        }
    }

    @Test func missingTensorIsNamed() throws {
        try withCopy { directory in
            var editor = try SafetensorsEditor(url: weights(directory))
            editor.header.removeValue(forKey: "itm_head.bias")
            try editor.save()
            #expect(loadError(directory).contains("missing tensor itm_head.bias [2]"))
        }
    }

    @Test func misShapedTensorNamesBothShapes() throws {
        try withCopy { directory in
            var editor = try SafetensorsEditor(url: weights(directory))
            editor.edit("vision_projection.weight") { $0["shape"] = [32, 16] }
            try editor.save()
            #expect(loadError(directory).contains("tensor vision_projection.weight has shape [32, 16], config.json implies [16, 32]"))
        }
    }

    @Test func unsupportedDtypeIsNamed() throws {
        try withCopy { directory in
            var editor = try SafetensorsEditor(url: weights(directory))
            editor.edit("text_projection.weight") { $0["dtype"] = "I32" }
            try editor.save()
            #expect(loadError(directory).contains("tensor text_projection.weight is stored as I32"))
        }
    }

    @Test func unexpectedTensorIsNamed() throws {
        try withCopy { directory in
            var editor = try SafetensorsEditor(url: weights(directory))
            editor.header["language_model.lm_head.weight"] = editor.header["itm_head.weight"]
            try editor.save()
            #expect(loadError(directory).contains("unexpected tensor language_model.lm_head.weight"))
        }
    }

    @Test func partsNotLoadedAreStillChecked() throws {
        try withCopy { directory in
            var editor = try SafetensorsEditor(url: weights(directory))
            editor.edit("vision_model.post_layernorm.weight") { $0["shape"] = [47] }
            editor.edit("vision_model.post_layernorm.bias") { $0["shape"] = [47] }
            try editor.save()
            #expect(loadError(directory, parts: .text).contains("vision_model.post_layernorm"))
        }
    }

    @Test func missingShardIsNamed() throws {
        let directory = try Fixtures.copyOfModel("tiny-a-sharded")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model-00002-of-00002.safetensors"))
        #expect(loadError(directory).contains("model-00002-of-00002.safetensors: cannot open"))
    }

    @Test func missingVocabularyIsNamed() throws {
        try withCopy { directory in
            try FileManager.default.removeItem(at: directory.appendingPathComponent("vocab.txt"))
            #expect(loadError(directory).contains("vocab.txt: missing"))
        }
    }

    @Test func fp16OnTheCPUIsRefusedClearly() throws {
        do {
            _ = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cpu", precision: .fp16))
            Issue.record("fp16 on the CPU should be refused")
        } catch {
            #expect(error.description.contains("fp16 is not supported on the CPU"))
        }
    }

    @Test(.enabled(if: !ComputeThreads.cudaAvailable, "this build has CUDA"))
    func unavailableCudaIsRefusedClearly() throws {
        do {
            _ = try Blip2Model(directory: Fixtures.model("tiny-a"), options: ComputeOptions(device: "cuda:0"))
            Issue.record("CUDA should be refused on a build without it")
        } catch {
            #expect(error.description.contains("no usable CUDA"))
        }
    }
}
