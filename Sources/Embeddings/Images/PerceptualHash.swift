internal import CImageDecode
import Foundation

/// A picture's perceptual signature, the model-free level of near-duplicate detection: two
/// 63-bit DCT hashes of the decoded, upright picture, of the whole of it and of its central
/// 90 %. Re-encodes, resizes, small edits and crops by up to 10 % keep the distance between
/// the signatures small; unrelated pictures are ~31 bits apart (image_decode.h says how).
public enum PerceptualHash {
    /// The signature of the image in `data` (the file at `path`, named in errors), or nil
    /// for a flat picture (one colour, or nearly), which has no structure to compare.
    public static func signature(of data: Data, path: String) throws(ImageError) -> (whole: UInt64, center: UInt64)? {
        var signature = imgdec_signature()
        var failure = imgdec_error()
        let status = data.withUnsafeBytes { raw in
            imgdec_perceptual_signature(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, &signature, &failure)
        }
        guard status == IMGDEC_OK else {
            throw ImageError(path: path, kind: ImagePreprocessor.kind(of: status), reason: failure.text)
        }
        return signature.flat ? nil : (signature.whole, signature.center)
    }
}
