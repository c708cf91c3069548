package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
)

// TestRandomFaultMixes runs extractions under random mixes of faults from
// both sides, each mix drawn from a logged seed. Whatever the mix, a run
// ends done with exactly the simulator's records or failed with a kind
// that names one of the faults in it, without a manifest.
func TestRandomFaultMixes(t *testing.T) {
	t.Parallel()
	const mixes = 24
	// A failure names its seed; SFCONNECTOR_E2E_SEED replays it.
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("SFCONNECTOR_E2E_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	type fault struct {
		name  string
		kinds []connector.ErrorKind // kinds a run may fail with because of it
		apply func(e *env, page, times int)
	}
	pool := []fault{
		{"503", []connector.ErrorKind{connector.KindUnavailable}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Status: 503})
		}},
		{"429", []connector.ErrorKind{connector.KindThrottled}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Status: 429, RetryAfter: "0"})
		}},
		{"reset", []connector.ErrorKind{connector.KindUnavailable}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Kind: sfsim.FaultReset, AfterBytes: 100})
		}},
		{"truncate", []connector.ErrorKind{connector.KindUnavailable, connector.KindSnapshotLost}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Kind: sfsim.FaultTruncate})
		}},
		{"maintenance", []connector.ErrorKind{connector.KindUnavailable}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Kind: sfsim.FaultMaintenance})
		}},
		{"token", []connector.ErrorKind{connector.KindAuth}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Kind: sfsim.FaultTokenRejected})
		}},
		{"snapshot", []connector.ErrorKind{connector.KindSnapshotLost}, func(e *env, p, n int) {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: p, Times: n, Kind: sfsim.FaultSnapshotLost})
		}},
		{"s3 500", []connector.ErrorKind{connector.KindStorage}, func(e *env, p, n int) {
			e.proxy.Inject(s3latency.Fault{Kind: s3latency.InternalError, Match: s3latency.PagePuts, After: p, Times: n})
		}},
		{"s3 lost answer", []connector.ErrorKind{connector.KindStorage}, func(e *env, p, n int) {
			e.proxy.Inject(s3latency.Fault{Kind: s3latency.InternalError, Method: "PUT", After: p + 1, Times: 1, Forward: true})
		}},
		{"s3 slowdown", []connector.ErrorKind{connector.KindStorage}, func(e *env, p, n int) {
			e.proxy.Inject(s3latency.Fault{Kind: s3latency.SlowDown, Match: s3latency.PagePuts, After: p, Times: n})
		}},
	}

	outcomes := map[string]int{}
	for i := range mixes {
		var names []string
		var allowed []string
		e := newEnv(t, sfsim.Options{Users: users}, pageSize)
		for range 1 + rng.IntN(3) {
			f := pool[rng.IntN(len(pool))]
			page, times := rng.IntN(3), 1+rng.IntN(3)
			f.apply(e, page, times)
			names = append(names, fmt.Sprintf("%s@%d×%d", f.name, page, times))
			for _, k := range f.kinds {
				allowed = append(allowed, string(k))
			}
		}
		mix := strings.Join(names, " + ")
		want := e.expected(t)
		c := e.connector(t, connector.Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		rec, err := c.Run(ctx, dataType)
		cancel()
		if rec == nil {
			// The store refused even the first writes: nothing was
			// started, and the caller was told.
			if !errors.Is(err, context.DeadlineExceeded) && err != nil {
				outcomes["not started"]++
				continue
			}
			t.Fatalf("mix %d (%s): no record, %v", i, mix, err)
		}
		stored, gerr := e.reader().Get(context.Background(), dataType, rec.RunID)
		if gerr != nil {
			t.Fatalf("mix %d (%s): %v", i, mix, gerr)
		}
		switch stored.Status {
		case runstate.Done:
			outcomes["done"]++
			got, err := e.staged(t, stored)
			if err != nil {
				t.Fatalf("mix %d (%s): reading: %v", i, mix, err)
			}
			if missing, extra := compare(got, want); missing != 0 || extra != 0 {
				t.Errorf("mix %d (%s): done with %d records, %d missing, %d extra", i, mix, len(got), missing, extra)
			}
		case runstate.Failed:
			outcomes["failed "+stored.Error.Kind]++
			if !slices.Contains(allowed, stored.Error.Kind) {
				t.Errorf("mix %d (%s): failed with kind %q (%s), want one of %v",
					i, mix, stored.Error.Kind, stored.Error.Message, allowed)
			}
			if stored.Manifest != "" || slices.Contains(e.objects(t, rec.RunID), "manifest.json") {
				t.Errorf("mix %d (%s): failed run has a manifest", i, mix)
			}
		default:
			t.Errorf("mix %d (%s): run left %s: %v", i, mix, stored.Status, err)
		}
		e.checkNoLeaks(t, rec.RunID)
	}
	t.Logf("%d random mixes: %v", mixes, outcomes)
}
