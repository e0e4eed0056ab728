import Testing
@testable import Server

/// The query-string parser in process (scripts/fuzz-query fuzzes it).
@Suite struct RequestParametersTests {
    @Test func decodesFormsAsBrowsersEncodeThem() throws {
        let parameters = try RequestParameters(query: "q=a+cat%2Bdog&not=sea&not=%E6%97%A5%E6%9C%AC&empty=&flag&&limit=7")
        #expect(parameters.string("q") == "a cat+dog")
        #expect(parameters.all("not") == ["sea", "日本"])
        #expect(parameters.string("empty") == "")
        #expect(parameters.string("flag") == "")
        #expect(try parameters.integer("limit", in: 1...500, default: 20) == 7)
        #expect(try parameters.integer("size", in: 1...500, default: 20) == 20)
        #expect(try parameters.number("min_score", in: -1...1) == nil)
        #expect(try RequestParameters(query: nil).string("q") == nil)
        #expect(try RequestParameters(query: "q=tab%09and%0Aline").string("q") == "tab\tand\nline")
    }

    @Test func refusesMalformedTextControlCharactersAndOutOfRangeNumbers() throws {
        for query in ["q=%zz", "q=%", "q=%C3%28", "q=%00", "q=a%1Fb", "q=%7F", "q=%C2%80", "not=%1B%5B2J"] {
            #expect(throws: RequestParameterError.self, "\(query)") { try RequestParameters(query: query) }
        }
        let parameters = try RequestParameters(query: "limit=0&big=99999999999999999999&score=nan&weight=inf&x=1e-3")
        #expect(throws: RequestParameterError.self) { try parameters.integer("limit", in: 1...500, default: 20) }
        #expect(throws: RequestParameterError.self) { try parameters.integer("big", in: 1...500, default: 20) }
        #expect(throws: RequestParameterError.self) { try parameters.number("score", in: -1...1) }
        #expect(throws: RequestParameterError.self) { try parameters.number("weight", in: 0...10) }
        #expect(try parameters.number("x", in: -1...1) == 0.001)
    }
}
