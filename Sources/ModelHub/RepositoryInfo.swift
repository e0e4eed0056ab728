import Foundation

/// A model repository at one commit, as the hub's API describes it
/// (`GET /api/models/REPO/revision/REV?blobs=true`): every file with its size and the
/// checksum the hub publishes (sha256 for LFS files, the git blob id for the others).
public struct RepositoryInfo: Decodable, Sendable {
    public struct File: Decodable, Sendable {
        public struct LFS: Decodable, Sendable {
            public let sha256: String
            public let size: Int64
        }

        public let rfilename: String
        public let blobId: String?
        public let size: Int64?
        public let lfs: LFS?

        /// The name of its blob in the cache, as huggingface_hub names it (its ETag).
        var blobName: String? { lfs?.sha256 ?? blobId }
        var expectedSize: Int64? { lfs?.size ?? size }
    }

    public let sha: String
    public let siblings: [File]

    /// What imgsearch needs of a BLIP-2 snapshot: config, vocabulary, safetensors weights
    /// (single or sharded, with their index) and the image processor's config. Other
    /// formats (pytorch_model.bin, TF, Flax) are left on the hub.
    /// The configs and tokenizer files of a retrieval (BERT `vocab.txt`) or a captioning
    /// snapshot (OPT `vocab.json` + `merges.txt`, T5 `spiece.model`), besides the weights.
    static let snapshotFiles: Set<String> = [
        "config.json", "preprocessor_config.json", "processor_config.json", "generation_config.json",
        "model.safetensors.index.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model",
        "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    ]

    public var neededFiles: [File] {
        siblings.filter { file in
            let name = file.rfilename
            return Self.snapshotFiles.contains(name)
                || (name.hasSuffix(".safetensors") && !name.contains("/"))
        }
    }
}
