package odata

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// userPage returns a page of n User records shaped like SF's.
func userPage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"d":{"__count":"2417","results":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"__metadata":{"uri":"https://api.example-sf.test:443/odata/v2/User('u%06d')",`+
			`"type":"SFOData.User"},"userId":"u%06d","firstName":"Jana","lastName":"O'Neil %d",`+
			`"email":"jana.%d@example.test","status":"t","hireDate":"/Date(1583107200000)/",`+
			`"lastModifiedDateTime":"/Date(1704067200000+0000)/","backgroundElementId":"9007199254740993",`+
			`"fte":1.0,"custom01":null,"manager":{"__deferred":{"uri":"https://api.example-sf.test:443/odata/v2/User('u%06d')/manager"}}}`,
			i, i, i, i, i)
	}
	b.WriteString(`],"__next":"https://api.example-sf.test:443/odata/v2/User?$format=json&$skiptoken=eyJzdGFydFJvdyI6MTAwMCwiZW5kUm93IjoyMDAwfQ=="}}`)
	return []byte(b.String())
}

// BenchmarkDecodePage decodes a 1,000-record page and reports records
// and bytes per second and allocations per record.
func BenchmarkDecodePage(b *testing.B) {
	const n = 1000
	body := userPage(n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		var p Page
		if err := decodePage(bytes.NewReader(body), &p); err != nil || len(p.Records) != n {
			b.Fatal(err, len(p.Records))
		}
	}
	runtime.ReadMemStats(&after)

	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*n)/secs, "records/s")
	b.ReportMetric(float64(b.N)*float64(len(body))/secs, "bytes/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*n), "allocs/record")
}
