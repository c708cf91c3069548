package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/staging"
)

// BenchmarkOverlap runs N pages with source latency S per page (the
// simulator's Options.Latency, on every OData response) and sink latency
// K per page object PUT (the s3latency proxy in front of the S3 server).
// State records and the manifest are not delayed: they are a handful of
// writes per run, not per page, and delaying them would add a constant
// that says nothing about overlap. It reports the run's time over
// N·max(S,K): near 1 when fetching and uploading overlap, (S+K)/max(S,K)
// when they alternate.
func BenchmarkOverlap(b *testing.B) {
	const (
		pages   = 200
		perPage = 100
		S       = 50 * time.Millisecond
		K       = 40 * time.Millisecond
	)
	env := startSim(b, sfsim.Options{Users: pages * perPage, Latency: S})
	proxy := s3latency.ForTest(b, s3test.Shared(b).Endpoint, &s3latency.Options{Latency: K, Match: s3latency.PagePuts})
	c := env.connector(b, s3Store(b, proxy.URL()), catalog(b, perPage))

	var total, source time.Duration
	first := env.firstURL(b, catalog(b, perPage))
	for b.Loop() {
		start := time.Now()
		env.readAll(b, first)
		source += time.Since(start)
		total += run(b, c, pages*perPage)
	}
	ideal := time.Duration(pages) * max(S, K)
	b.ReportMetric(source.Seconds()/float64(b.N)/ideal.Seconds(), "source-ratio")
	b.ReportMetric(total.Seconds()/float64(b.N), "s/run")
	b.ReportMetric(total.Seconds()/float64(b.N)/ideal.Seconds(), "overlap-ratio")
	b.ReportMetric(float64(S+K)/float64(max(S, K)), "sequential-ratio")
}

// BenchmarkOverhead compares, with no latency added, the records per
// second of whole runs (into a DirStore and into the S3 server) with the
// records per second of the simulator serving the same pages to a plain
// HTTP client that discards them. The simulator runs in this process in
// both cases, so the ratio is the share of the machine the pipeline
// leaves to the source.
func BenchmarkOverhead(b *testing.B) {
	const (
		users   = 50000
		perPage = 1000
		rounds  = 2 // each measurement is the best of rounds
	)
	env := startSim(b, sfsim.Options{Users: users})
	cat := catalog(b, perPage)
	first := env.firstURL(b, cat)
	dir := env.connector(b, dirStore(b), cat)
	s3 := env.connector(b, s3Store(b, ""), cat)
	if n := env.readAll(b, first); n != users { // fills the simulator's render cache
		b.Fatalf("served %d records, want %d", n, users)
	}

	var bestSim, bestDir, bestS3 time.Duration
	best := func(d *time.Duration, took time.Duration) {
		if *d == 0 || took < *d {
			*d = took
		}
	}
	for b.Loop() {
		for range rounds {
			settle()
			start := time.Now()
			env.readAll(b, first)
			best(&bestSim, time.Since(start))
			settle()
			best(&bestDir, run(b, dir, users))
			settle()
			best(&bestS3, run(b, s3, users))
		}
	}
	rate := func(d time.Duration) float64 { return users / d.Seconds() }
	b.ReportMetric(rate(bestSim), "sim-records/s")
	b.ReportMetric(rate(bestDir), "dir-records/s")
	b.ReportMetric(rate(bestS3), "s3-records/s")
	b.ReportMetric(rate(bestDir)/rate(bestSim), "dir-ratio")
	b.ReportMetric(rate(bestS3)/rate(bestSim), "s3-ratio")
}

// pageBody returns the first page of the users data type as the
// simulator serves it, perPage records, with its __next link removed so
// that a client reads just that page.
func pageBody(b *testing.B, perPage int) []byte {
	env := startSim(b, sfsim.Options{Users: perPage * 2})
	u := env.firstURL(b, catalog(b, perPage))
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+env.token)
	resp, err := env.client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("first page: %d %v", resp.StatusCode, err)
	}
	return nextLink.ReplaceAll(body, nil)
}

var nextLink = regexp.MustCompile(`,"__next":"[^"]*"`)

// staticTransport answers every request with one body, in memory: the
// page without the network.
type staticTransport struct{ body []byte }

func (t staticTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json;charset=utf-8"}},
		Body:          io.NopCloser(bytes.NewReader(t.body)),
		ContentLength: int64(len(t.body)),
		Request:       req,
	}, nil
}

// BenchmarkTransform turns one SF JSON page of 1,000 users into a gzip
// NDJSON page object two ways and reports bytes of SF JSON per second of
// each: the connector's way (odata's page decoder, the catalog's
// transformer, staging's page encoder), and a plain baseline that decodes
// the page into maps, drops __metadata and __deferred stubs, re-encodes
// each record with encoding/json and compresses with compress/gzip. The
// baseline does less than the connector (no date conversion, no key), so
// the ratio understates the difference.
func BenchmarkTransform(b *testing.B) {
	const perPage = 1000
	body := pageBody(b, perPage)
	d, err := catalog(b, perPage).Lookup(dataType)
	if err != nil {
		b.Fatal(err)
	}
	q := d.Query()
	oc, err := odata.NewClient("https://sf.bench.invalid/odata/v2",
		&http.Client{Transport: staticTransport{body}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tr := d.Transformer()
	enc := staging.NewPageEncoder()
	var line []byte
	fast := func() int64 {
		enc.Reset()
		for page, err := range oc.Pages(context.Background(), q) {
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range page.Records {
				line, _, err = tr.Append(line[:0], r)
				if err != nil {
					b.Fatal(err)
				}
				if err := enc.WriteRecord(line); err != nil {
					b.Fatal(err)
				}
			}
		}
		data, n, _, err := enc.Finish()
		if err != nil || n != perPage {
			b.Fatalf("%d records, %v", n, err)
		}
		return int64(len(data))
	}

	var out bytes.Buffer
	plain := func() int64 {
		var env struct {
			D struct {
				Results []map[string]any `json:"results"`
			} `json:"d"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			b.Fatal(err)
		}
		out.Reset()
		zw := gzip.NewWriter(&out)
		for _, rec := range env.D.Results {
			delete(rec, "__metadata")
			for k, v := range rec {
				if m, ok := v.(map[string]any); ok && m["__deferred"] != nil {
					delete(rec, k)
				}
			}
			line, err := json.Marshal(rec)
			if err != nil {
				b.Fatal(err)
			}
			zw.Write(line)
			zw.Write([]byte{'\n'})
		}
		if err := zw.Close(); err != nil || len(env.D.Results) != perPage {
			b.Fatalf("%d records, %v", len(env.D.Results), err)
		}
		return int64(out.Len())
	}

	var tFast, tPlain, cFast, cPlain time.Duration
	var zFast, zPlain int64
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		start, cpu := time.Now(), cpuTime()
		zFast = fast()
		tFast += time.Since(start)
		cFast += cpuTime() - cpu
		start, cpu = time.Now(), cpuTime()
		zPlain = plain()
		tPlain += time.Since(start)
		cPlain += cpuTime() - cpu
	}
	n := float64(b.N) * float64(len(body))
	b.ReportMetric(n/tFast.Seconds()/1e6, "fast-MB/s")
	b.ReportMetric(n/tPlain.Seconds()/1e6, "plain-MB/s")
	b.ReportMetric(tPlain.Seconds()/tFast.Seconds(), "speedup")
	if cFast > 0 {
		b.ReportMetric(n/cFast.Seconds()/1e6, "fast-MB/cpu-s")
		b.ReportMetric(n/cPlain.Seconds()/1e6, "plain-MB/cpu-s")
		b.ReportMetric(cPlain.Seconds()/cFast.Seconds(), "cpu-speedup")
	}
	b.ReportMetric(float64(len(body))/float64(zFast), "fast-gzip-ratio")
	b.ReportMetric(float64(len(body))/float64(zPlain), "plain-gzip-ratio")
}

// BenchmarkMemory runs 10,000 and 1,000,000 records in pages of 1,000
// into a DirStore (or the S3 server, the -s3 cases) and reports the peak
// heap while the run works and the peak RSS of the process. The
// simulator serves from a child process, so neither counts its memory.
// Run each case in a process of its own (bench/run does) so that the
// peak RSS is that case's.
func BenchmarkMemory(b *testing.B) {
	for _, tc := range []struct {
		name    string
		records int
		s3      bool
	}{
		{"10k", 10_000, false},
		{"1M", 1_000_000, false},
		{"10k-s3", 10_000, true},
		{"1M-s3", 1_000_000, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			env := startRemoteSim(b, tc.records)
			var store staging.Store = dirStore(b)
			if tc.s3 {
				store = s3Store(b, "")
			}
			c := env.connector(b, store, catalog(b, 1000))
			var took time.Duration
			var heap, alloc, live uint64
			for b.Loop() {
				settle()
				w := watchMem(2 * time.Millisecond)
				took += run(b, c, int64(tc.records))
				w.Stop()
				heap, alloc, live = max(heap, w.inuse), max(alloc, w.allocated), max(live, w.live)
			}
			b.ReportMetric(float64(heap)/mib, "peak-heap-MiB")
			b.ReportMetric(float64(alloc)/mib, "peak-alloc-MiB")
			b.ReportMetric(float64(live)/mib, "peak-live-MiB")
			b.ReportMetric(float64(vmHWM(b))/mib, "peak-rss-MiB")
			b.ReportMetric(float64(tc.records)*float64(b.N)/took.Seconds(), "records/s")
		})
	}
}
