package runstate_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// A worker claims a queued run, stages one page while its heartbeat keeps
// the lease, writes the manifest and marks the run done; the ingestion
// side then reads the records back.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "runstate-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := staging.NewDirStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	layout := staging.Layout{BasePath: "exports"}
	tracker := runstate.NewTracker(store, layout)

	// The submitting side.
	const runID = "019a3f5e-8c2d-7b40-9e1f-5a6b7c8d9e0f"
	run, err := tracker.Create(ctx, runstate.Record{RunID: runID, DataType: "employees"})
	if err != nil {
		log.Fatal(err)
	}

	// The worker.
	if err := tracker.Claim(ctx, run, "worker-1", 2*time.Minute); err != nil {
		log.Fatal(err)
	}
	hb := tracker.StartHeartbeat(ctx, run, 0, 2*time.Minute)

	enc := staging.NewPageEncoder()
	enc.WriteRecord([]byte(`{"userId":"1001","firstName":"Ada"}`))
	enc.WriteRecord([]byte(`{"userId":"1002","firstName":"Grace"}`))
	data, n, sum, err := enc.Finish()
	if err != nil {
		log.Fatal(err)
	}
	key, _ := layout.PageKey("employees", runID, 1, 1)
	page, err := staging.WritePage(hb.Context(), store, key, data, n, sum)
	if err != nil {
		log.Fatal(err)
	}
	err = hb.Progress(func(r *runstate.Record) {
		r.Pages, r.Records, r.Bytes = 1, page.Records, page.Bytes
	})
	if err != nil {
		log.Fatal(err)
	}

	run, err = hb.Stop()
	if err != nil {
		log.Fatal(err) // the run was lost: another worker has it
	}
	manifestKey, _ := layout.ManifestKey("employees", runID)
	err = staging.WriteManifest(ctx, store, manifestKey, &staging.Manifest{
		RunID: runID, DataType: "employees", Attempt: run.Record.Attempt,
		Pages: []staging.PageEntry{page}, Records: page.Records, Bytes: page.Bytes,
		Created: time.Now().UTC(),
	})
	if err != nil {
		log.Fatal(err)
	}
	err = tracker.Update(ctx, run, func(r *runstate.Record) {
		r.Status, r.Manifest = runstate.Done, manifestKey
	})
	if err != nil {
		log.Fatal(err)
	}

	// The ingestion side.
	reader := runstate.NewReader(store, layout)
	rec, err := reader.LatestDone(ctx, "employees")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.RunID, rec.Status, "attempt", rec.Attempt, "records", rec.Records)
	for line, err := range reader.Records(ctx, rec) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(line))
	}
	// Output:
	// 019a3f5e-8c2d-7b40-9e1f-5a6b7c8d9e0f done attempt 1 records 2
	// {"userId":"1001","firstName":"Ada"}
	// {"userId":"1002","firstName":"Grace"}
}

// A second worker cannot claim a run while its lease holds; once the lease
// has run out it takes the run over as the next attempt.
func ExampleTracker_Claim() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "runstate-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := staging.NewDirStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tracker := runstate.NewTracker(store, staging.Layout{})
	tracker.Now = func() time.Time { return now }

	run, err := tracker.Create(ctx, runstate.Record{
		RunID: "019a3f5e-8c2d-7b40-9e1f-5a6b7c8d9e0f", DataType: "employees",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := tracker.Claim(ctx, run, "worker-1", time.Minute); err != nil {
		log.Fatal(err)
	}

	// worker-1 stops heartbeating. worker-2 reads the run and tries.
	other, err := tracker.Get(ctx, "employees", run.Record.RunID)
	if err != nil {
		log.Fatal(err)
	}
	err = tracker.Claim(ctx, other, "worker-2", time.Minute)
	fmt.Println(errors.Is(err, runstate.ErrNotClaimable), err)

	now = now.Add(time.Minute)
	fmt.Println("stale:", other.Record.Stale(now))
	if err := tracker.Claim(ctx, other, "worker-2", time.Minute); err != nil {
		log.Fatal(err)
	}
	fmt.Println(other.Record.Status, other.Record.WorkerID, "attempt", other.Record.Attempt)

	// worker-1's next write loses.
	err = tracker.Update(ctx, run, func(r *runstate.Record) { r.Pages++ })
	fmt.Println(errors.Is(err, runstate.ErrConflict))
	// Output:
	// true runstate: run 019a3f5e-8c2d-7b40-9e1f-5a6b7c8d9e0f is held by worker "worker-1" (attempt 1) until 2026-03-01T08:01:00Z
	// stale: true
	// running worker-2 attempt 2
	// true
}

func ExampleCheckTransition() {
	for _, tr := range [][2]runstate.Status{
		{runstate.Queued, runstate.Running},
		{runstate.Running, runstate.Done},
		{runstate.Done, runstate.Running},
		{runstate.Failed, runstate.Done},
	} {
		fmt.Println(runstate.CheckTransition(tr[0], tr[1]))
	}
	// Output:
	// <nil>
	// <nil>
	// runstate: illegal transition: done -> running
	// runstate: illegal transition: failed -> done
}
