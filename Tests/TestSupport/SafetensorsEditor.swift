import Foundation

/// Rewrites the JSON header of a safetensors file in place, keeping its data section, so a
/// test can plant one precise defect (a missing tensor, a wrong shape, an unknown dtype).
public struct SafetensorsEditor {
    public let url: URL
    public var header: [String: Any]
    var payload: Data

    public init(url: URL) throws {
        self.url = url
        let data = try Data(contentsOf: url)
        let length = data.prefix(8).enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as! [String: Any]
        payload = data.subdata(in: (8 + length)..<data.count)
    }

    public mutating func edit(_ name: String, _ change: (inout [String: Any]) -> Void) {
        var entry = header[name] as! [String: Any]
        change(&entry)
        header[name] = entry
    }

    /// Adds `name` holding a copy of `source`'s bytes (dtype and shape too), at the end.
    public mutating func add(_ name: String, copyOf source: String) {
        let entry = header[source] as! [String: Any]
        let offsets = entry["data_offsets"] as! [Int]
        let start = payload.count
        payload.append(payload.subdata(in: offsets[0]..<offsets[1]))
        header[name] = ["dtype": entry["dtype"]!, "shape": entry["shape"]!, "data_offsets": [start, payload.count]]
    }

    public func save() throws {
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var length = UInt64(json.count).littleEndian
        var data = Data(bytes: &length, count: 8)
        data.append(json)
        data.append(payload)
        try data.write(to: url)
    }
}

extension SafetensorsEditor {
    /// Multiplies elements `channels` of the F32 vector `name` by `factor`, in the data.
    public mutating func scale(_ name: String, channels: [Int], by factor: Float) {
        let entry = header[name] as! [String: Any]
        precondition(entry["dtype"] as? String == "F32", "\(name) is not F32")
        let start = (entry["data_offsets"] as! [Int])[0]
        for channel in channels {
            let range = (start + 4 * channel)..<(start + 4 * channel + 4)
            let value = payload.subdata(in: range).withUnsafeBytes { $0.loadUnaligned(as: Float.self) } * factor
            payload.replaceSubrange(range, with: withUnsafeBytes(of: value) { Data($0) })
        }
    }
}
