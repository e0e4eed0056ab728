/// The two kinds of BLIP-2 snapshot: retrieval (ITC/ITM embeddings, what search uses) and
/// conditional generation (captions and answers through OPT or Flan-T5).
public enum ModelArchitecture: String, Sendable {
    case retrieval = "Blip2ForImageTextRetrieval"
    case generation = "Blip2ForConditionalGeneration"

    /// From `architectures` when the config names one; otherwise a Q-Former with text input
    /// is a retrieval model (every Blip2Config has a `text_config`, so that cannot tell).
    init(config: ConfigReader) throws(ModelError) {
        for name in try config.strings("architectures") ?? [] {
            if let known = ModelArchitecture(rawValue: name) {
                self = known
                return
            }
        }
        let textInput: Bool? = try config.section("qformer_config").value("use_qformer_text_input")
        self = textInput == true ? .retrieval : .generation
    }

    /// Why a snapshot of this kind cannot serve where `wanted` is needed.
    func mismatch(wanted: ModelArchitecture) -> String {
        switch wanted {
        case .generation:
            return "is a \(rawValue) model: captioning needs a Blip2ForConditionalGeneration snapshot such as Salesforce/blip2-opt-2.7b"
        case .retrieval:
            return "is a \(rawValue) model (captions and answers): search, embeddings and matching need a Blip2ForImageTextRetrieval snapshot such as Salesforce/blip2-itm-vit-g"
        }
    }
}
