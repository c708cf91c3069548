package runstate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

func TestCreateGet(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		clk := newClock()
		tr := NewTracker(s, staging.Layout{BasePath: "exports/sf"})
		tr.Now = clk.Now
		id := newRunID()

		run, err := tr.Create(ctx, Record{RunID: id, DataType: "employees", Mode: "full"})
		if err != nil {
			t.Fatal(err)
		}
		if run.ETag == "" || run.Record.Status != Queued || run.Record.Schema != 1 ||
			!run.Record.Created.Equal(clk.Now()) {
			t.Fatalf("created %+v", run)
		}

		got, err := tr.Get(ctx, "employees", id)
		if err != nil {
			t.Fatal(err)
		}
		if got.ETag != run.ETag || !sameRecord(&got.Record, &run.Record) {
			t.Fatalf("got %+v, created %+v", got, run)
		}
		if got.Record.Created.Location() != time.UTC {
			t.Errorf("created in %v", got.Record.Created.Location())
		}

		_, err = tr.Create(ctx, Record{RunID: id, DataType: "employees"})
		if !errors.Is(err, ErrConflict) || !errors.Is(err, staging.ErrPrecondition) {
			t.Fatalf("second create: want ErrConflict wrapping ErrPrecondition, got %v", err)
		}

		_, err = tr.Get(ctx, "employees", newRunID())
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("missing run: want ErrNotFound, got %v", err)
		}
	})
}

func TestCreateRefuses(t *testing.T) {
	tr := NewTracker(dirStore(t), staging.Layout{})
	ctx := context.Background()
	tests := []struct {
		name string
		rec  Record
		want error
	}{
		{"running", Record{RunID: newRunID(), DataType: "employees", Status: Running}, ErrIllegalTransition},
		{"done", Record{RunID: newRunID(), DataType: "employees", Status: Done}, ErrIllegalTransition},
		{"bad run id", Record{RunID: "../state", DataType: "employees"}, ErrInvalidRecord},
		{"bad data type", Record{RunID: newRunID(), DataType: "Emp"}, ErrInvalidRecord},
		{"schema 2", Record{RunID: newRunID(), DataType: "employees", Schema: 2}, ErrInvalidRecord},
		{"attempt", Record{RunID: newRunID(), DataType: "employees", Attempt: 1}, ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tr.Create(ctx, tt.rec); !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
		})
	}
}

// TestIllegalTransitions drives a run to a status by legal steps, then
// tries a forbidden update and checks that nothing was written.
func TestIllegalTransitions(t *testing.T) {
	clk := newClock()
	setup := map[Status]func(t *testing.T, tr *Tracker) *Run{
		Queued: func(t *testing.T, tr *Tracker) *Run { return queued(t, tr) },
		Running: func(t *testing.T, tr *Tracker) *Run {
			run := queued(t, tr)
			if err := tr.Claim(context.Background(), run, "w1", time.Minute); err != nil {
				t.Fatal(err)
			}
			return run
		},
	}
	setup[Done] = func(t *testing.T, tr *Tracker) *Run {
		run := setup[Running](t, tr)
		if err := tr.Update(context.Background(), run, func(r *Record) { r.Status = Done }); err != nil {
			t.Fatal(err)
		}
		return run
	}
	setup[Failed] = func(t *testing.T, tr *Tracker) *Run {
		run := setup[Queued](t, tr)
		err := tr.Update(context.Background(), run, func(r *Record) {
			r.Status = Failed
			r.Error = &ErrorInfo{Kind: "cancelled", Message: "cancelled"}
		})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}

	tests := []struct {
		name string
		from Status
		fn   func(r *Record)
		want error
	}{
		{"done to running", Done, func(r *Record) { r.Status = Running }, ErrIllegalTransition},
		{"done to failed", Done, func(r *Record) { r.Status = Failed }, ErrIllegalTransition},
		{"done to queued", Done, func(r *Record) { r.Status = Queued }, ErrIllegalTransition},
		{"done to done", Done, func(r *Record) { r.Records++ }, ErrIllegalTransition},
		{"failed to done", Failed, func(r *Record) { r.Status = Done }, ErrIllegalTransition},
		{"failed to running", Failed, func(r *Record) {
			r.Status, r.Attempt, r.WorkerID = Running, 1, "w2"
		}, ErrIllegalTransition},
		{"failed to queued", Failed, func(r *Record) { r.Status = Queued }, ErrIllegalTransition},
		{"queued to done", Queued, func(r *Record) { r.Status = Done }, ErrIllegalTransition},
		{"queued to queued", Queued, func(r *Record) { r.Mode = "full" }, ErrIllegalTransition},
		{"running to queued", Running, func(r *Record) { r.Status = Queued }, ErrIllegalTransition},
		{"unknown status", Running, func(r *Record) { r.Status = "paused" }, ErrIllegalTransition},
		{"claim skipping an attempt", Queued, func(r *Record) {
			r.Status, r.Attempt, r.WorkerID = Running, 2, "w1"
			r.Heartbeat, r.LeaseUntil = &r.Created, &r.Created
		}, ErrIllegalTransition},
		{"takeover of a live lease", Running, func(r *Record) {
			r.Attempt, r.WorkerID = r.Attempt+1, "w2"
		}, ErrIllegalTransition},
		{"worker change without takeover", Running, func(r *Record) { r.WorkerID = "w2" }, ErrIllegalTransition},
		{"attempt change on done", Running, func(r *Record) {
			r.Status, r.Attempt = Done, r.Attempt+1
		}, ErrIllegalTransition},
		{"run id changed", Running, func(r *Record) { r.RunID = newRunID() }, ErrIllegalTransition},
		{"data type changed", Running, func(r *Record) { r.DataType = "positions" }, ErrIllegalTransition},
		{"created changed", Running, func(r *Record) { r.Created = r.Created.Add(time.Second) }, ErrIllegalTransition},
		{"running without lease", Running, func(r *Record) { r.LeaseUntil = nil }, ErrInvalidRecord},
		{"negative count", Running, func(r *Record) { r.Pages = -1 }, ErrInvalidRecord},
	}
	s := dirStore(t)
	tr := NewTracker(s, staging.Layout{})
	tr.Now = clk.Now
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := setup[tt.from](t, tr)
			before := *copyRun(run)
			raw := rawState(t, s, staging.Layout{}, run.Record.DataType, run.Record.RunID)

			err := tr.Update(context.Background(), run, tt.fn)
			if !errors.Is(err, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, err)
			}
			if run.ETag != before.ETag || !sameRecord(&run.Record, &before.Record) {
				t.Error("refused update changed the run")
			}
			after := rawState(t, s, staging.Layout{}, before.Record.DataType, before.Record.RunID)
			if !bytes.Equal(raw, after) {
				t.Error("refused update was written")
			}
		})
	}
}

func TestUpdateLegal(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		clk := newClock()
		tr := NewTracker(s, staging.Layout{})
		tr.Now = clk.Now
		run := queued(t, tr)
		if err := tr.Claim(ctx, run, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Second)
		err := tr.Update(ctx, run, func(r *Record) { r.Pages, r.Records, r.Checkpoint = 1, 1000, "p1" })
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(10 * time.Second)
		if err := tr.Update(ctx, run, func(r *Record) { r.Status = Done }); err != nil {
			t.Fatal(err)
		}
		got, err := tr.Get(ctx, "employees", run.Record.RunID)
		if err != nil {
			t.Fatal(err)
		}
		r := got.Record
		if r.Status != Done || r.Records != 1000 || r.Checkpoint != "p1" || r.Attempt != 1 ||
			r.Finished == nil || !r.Finished.Equal(clk.Now()) {
			t.Fatalf("stored %+v", r)
		}
		if got.ETag != run.ETag {
			t.Fatalf("ETag %s, run holds %s", got.ETag, run.ETag)
		}
	})
}

func TestUpdateConflict(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		tr := NewTracker(s, staging.Layout{})
		a := queued(t, tr)
		if err := tr.Claim(ctx, a, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		b := copyRun(a)
		if err := tr.Update(ctx, a, func(r *Record) { r.Pages = 1 }); err != nil {
			t.Fatal(err)
		}
		before := *copyRun(b)
		err := tr.Update(ctx, b, func(r *Record) { r.Pages = 2 })
		if !errors.Is(err, ErrConflict) || !errors.Is(err, staging.ErrPrecondition) {
			t.Fatalf("stale update: want ErrConflict, got %v", err)
		}
		if b.ETag != before.ETag || b.Record.Pages != 0 {
			t.Fatal("lost update changed the run")
		}
		got, err := tr.Get(ctx, "employees", a.Record.RunID)
		if err != nil || got.Record.Pages != 1 {
			t.Fatalf("stored pages %d, err %v", got.Record.Pages, err)
		}
	})
}

// TestRace lets two writers read one version and update it at the same
// moment, many times: exactly one must win each round.
func TestRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		const rounds = 200
		ctx := context.Background()
		tr := NewTracker(s, staging.Layout{})
		run := queued(t, tr)
		if err := tr.Claim(ctx, run, "w1", time.Hour); err != nil {
			t.Fatal(err)
		}
		for round := range rounds {
			runs := [2]*Run{copyRun(run), copyRun(run)}
			var errs [2]error
			var start, wg sync.WaitGroup
			start.Add(1)
			for i := range runs {
				wg.Go(func() {
					start.Wait()
					errs[i] = tr.Update(ctx, runs[i], func(r *Record) {
						r.Pages = int64(2*round + i + 1)
						r.Checkpoint = []string{"a", "b"}[i]
					})
				})
			}
			start.Done()
			wg.Wait()

			winners := 0
			for i, err := range errs {
				switch {
				case err == nil:
					winners++
					run = runs[i]
				case !errors.Is(err, ErrConflict):
					t.Fatalf("round %d: writer %d: %v", round, i, err)
				}
			}
			if winners != 1 {
				t.Fatalf("round %d: %d winners (%v)", round, winners, errs)
			}
			got, err := tr.Get(ctx, "employees", run.Record.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if got.ETag != run.ETag || got.Record.Pages != run.Record.Pages {
				t.Fatalf("round %d: stored %d at %s, winner wrote %d at %s",
					round, got.Record.Pages, got.ETag, run.Record.Pages, run.ETag)
			}
		}
	})
}

func TestClaim(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		clk := newClock()
		tr := NewTracker(s, staging.Layout{})
		tr.Now = clk.Now
		run := queued(t, tr)
		stale := copyRun(run)

		if err := tr.Claim(ctx, run, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		r := run.Record
		if r.Status != Running || r.Attempt != 1 || r.WorkerID != "w1" ||
			!r.Started.Equal(clk.Now()) || !r.Heartbeat.Equal(clk.Now()) ||
			!r.LeaseUntil.Equal(clk.Now().Add(time.Minute)) {
			t.Fatalf("claimed %+v", r)
		}

		// A second worker that read the queued version loses the race.
		if err := tr.Claim(ctx, stale, "w2", time.Minute); !errors.Is(err, ErrConflict) {
			t.Fatalf("claim of an old version: want ErrConflict, got %v", err)
		}

		// Having read the running version, it is told who holds the run.
		cur, err := tr.Get(ctx, "employees", run.Record.RunID)
		if err != nil {
			t.Fatal(err)
		}
		err = tr.Claim(ctx, cur, "w2", time.Minute)
		var ce *ClaimError
		if !errors.Is(err, ErrNotClaimable) || !errors.As(err, &ce) || ce.WorkerID != "w1" ||
			ce.Attempt != 1 || !ce.LeaseUntil.Equal(*r.LeaseUntil) {
			t.Fatalf("claim of a held run: got %v", err)
		}

		// Once the lease has run out, the run is taken over.
		if err := tr.Update(ctx, run, func(r *Record) { r.Pages, r.Checkpoint = 4, "p4" }); err != nil {
			t.Fatal(err)
		}
		cur, err = tr.Get(ctx, "employees", run.Record.RunID)
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		if !cur.Record.Stale(clk.Now()) {
			t.Fatal("not stale at the end of the lease")
		}
		if err := tr.Claim(ctx, cur, "w2", 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		r = cur.Record
		if r.Attempt != 2 || r.WorkerID != "w2" || r.Pages != 0 || r.Checkpoint != "" ||
			!r.LeaseUntil.Equal(clk.Now().Add(2*time.Minute)) {
			t.Fatalf("taken over %+v", r)
		}

		// The old worker's next write loses.
		err = tr.Update(ctx, run, func(r *Record) { r.Pages = 5 })
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("write by the old attempt: want ErrConflict, got %v", err)
		}

		// A final run is not claimable.
		if err := tr.Update(ctx, cur, func(r *Record) { r.Status = Done }); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
		if err := tr.Claim(ctx, cur, "w3", time.Minute); !errors.Is(err, ErrIllegalTransition) {
			t.Fatalf("claim of a done run: want ErrIllegalTransition, got %v", err)
		}
	})
}

func TestClaimRace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		const workers = 8
		ctx := context.Background()
		tr := NewTracker(s, staging.Layout{})
		for range 10 {
			run := queued(t, tr)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var won []string
			for i := range workers {
				wg.Go(func() {
					mine := copyRun(run)
					id := string(rune('a' + i))
					err := tr.Claim(ctx, mine, id, time.Minute)
					if err != nil && !errors.Is(err, ErrConflict) {
						t.Errorf("worker %s: %v", id, err)
					}
					if err == nil {
						mu.Lock()
						won = append(won, id)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(won) != 1 {
				t.Fatalf("winners %v", won)
			}
			got, err := tr.Get(ctx, "employees", run.Record.RunID)
			if err != nil || got.Record.WorkerID != won[0] {
				t.Fatalf("stored worker %q, winner %v, err %v", got.Record.WorkerID, won, err)
			}
		}
	})
}

// flakyStore passes calls to a real store, but can make a Put succeed and
// then report a precondition failure, as a client retrying a conditional
// write whose first answer was lost would see, or fail outright.
type flakyStore struct {
	staging.Store
	mu          sync.Mutex
	lostAnswers int   // Puts that land but report ErrPrecondition
	failPuts    error // every Put fails with this
}

func (f *flakyStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond staging.Condition) (string, error) {
	f.mu.Lock()
	fail, lose := f.failPuts, f.lostAnswers > 0
	if lose {
		f.lostAnswers--
	}
	f.mu.Unlock()
	if fail != nil {
		return "", fail
	}
	etag, err := f.Store.Put(ctx, key, body, size, cond)
	if err == nil && lose {
		return "", staging.ErrPrecondition
	}
	return etag, err
}

func TestUpdateLostAnswer(t *testing.T) {
	s := &flakyStore{Store: dirStore(t)}
	ctx := context.Background()
	tr := NewTracker(s, staging.Layout{})
	run := queued(t, tr)
	if err := tr.Claim(ctx, run, "w1", time.Minute); err != nil {
		t.Fatal(err)
	}

	s.lostAnswers = 1
	if err := tr.Update(ctx, run, func(r *Record) { r.Pages = 1 }); err != nil {
		t.Fatalf("write that landed: %v", err)
	}
	got, err := tr.Get(ctx, "employees", run.Record.RunID)
	if err != nil || got.ETag != run.ETag || got.Record.Pages != 1 {
		t.Fatalf("stored %+v, run %+v, err %v", got, run, err)
	}

	// A write that really lost is still a conflict.
	other := copyRun(run)
	if err := tr.Update(ctx, other, func(r *Record) { r.Pages = 2 }); err != nil {
		t.Fatal(err)
	}
	if err := tr.Update(ctx, run, func(r *Record) { r.Pages = 3 }); !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
}
