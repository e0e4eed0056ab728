import Foundation

/// The optional side files of a Hugging Face tokenizer: `tokenizer_config.json`,
/// `special_tokens_map.json` and `added_tokens.json`. A file that exists but cannot be
/// read is an error naming it; a missing one means the tokenizer class's defaults.
struct TokenizerFiles {
    private var settings: [String: Any] = [:]
    /// `added_tokens.json`: token text → id.
    private(set) var addedTokens: [String: Int32] = [:]

    init(directory: URL) throws(TokenizerError) {
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            for (key, value) in try Self.object(directory.appendingPathComponent(name)) ?? [:] { settings[key] = value }
        }
        let addedURL = directory.appendingPathComponent("added_tokens.json")
        for (token, value) in try Self.object(addedURL) ?? [:] {
            guard let id = (value as? NSNumber).flatMap({ Int32(exactly: $0.intValue) }) else {
                throw .unreadableVocabulary(path: addedURL.path, reason: "\"\(token)\" has no integer id")
            }
            addedTokens[token] = id
        }
    }

    /// A token setting (`bos_token`, …) given as a string or as an AddedToken object.
    func specialToken(_ key: String) -> String? {
        if let text = settings[key] as? String { return text }
        return (settings[key] as? [String: Any])?["content"] as? String
    }

    /// The texts of the bos/eos/unk/pad tokens and any `additional_special_tokens`, with
    /// `defaults` for the ones the files do not set.
    func specialTokenNames(defaults: [String: String]) -> [String] {
        var names = defaults.keys.sorted().compactMap { specialToken($0) ?? defaults[$0] }
        for item in settings["additional_special_tokens"] as? [Any] ?? [] {
            if let text = item as? String ?? (item as? [String: Any])?["content"] as? String { names.append(text) }
        }
        return names
    }

    func bool(_ key: String) -> Bool? { settings[key] as? Bool }

    func integer(_ key: String) -> Int? { (settings[key] as? NSNumber)?.intValue }

    private static func object(_ url: URL) throws(TokenizerError) -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: url.path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw .unreadableVocabulary(path: url.path, reason: "not a readable JSON object")
        }
        return object
    }
}
