package runstate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// eventually polls cond every few milliseconds for up to five seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// claimed creates a run and claims it for worker "w1" with a one-minute
// lease.
func claimed(t *testing.T, tr *Tracker) *Run {
	t.Helper()
	run := queued(t, tr)
	if err := tr.Claim(context.Background(), run, "w1", time.Minute); err != nil {
		t.Fatal(err)
	}
	return run
}

func TestHeartbeatRenews(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		clk := newClock()
		tr := NewTracker(s, staging.Layout{})
		tr.Now = clk.Now
		run := claimed(t, tr)
		id := run.Record.RunID

		hb := tr.StartHeartbeat(ctx, run, 10*time.Millisecond, time.Minute)
		clk.Advance(30 * time.Second)
		eventually(t, "a renewed lease", func() bool {
			got, err := tr.Get(ctx, "employees", id)
			if err != nil {
				t.Fatal(err)
			}
			return got.Record.Heartbeat.Equal(clk.Now()) &&
				got.Record.LeaseUntil.Equal(clk.Now().Add(time.Minute))
		})

		err := hb.Progress(func(r *Record) {
			r.Pages, r.Records, r.Bytes, r.Checkpoint = 1, 100, 2048, "skiptoken=1"
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.Get(ctx, "employees", id)
		if err != nil {
			t.Fatal(err)
		}
		if r := got.Record; r.Pages != 1 || r.Records != 100 || r.Bytes != 2048 || r.Checkpoint != "skiptoken=1" {
			t.Fatalf("progress not stored: %+v", r)
		}
		if snap := hb.Snapshot(); snap.Records != 100 {
			t.Fatalf("snapshot %+v", snap)
		}

		run, err = hb.Stop()
		if err != nil {
			t.Fatal(err)
		}
		etag := run.ETag
		clk.Advance(time.Second)
		time.Sleep(50 * time.Millisecond)
		if got, _ := tr.Get(ctx, "employees", id); got.ETag != etag {
			t.Fatal("heartbeat wrote after Stop")
		}
		if err := hb.Progress(func(r *Record) { r.Pages++ }); !errors.Is(err, ErrStopped) {
			t.Fatalf("progress after stop: want ErrStopped, got %v", err)
		}
		if hb.Context().Err() == nil {
			t.Fatal("context alive after Stop")
		}
		if err := tr.Update(ctx, run, func(r *Record) { r.Status = Done }); err != nil {
			t.Fatalf("final write after Stop: %v", err)
		}
	})
}

// TestHeartbeatStopThenFinish stops heartbeats at random points of their
// cycle: the final write must never race one.
func TestHeartbeatStopThenFinish(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		tr := NewTracker(s, staging.Layout{})
		for i := range 20 {
			run := claimed(t, tr)
			hb := tr.StartHeartbeat(ctx, run, time.Millisecond, time.Minute)
			time.Sleep(time.Duration(i%5) * time.Millisecond)
			run, err := hb.Stop()
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Update(ctx, run, func(r *Record) { r.Status = Done }); err != nil {
				t.Fatalf("round %d: final write: %v", i, err)
			}
		}
	})
}

// TestHeartbeatLost lets a second worker, whose clock is two minutes
// ahead, take the run over while the first is heartbeating.
func TestHeartbeatLost(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		clkA, clkB := newClock(), newClock()
		clkB.Advance(2 * time.Minute)
		trA, trB := NewTracker(s, staging.Layout{}), NewTracker(s, staging.Layout{})
		trA.Now, trB.Now = clkA.Now, clkB.Now
		run := claimed(t, trA)
		id := run.Record.RunID

		hb := trA.StartHeartbeat(ctx, run, 5*time.Millisecond, time.Minute)
		var taken *Run
		eventually(t, "a takeover", func() bool {
			cur, err := trB.Get(ctx, "employees", id)
			if err != nil {
				t.Fatal(err)
			}
			err = trB.Claim(ctx, cur, "w2", time.Hour)
			if err != nil && !errors.Is(err, ErrConflict) {
				t.Fatal(err)
			}
			taken = cur
			return err == nil
		})
		if taken.Record.Attempt != 2 || taken.Record.WorkerID != "w2" {
			t.Fatalf("taken over as %+v", taken.Record)
		}

		select {
		case <-hb.Lost():
		case <-time.After(5 * time.Second):
			t.Fatal("heartbeat did not notice the takeover")
		}
		if err := hb.Err(); !errors.Is(err, ErrLeaseLost) || !errors.Is(err, ErrConflict) {
			t.Fatalf("Err = %v", err)
		}
		if cause := context.Cause(hb.Context()); !errors.Is(cause, ErrLeaseLost) {
			t.Fatalf("context cause %v", cause)
		}
		if err := hb.Progress(func(r *Record) { r.Pages = 9 }); !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("progress after loss: %v", err)
		}
		old, err := hb.Stop()
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Stop: %v", err)
		}
		if err := trA.Update(ctx, old, func(r *Record) { r.Status = Done }); !errors.Is(err, ErrConflict) {
			t.Fatalf("final write of the lost attempt: want ErrConflict, got %v", err)
		}
		got, err := trB.Get(ctx, "employees", id)
		if err != nil || got.ETag != taken.ETag || got.Record.Attempt != 2 {
			t.Fatalf("stored %+v, err %v", got, err)
		}
	})
}

// TestHeartbeatLeaseExpires cuts a worker off from the store: failed
// renewals are retried while the lease holds, and the run counts as lost
// once it has run out.
func TestHeartbeatLeaseExpires(t *testing.T) {
	ctx := context.Background()
	s := &flakyStore{Store: dirStore(t)}
	clk := newClock()
	tr := NewTracker(s, staging.Layout{})
	tr.Now = clk.Now
	run := claimed(t, tr)

	hb := tr.StartHeartbeat(ctx, run, 5*time.Millisecond, time.Minute)
	s.mu.Lock()
	s.failPuts = errors.New("connection reset by peer")
	s.mu.Unlock()

	clk.Advance(59 * time.Second)
	time.Sleep(50 * time.Millisecond)
	select {
	case <-hb.Lost():
		t.Fatalf("lost while the lease holds: %v", hb.Err())
	default:
	}
	err := hb.Progress(func(r *Record) { r.Pages = 1 })
	if err == nil || errors.Is(err, ErrLeaseLost) {
		t.Fatalf("progress through a broken store: %v", err)
	}

	clk.Advance(time.Second)
	select {
	case <-hb.Lost():
	case <-time.After(5 * time.Second):
		t.Fatal("lease ran out unnoticed")
	}
	if err := hb.Err(); !errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrConflict) {
		t.Fatalf("Err = %v", err)
	}
	if _, err := hb.Stop(); !errors.Is(err, ErrLeaseLost) {
		t.Fatalf("Stop: %v", err)
	}
}

func TestHeartbeatProgressRefuses(t *testing.T) {
	ctx := context.Background()
	s := dirStore(t)
	tr := NewTracker(s, staging.Layout{})
	run := claimed(t, tr)
	hb := tr.StartHeartbeat(ctx, run, time.Hour, time.Minute)
	defer hb.Stop()
	etag := hb.Snapshot()

	for name, fn := range map[string]func(*Record){
		"status":  func(r *Record) { r.Status = Done },
		"attempt": func(r *Record) { r.Attempt++ },
		"worker":  func(r *Record) { r.WorkerID = "w2" },
	} {
		if err := hb.Progress(fn); !errors.Is(err, ErrIllegalTransition) {
			t.Errorf("%s: want ErrIllegalTransition, got %v", name, err)
		}
	}
	if got := hb.Snapshot(); !sameRecord(&got, &etag) {
		t.Fatal("refused progress changed the record")
	}
	if err := hb.Err(); err != nil {
		t.Fatalf("refused progress lost the lease: %v", err)
	}
}

func TestHeartbeatRefusesRunNotRunning(t *testing.T) {
	tr := NewTracker(dirStore(t), staging.Layout{})
	run := queued(t, tr)
	hb := tr.StartHeartbeat(context.Background(), run, time.Second, time.Minute)
	select {
	case <-hb.Lost():
	default:
		t.Fatal("heartbeat for a queued run")
	}
	if _, err := hb.Stop(); !errors.Is(err, ErrLeaseLost) || !errors.Is(err, ErrIllegalTransition) {
		t.Fatalf("Stop: %v", err)
	}
}

func TestHeartbeatEndsWithContext(t *testing.T) {
	s := dirStore(t)
	tr := NewTracker(s, staging.Layout{})
	run := claimed(t, tr)
	ctx, cancel := context.WithCancel(context.Background())
	hb := tr.StartHeartbeat(ctx, run, time.Millisecond, time.Minute)
	cancel()
	run, err := hb.Stop()
	if err != nil {
		t.Fatal(err)
	}
	etag := run.ETag
	time.Sleep(20 * time.Millisecond)
	got, err := tr.Get(context.Background(), "employees", run.Record.RunID)
	if err != nil || got.ETag != etag {
		t.Fatalf("heartbeat went on after its context ended (%v)", err)
	}
}
