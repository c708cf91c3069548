package connector

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// Queue hands run ids to workers. A worker claims each run it is given by
// compare-and-swap on the run's state record, so a queue may hand the
// same run to two workers, or a run that has ended; the claim decides.
// Implementations are safe for concurrent use.
type Queue interface {
	// Enqueue offers a run that was just written queued.
	Enqueue(ctx context.Context, dataType, runID string) error

	// Dequeue blocks until a run is available or ctx ends.
	Dequeue(ctx context.Context) (dataType, runID string, err error)
}

// MemoryQueue is the in-process queue, first in first out. It is the
// default: runs submitted to a connector are worked by that connector's
// workers. Its zero value is not usable; see [NewMemoryQueue].
type MemoryQueue struct {
	mu     sync.Mutex
	items  []queued
	notify chan struct{}
}

type queued struct{ dataType, runID string }

// NewMemoryQueue returns an empty in-process queue.
func NewMemoryQueue() *MemoryQueue {
	return &MemoryQueue{notify: make(chan struct{}, 1)}
}

// Enqueue adds a run at the back of the queue; it never blocks.
func (q *MemoryQueue) Enqueue(ctx context.Context, dataType, runID string) error {
	q.mu.Lock()
	q.items = append(q.items, queued{dataType, runID})
	q.mu.Unlock()
	q.signal()
	return nil
}

func (q *MemoryQueue) signal() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Dequeue takes the run at the front of the queue, waiting for one.
func (q *MemoryQueue) Dequeue(ctx context.Context) (string, string, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			it := q.items[0]
			q.items = q.items[1:]
			more := len(q.items) > 0
			q.mu.Unlock()
			if more {
				q.signal() // wake the next waiter
			}
			return it.dataType, it.runID, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", "", context.Cause(ctx)
		case <-q.notify:
		}
	}
}

// Len returns the number of runs waiting.
func (q *MemoryQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// S3QueueOptions configures an [S3Queue]. The zero value means the
// defaults.
type S3QueueOptions struct {
	// Poll is the pause between two scans that found no work; 0 means 1s.
	Poll time.Duration
}

// S3Queue is the queue of workers that share a bucket prefix, on one
// machine or many: the queued state records under the base path are the
// queue, and nothing else is needed. Enqueue writes nothing, since
// Submit has written the queued record. Dequeue scans the state records
// of the given data types and offers the oldest run that is queued, or
// running with an expired lease (its worker died); the worker's claim by
// compare-and-swap decides who gets it.
//
// A scan lists every run of each data type. Runs seen done or failed are
// remembered and not read again.
//
// TODO: a prefix of many thousand finished runs makes every scan list
// them all; an index of open runs would keep scans short.
type S3Queue struct {
	store     staging.Store
	layout    staging.Layout
	dataTypes []string
	poll      time.Duration
	now       func() time.Time

	mu      sync.Mutex
	final   map[string]bool // state keys of runs seen done or failed
	pending []queued        // candidates of the last scan, oldest first
	handed  map[string]time.Time
}

// NewS3Queue returns a queue over the state records in store at the keys
// of layout, for the given data types (typically [Catalog.Names]).
func NewS3Queue(store staging.Store, layout staging.Layout, dataTypes []string, opts *S3QueueOptions) *S3Queue {
	q := &S3Queue{
		store: store, layout: layout, dataTypes: slices.Clone(dataTypes),
		poll: time.Second, now: time.Now,
		final: map[string]bool{}, handed: map[string]time.Time{},
	}
	if opts != nil && opts.Poll > 0 {
		q.poll = opts.Poll
	}
	return q
}

// Enqueue does nothing: the queued state record is the queue entry.
func (q *S3Queue) Enqueue(ctx context.Context, dataType, runID string) error { return nil }

// Dequeue returns the oldest claimable run, scanning until there is one.
func (q *S3Queue) Dequeue(ctx context.Context) (string, string, error) {
	for {
		q.mu.Lock()
		if len(q.pending) > 0 {
			it := q.pending[0]
			q.pending = q.pending[1:]
			q.handed[it.runID] = q.now()
			q.mu.Unlock()
			return it.dataType, it.runID, nil
		}
		q.mu.Unlock()

		found, err := q.scan(ctx)
		if err != nil && ctx.Err() != nil {
			return "", "", context.Cause(ctx)
		}
		if found {
			continue
		}
		t := time.NewTimer(q.poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", "", context.Cause(ctx)
		case <-t.C:
		}
	}
}

// scan lists the state records and queues the claimable ones. A store
// error ends the scan; the next one tries again.
func (q *S3Queue) scan(ctx context.Context) (bool, error) {
	reader := runstate.NewReader(q.store, q.layout)
	now := q.now()
	var found []queued
	var firstErr error
	for _, dt := range q.dataTypes {
		prefix, err := q.layout.DataTypePrefix(dt)
		if err != nil {
			return false, err
		}
		objs, err := q.store.List(ctx, prefix)
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		for _, o := range objs {
			runID, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), "/state.json")
			if !ok || strings.Contains(runID, "/") {
				continue
			}
			q.mu.Lock()
			skip := q.final[o.Key] || now.Sub(q.handed[runID]) < q.poll
			q.mu.Unlock()
			if skip {
				continue
			}
			rec, err := reader.Get(ctx, dt, runID)
			if err != nil {
				if !errors.Is(err, runstate.ErrNotFound) {
					firstErr = cmpErr(firstErr, err)
				}
				continue
			}
			switch {
			case rec.Status.Final():
				q.mu.Lock()
				q.final[o.Key] = true
				delete(q.handed, runID)
				q.mu.Unlock()
			case rec.Status == runstate.Queued || rec.Stale(now):
				found = append(found, queued{dt, runID})
			}
		}
	}
	// UUIDv7 run ids sort by creation time: oldest first, across types.
	slices.SortFunc(found, func(a, b queued) int { return strings.Compare(a.runID, b.runID) })
	q.mu.Lock()
	q.pending = append(q.pending, found...)
	q.mu.Unlock()
	return len(found) > 0, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
