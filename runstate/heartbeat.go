package runstate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

var (
	// ErrLeaseLost means a worker no longer holds its run: another writer
	// changed the record (a takeover, a cancellation), or the lease ran out
	// while renewals failed. The worker must stop writing pages.
	ErrLeaseLost = errors.New("runstate: lease lost")

	// ErrStopped means the heartbeat was stopped.
	ErrStopped = errors.New("runstate: heartbeat stopped")
)

// Heartbeat renews a run's lease at a fixed interval and publishes the
// worker's progress through the same compare-and-swap writer, so the two
// never race each other. Its methods are safe for concurrent use.
//
// Once a renewal loses, the heartbeat stops, [Heartbeat.Lost] is closed and
// the context of [Heartbeat.Context] is cancelled with the cause. Call
// [Heartbeat.Stop] before the final write of the run.
type Heartbeat struct {
	t        *Tracker
	ctx      context.Context // the caller's: bounds every write
	workCtx  context.Context
	cancel   context.CancelCauseFunc
	interval time.Duration
	lease    time.Duration

	mu      sync.Mutex // serializes writes; guards run, err, stopped
	run     *Run
	err     error
	stopped bool

	lost     chan struct{}
	lostOnce sync.Once
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// StartHeartbeat renews run's lease every interval, setting Heartbeat to
// now and LeaseUntil to now + lease, until ctx ends or [Heartbeat.Stop] is
// called. run must be running and must not be used by the caller until
// Stop returns it. A zero interval means lease/4.
//
// A renewal that fails for another reason than a lost race is tried again
// at the next tick; once the lease held has run out the heartbeat counts as
// lost, since another worker may take the run over.
func (t *Tracker) StartHeartbeat(ctx context.Context, run *Run, interval, lease time.Duration) *Heartbeat {
	if interval <= 0 {
		interval = lease / 4
	}
	workCtx, cancel := context.WithCancelCause(ctx)
	h := &Heartbeat{
		t: t, ctx: ctx, workCtx: workCtx, cancel: cancel,
		interval: interval, lease: lease, run: run,
		lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if run.Record.Status != Running || lease <= 0 || interval <= 0 {
		h.lose(fmt.Errorf("%w: %w: heartbeat for a %s run with lease %v", ErrLeaseLost,
			ErrIllegalTransition, run.Record.Status, lease))
		close(h.done)
		return h
	}
	go h.loop()
	return h
}

func (h *Heartbeat) loop() {
	defer close(h.done)
	tick := time.NewTicker(h.interval)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.stop:
			return
		case <-h.lost:
			return
		case <-tick.C:
			h.mu.Lock()
			if !h.stopped && h.err == nil {
				h.write(func(*Record) {})
			}
			h.mu.Unlock()
		}
	}
}

// write renews the lease together with fn's changes. Called with mu held.
func (h *Heartbeat) write(fn func(*Record)) error {
	now := h.t.now()
	until := now.Add(h.lease)
	err := h.t.Update(h.ctx, h.run, func(r *Record) {
		fn(r)
		r.Heartbeat, r.LeaseUntil = &now, &until
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrConflict):
		h.lose(fmt.Errorf("%w: %w", ErrLeaseLost, err))
	case h.run.Record.Stale(h.t.now()):
		h.lose(fmt.Errorf("%w: lease expired at %s while renewals failed: %w", ErrLeaseLost,
			h.run.Record.LeaseUntil.Format(time.RFC3339Nano), err))
	}
	return err
}

// lose records why the run is no longer held. Called with mu held, or
// before the loop starts.
func (h *Heartbeat) lose(err error) {
	h.lostOnce.Do(func() {
		h.err = err
		h.cancel(err)
		close(h.lost)
	})
}

// Progress applies fn to the run's record and writes it at once, renewing
// the lease on the way. fn may change the progress fields (Pages, Records,
// Bytes, Checkpoint, Extra and the like) but not the status, attempt or
// worker; that is an [ErrIllegalTransition] and nothing is written.
// After the lease is lost Progress returns an error matching
// [ErrLeaseLost]; after Stop, [ErrStopped].
func (h *Heartbeat) Progress(fn func(*Record)) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	if h.stopped {
		return ErrStopped
	}
	next := h.run.Record.Clone()
	fn(&next)
	prev := &h.run.Record
	if next.Status != prev.Status || next.Attempt != prev.Attempt || next.WorkerID != prev.WorkerID {
		return fmt.Errorf("%w: progress may not change status, attempt or worker",
			ErrIllegalTransition)
	}
	return h.write(func(r *Record) { *r = next })
}

// Snapshot returns a copy of the run's latest record.
func (h *Heartbeat) Snapshot() Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.run.Record.Clone()
}

// Lost is closed when the run is no longer held; [Heartbeat.Err] says why.
func (h *Heartbeat) Lost() <-chan struct{} { return h.lost }

// Err returns why the run was lost, matching [ErrLeaseLost], or nil.
func (h *Heartbeat) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// Context returns a context derived from the one given to
// [Tracker.StartHeartbeat] that is cancelled, with the reason as its cause,
// when the run is lost, and when the heartbeat stops. A worker fetches and
// writes pages under it.
func (h *Heartbeat) Context() context.Context { return h.workCtx }

// Stop ends the renewals, waits for one in flight, and returns the run at
// its latest record and ETag, ready for the final write. The error matches
// [ErrLeaseLost] if the run was lost; the run is then the last version this
// worker wrote, and a write based on it will fail. Stop may be called more
// than once.
func (h *Heartbeat) Stop() (*Run, error) {
	h.stopOnce.Do(func() { close(h.stop) })
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	h.cancel(ErrStopped)
	return h.run, h.err
}
