import Foundation
import ZIPFoundation

/// A `.npz` file: a zip of `.npy` arrays, as `numpy.savez` writes and `numpy.load` reads.
/// The `.npy` header (format 1.0) is written here; it is a few bytes of Python-dict text
/// that no Swift library produces.
struct NumpyArchive {
    private var arrays: [(name: String, data: Data)] = []

    /// A little-endian float32 array of `shape`.
    mutating func add(_ name: String, floats: [Float], shape: [Int]) {
        precondition(floats.count == shape.reduce(1, *), "\(name): shape does not match the data")
        var body = Data(capacity: floats.count * 4)
        for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { body.append(contentsOf: $0) } }
        arrays.append((name, Self.npy(descr: "<f4", shape: shape, body: body)))
    }

    /// A 1-D unicode array (numpy dtype `<U{n}`: UTF-32LE, padded to the longest string).
    mutating func add(_ name: String, strings: [String]) {
        let width = max(1, strings.map(\.unicodeScalars.count).max() ?? 1)
        var body = Data(capacity: strings.count * width * 4)
        for string in strings {
            let scalars = string.unicodeScalars.map(\.value) + Array(repeating: 0, count: width - string.unicodeScalars.count)
            for scalar in scalars { withUnsafeBytes(of: scalar.littleEndian) { body.append(contentsOf: $0) } }
        }
        arrays.append((name, Self.npy(descr: "<U\(width)", shape: [strings.count], body: body)))
    }

    func write(to url: URL) throws {
        try? FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        for (name, data) in arrays {
            try archive.addEntry(with: name + ".npy", type: .file, uncompressedSize: Int64(data.count)) { position, size in
                data.subdata(in: Int(position)..<(Int(position) + size))
            }
        }
    }

    private static func npy(descr: String, shape: [Int], body: Data) -> Data {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes, ending in \n.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xFF), UInt8(length >> 8)])
        data.append(Data(header.utf8))
        data.append(body)
        return data
    }
}
