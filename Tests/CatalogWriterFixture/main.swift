// A real writer process for the crash test (StoreTests/CatalogCrashTests): commits batches of
// files and 32×256 embeddings to a catalog as fast as it can, printing "committed N" after
// each commit, until it is killed.
//
//   CatalogWriterFixture DATABASE BATCH_SIZE
import Foundation
import Store

let arguments = CommandLine.arguments
guard arguments.count == 3, let batchSize = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: CatalogWriterFixture DATABASE BATCH_SIZE\n".utf8))
    exit(2)
}
let catalog = try Catalog(path: arguments[1])
let model = ModelRecord(id: "crash-test-model", description: "fixture", queryCount: 32, dimension: 256)
var batch = 0
while true {
    try catalog.write { transaction in
        try transaction.register(model)
        for item in 0..<batchSize {
            let n = batch * batchSize + item
            let hash = "content-\(n)"
            let vectors = (0..<(32 * 256)).map { Float(($0 + n) % 97) / 97 }
            try transaction.storeImage(StoredImage(contentHash: hash, modelId: model.id, vectors: vectors))
            try transaction.upsert(CatalogFile(root: "/photos", path: "/photos/\(n).jpg", device: 1, inode: Int64(n),
                                               size: 1000, modifiedNanoseconds: 0, contentHash: hash, state: .indexed))
        }
    }
    FileHandle.standardOutput.write(Data("committed \(batch)\n".utf8))  // unbuffered: seen before a kill
    batch += 1
}
