package bench

import (
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/internal/sfsim"
)

// TestSmoke runs the harness on a few small pages: a run through the
// latency proxy into S3, a run into a DirStore, and the plain reader, so
// that `go test ./...` keeps the benchmarks compiling and working.
func TestSmoke(t *testing.T) {
	const pages, perPage = 4, 25
	env := startSim(t, sfsim.Options{Users: pages * perPage, Latency: 5 * time.Millisecond})
	cat := catalog(t, perPage)
	if n := env.readAll(t, env.firstURL(t, cat)); n != pages*perPage {
		t.Fatalf("plain reader got %d records, want %d", n, pages*perPage)
	}

	run(t, env.connector(t, dirStore(t), cat), pages*perPage)

	proxy := s3latency.ForTest(t, s3test.Shared(t).Endpoint, &s3latency.Options{
		Latency: 5 * time.Millisecond, Match: s3latency.PagePuts,
	})
	run(t, env.connector(t, s3Store(t, proxy.URL()), cat), pages*perPage)
	delayed := 0
	for _, r := range proxy.Requests() {
		if r.Waited > 0 {
			delayed++
		}
	}
	if delayed != pages {
		t.Errorf("%d requests delayed, want one per page (%d)", delayed, pages)
	}

	w := watchMem(time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	w.Stop()
	if w.inuse == 0 || w.allocated == 0 || w.allocated > w.inuse || vmHWM(t) == 0 {
		t.Errorf("memory sampler: inuse %d, allocated %d", w.inuse, w.allocated)
	}
}
