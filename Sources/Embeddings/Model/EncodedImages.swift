/// The vision encoder's output for a batch of images, before post_layernorm: the costly
/// ~97 % of a BLIP-2 image pass, which a retrieval and a captioning model share when their
/// vision fingerprints are equal (BLIP-2 checkpoints share the frozen ViT and train their
/// own post_layernorm).
public struct EncodedImages: Sendable {
    /// float32 [count, tokens, hidden].
    public let states: [Float]
    public let count: Int
    /// Patches + 1 per image.
    public let tokens: Int
    public let hidden: Int

    /// The images at `indices`, in that order.
    public func selecting(_ indices: [Int]) -> EncodedImages {
        let stride = tokens * hidden
        var selected: [Float] = []
        selected.reserveCapacity(indices.count * stride)
        for index in indices { selected += states[(index * stride)..<((index + 1) * stride)] }
        return EncodedImages(states: selected, count: indices.count, tokens: tokens, hidden: hidden)
    }
}
