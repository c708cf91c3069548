package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
)

// killedWorkerRow stops a worker in the middle of a page, without letting
// it write anything more, and has a second worker sharing the bucket take
// the run over once the lease has run out. The run must end done, in
// attempt 2, with exactly the simulator's records.
func killedWorkerRow(t *testing.T) row {
	r := row{fault: "worker stopped mid-page (context ended)"}
	t.Run(r.fault, func(t *testing.T) {
		e := newEnv(t, sfsim.Options{Users: users}, pageSize)
		want := e.expected(t)
		r.expected = len(want)
		// The second page takes long enough for the worker to be stopped
		// while it waits for it.
		e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultSlow, Delay: 3 * time.Second})

		const lease = time.Second
		shared := func(id string, obs connector.Observer) *connector.Connector {
			q := connector.NewS3Queue(e.store, e.layout(), e.cat.Names(),
				&connector.S3QueueOptions{Poll: 50 * time.Millisecond})
			return e.connector(t, connector.Options{
				Queue: q, WorkerID: id, Lease: lease, Heartbeat: lease / 4, Observer: obs,
			})
		}
		var pagesA atomic.Int64
		a := shared("worker-a", connector.ObserverFuncs{
			OnPageWritten: func(connector.PageEvent) { pagesA.Add(1) },
		})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		runID, err := a.Submit(ctx, dataType)
		if err != nil {
			t.Fatal(err)
		}

		ctxA, stopA := context.WithCancel(ctx)
		doneA := make(chan error, 1)
		go func() { doneA <- a.Start(ctxA) }()
		for pagesA.Load() == 0 {
			if ctx.Err() != nil {
				t.Fatal("worker a wrote no page")
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // into the slow second page
		stopA()
		<-doneA

		left, err := e.reader().Get(ctx, dataType, runID)
		if err != nil {
			t.Fatal(err)
		}
		if left.Status != runstate.Running || left.Attempt != 1 || left.WorkerID != "worker-a" {
			t.Fatalf("after the stop: %s attempt %d by %s, want running attempt 1 by worker-a",
				left.Status, left.Attempt, left.WorkerID)
		}

		began := time.Now()
		b := shared("worker-b", nil)
		ctxB, stopB := context.WithCancel(ctx)
		doneB := make(chan error, 1)
		go func() { doneB <- b.Start(ctxB) }()
		defer func() { stopB(); <-doneB }()

		rec, err := e.reader().Wait(ctx, dataType, runID, 50*time.Millisecond)
		r.elapsed = time.Since(began)
		if err != nil {
			t.Fatalf("waiting for the takeover: %v", err)
		}
		r.outcome = string(rec.Status)
		if rec.Error != nil {
			r.kind = rec.Error.Kind
		}
		if rec.Status != runstate.Done || rec.Attempt != 2 || rec.WorkerID != "worker-b" {
			t.Fatalf("run ended %s in attempt %d by %s, want done in attempt 2 by worker-b",
				rec.Status, rec.Attempt, rec.WorkerID)
		}
		got, err := e.staged(t, rec)
		if err != nil {
			t.Fatal(err)
		}
		r.staged = len(got)
		r.missing, r.duplicates = compare(got, want)
		if r.missing != 0 || r.duplicates != 0 {
			t.Errorf("staged %d records, %d missing, %d extra; want %d", len(got), r.missing, r.duplicates, len(want))
		}
		m := readManifest(t, e, rec.Manifest)
		for _, p := range m.Pages {
			if !strings.Contains(p.Key, "/pages/2/") {
				t.Errorf("manifest lists %s, a page of another attempt", p.Key)
			}
		}
		e.checkNoLeaks(t, runID)
	})
	return r
}
