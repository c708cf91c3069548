package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
)

// TestConcurrentRunsUnderFaults works many runs at once on four workers
// while both sides misbehave now and then; the faults land on whichever
// run comes by. Each run must end done with exactly the simulator's
// records, or failed with a kind that names a fault shown and no
// manifest.
func TestConcurrentRunsUnderFaults(t *testing.T) {
	t.Parallel()
	const runs = 16
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	want := e.expected(t)
	c := e.connector(t, connector.Options{Workers: 4})

	for _, f := range []sfsim.Fault{
		{EntitySet: entitySet, Page: sfsim.AnyPage, Times: 6, Status: 503},
		{EntitySet: entitySet, Page: 1, Times: 2, Kind: sfsim.FaultReset, AfterBytes: 200},
		{EntitySet: entitySet, Page: 2, Times: 2, Kind: sfsim.FaultTruncate},
		{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultTokenRejected},
		{EntitySet: entitySet, Page: 0, Times: 3, Status: 429, RetryAfter: "0"},
		{EntitySet: entitySet, Page: 1, Times: 2, Kind: sfsim.FaultSnapshotLost},
		{EntitySet: entitySet, Page: 2, Times: 2, Kind: sfsim.FaultMaintenance},
	} {
		e.sim.Inject(f)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var ids []string
	for range runs {
		id, err := c.Submit(ctx, dataType)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// The store's faults start with the work, so that every run is
	// submitted.
	e.proxy.Inject(s3latency.Fault{Kind: s3latency.SlowDown, Method: "PUT", After: 5, Times: 3})
	e.proxy.Inject(s3latency.Fault{Kind: s3latency.InternalError, Match: s3latency.PagePuts, After: 7, Times: 2, Forward: true})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Start(wctx) }()
	defer func() { stop(); <-done }()

	named := []string{string(connector.KindUnavailable), string(connector.KindThrottled),
		string(connector.KindSnapshotLost), string(connector.KindStorage), string(connector.KindAuth)}
	outcomes := map[string]int{}
	for _, id := range ids {
		rec, err := e.reader().Wait(ctx, dataType, id, 20*time.Millisecond)
		if err != nil {
			t.Fatalf("run %s: %v", id, err)
		}
		switch rec.Status {
		case runstate.Done:
			outcomes["done"]++
			got, err := e.staged(t, rec)
			if err != nil {
				t.Fatalf("run %s: %v", id, err)
			}
			if missing, extra := compare(got, want); missing != 0 || extra != 0 {
				t.Errorf("run %s done with %d records, %d missing, %d extra", id, len(got), missing, extra)
			}
		case runstate.Failed:
			outcomes["failed "+rec.Error.Kind]++
			if !slices.Contains(named, rec.Error.Kind) {
				t.Errorf("run %s failed with kind %q: %s", id, rec.Error.Kind, rec.Error.Message)
			}
			if rec.Manifest != "" || slices.Contains(e.objects(t, id), "manifest.json") {
				t.Errorf("failed run %s has a manifest", id)
			}
		}
		e.checkNoLeaks(t, id)
	}
	if outcomes["done"] == 0 {
		t.Errorf("no run ended done: %v", outcomes)
	}
	t.Logf("%d runs on 4 workers under faults: %v; faults left unused: SF %d, S3 %d",
		runs, outcomes, e.sim.PendingFaults(), e.proxy.PendingFaults())
}
