package sfsim

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// serveAll pages through a whole entity set and returns the record count.
func serveAll(b testing.TB, c *http.Client, token, u string) int {
	n := 0
	var buf bytes.Buffer
	for u != "" {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		body := buf.Bytes()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
		}
		// The body is not decoded: the benchmark measures the simulator,
		// not a client's JSON decoding. Records are counted by their
		// __metadata, and __next is cut from the end of the envelope.
		n += bytes.Count(body, []byte(`{"__metadata":`))
		u = ""
		if i := bytes.LastIndex(body, []byte(`"__next":"`)); i >= 0 {
			rest := body[i+len(`"__next":"`):]
			u = string(rest[:bytes.IndexByte(rest, '"')])
		}
	}
	return n
}

// BenchmarkServeUsers measures the simulator serving the User set in
// pages of 1000 over loopback HTTP and HTTPS: whole records and the
// catalog's projection, from the render cache and generated afresh.
func BenchmarkServeUsers(b *testing.B) {
	const users = 20000
	const sel = "&$select=userId,username,status,firstName,lastName,email,department,division,location,jobCode,title,hireDate,lastModifiedDateTime"
	for _, tc := range []struct {
		name  string
		tls   bool
		cache int64
		query string
	}{
		{"http/all-properties", false, 512 << 20, "?$format=json&paging=snapshot"},
		{"https/all-properties", true, 512 << 20, "?$format=json&paging=snapshot"},
		{"https/select", true, 0, "?$format=json&paging=snapshot" + sel},
		{"https/select-uncached", true, -1, "?$format=json&paging=snapshot" + sel},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := New(Options{Users: users, RenderCacheBytes: tc.cache})
			var ts *httptest.Server
			if tc.tls {
				ts = httptest.NewTLSServer(s.Handler())
			} else {
				ts = httptest.NewServer(s.Handler())
			}
			defer ts.Close()
			token := s.IssueToken("10000001")
			serveAll(b, ts.Client(), token, ts.URL+"/odata/v2/User"+tc.query)
			b.ResetTimer()
			records := 0
			for b.Loop() {
				records += serveAll(b, ts.Client(), token, ts.URL+"/odata/v2/User"+tc.query)
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
