import Foundation
import Library
import Query
import Testing

@Suite struct CatalogFilesTests {
    @Test func sideFilesAreNamedAfterTheDatabase() {
        let files = CatalogFiles(database: "/data/photos.sqlite")
        #expect(files.indexCacheDirectory == "/data/photos.sqlite.index")
        #expect(files.daemonStatus == "/data/photos.sqlite.daemon.json")
        #expect(files.thumbnailDirectory == "/data/photos.sqlite.thumbnails")
    }
}
