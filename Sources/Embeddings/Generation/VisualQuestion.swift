/// LAVIS's VQA prompt for BLIP-2 ("Question: … Short answer:", its eval configs for OPT and
/// Flan-T5) and its `BlipQuestionProcessor` cleanup of the question.
public enum VisualQuestion {
    /// Lower case, without `. ! " ( ) * # : ; ~`, at most 50 words.
    public static func cleaned(_ question: String) -> String {
        let removed = Set(".!\"()*#:;~")
        let kept = question.lowercased().filter { !removed.contains($0) }
        return kept.split(whereSeparator: \.isWhitespace).prefix(50).joined(separator: " ")
    }

    public static func prompt(_ question: String) -> String {
        "Question: \(cleaned(question)) Short answer:"
    }
}
