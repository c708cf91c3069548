package runstate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// ErrNotClaimable means a run is running under a lease that has not
// expired. The error returned by [Tracker.Claim] is a [*ClaimError].
var ErrNotClaimable = errors.New("runstate: run is held by another worker")

// ClaimError says who holds a run that could not be claimed, and until
// when. It matches [ErrNotClaimable].
type ClaimError struct {
	// RunID is the run that could not be claimed.
	RunID string

	// WorkerID is the worker that holds the run.
	WorkerID string

	// Attempt is the holder's attempt number.
	Attempt int

	// LeaseUntil is when the holder's lease runs out, as of the record
	// read; a claim after it may succeed unless the holder renews.
	LeaseUntil time.Time
}

// Error names the run, the holder, its attempt and the end of its lease.
func (e *ClaimError) Error() string {
	return fmt.Sprintf("runstate: run %s is held by worker %q (attempt %d) until %s",
		e.RunID, e.WorkerID, e.Attempt, e.LeaseUntil.Format(time.RFC3339))
}

// Is reports whether target is [ErrNotClaimable].
func (e *ClaimError) Is(target error) bool { return target == ErrNotClaimable }

// maxRecordSize bounds a state document read from the store; a real one is
// well under a kilobyte, plus whatever the host puts in Extra.
const maxRecordSize = 1 << 20

// Tracker writes state records by compare-and-swap. It is safe for
// concurrent use; a [Run] is not, and belongs to one goroutine at a time.
type Tracker struct {
	store  staging.Store
	layout staging.Layout

	// Now returns the current time. Nil means time.Now. Set it before the
	// first call; tests use it to move time forward.
	Now func() time.Time
}

// NewTracker returns a Tracker writing records to store at the keys of
// layout.
func NewTracker(store staging.Store, layout staging.Layout) *Tracker {
	return &Tracker{store: store, layout: layout}
}

func (t *Tracker) now() time.Time {
	if t.Now != nil {
		return t.Now().UTC()
	}
	return time.Now().UTC()
}

// Run is a record with the ETag it was read or written at: the version a
// compare-and-swap write expects to replace.
type Run struct {
	// Record is the run's state as of ETag. Change it only through
	// [Tracker.Update], [Tracker.Claim] or a [Heartbeat]; they replace it
	// on success.
	Record Record

	// ETag is the store's version of the state document holding Record,
	// the If-Match condition of the next write.
	ETag string
}

// Create writes a new record with If-None-Match: *. rec needs a RunID and
// DataType; an empty Status means queued, a zero Schema means [Schema], a
// zero Created means now. Any other status is an [ErrIllegalTransition].
// If the record exists already the error matches [ErrConflict].
func (t *Tracker) Create(ctx context.Context, rec Record) (*Run, error) {
	rec = rec.Clone()
	if rec.Schema == 0 {
		rec.Schema = Schema
	}
	if rec.Status == "" {
		rec.Status = Queued
	}
	if rec.Status != Queued {
		return nil, fmt.Errorf("%w: a run starts queued, not %s", ErrIllegalTransition, rec.Status)
	}
	if rec.Created.IsZero() {
		rec.Created = t.now()
	}
	rec.toUTC()

	key, err := t.layout.StateKey(rec.DataType, rec.RunID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	body, err := rec.Encode()
	if err != nil {
		return nil, err
	}
	etag, err := t.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)),
		staging.Condition{IfAbsent: true})
	if err != nil {
		if errors.Is(err, staging.ErrPrecondition) {
			return nil, fmt.Errorf("%w: run %s exists already: %w", ErrConflict, rec.RunID, err)
		}
		return nil, fmt.Errorf("runstate: create %s: %w", key, err)
	}
	return &Run{Record: rec, ETag: etag}, nil
}

// Get reads the record of a run. A missing record matches [ErrNotFound].
func (t *Tracker) Get(ctx context.Context, dataType, runID string) (*Run, error) {
	return getRun(ctx, t.store, t.layout, dataType, runID)
}

func getRun(ctx context.Context, s staging.Store, l staging.Layout, dataType, runID string) (*Run, error) {
	key, err := l.StateKey(dataType, runID)
	if err != nil {
		return nil, fmt.Errorf("runstate: %w", err)
	}
	data, etag, err := readObject(ctx, s, key, maxRecordSize)
	if err != nil {
		if errors.Is(err, staging.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s/%s: %w", ErrNotFound, dataType, runID, err)
		}
		return nil, fmt.Errorf("runstate: read %s: %w", key, err)
	}
	rec, err := DecodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	// The key is the authority; a record copied to the wrong place must not
	// pass for another run.
	if rec.RunID != runID || rec.DataType != dataType {
		return nil, fmt.Errorf("%w: %s holds run %s/%s", ErrInvalidRecord, key, rec.DataType, rec.RunID)
	}
	return &Run{Record: *rec, ETag: etag}, nil
}

// readObject reads a whole object of at most limit bytes.
func readObject(ctx context.Context, s staging.Store, key string, limit int64) ([]byte, string, error) {
	obj, err := s.Get(ctx, key)
	if err != nil {
		return nil, "", err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(obj.Body, limit+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("object larger than %d bytes", limit)
	}
	return data, obj.ETag, nil
}

// Update applies fn to a copy of run's record, checks the result and writes
// it with If-Match: run.ETag. On success run holds the new record and ETag;
// on failure run is unchanged.
//
// The result is refused with [ErrIllegalTransition] if the status change is
// not legal, if fn changed the run id, data type or creation time, or if it
// changed the attempt or worker other than by a claim (queued to running
// with attempt 1, or a takeover of a stale run with attempt + 1). Moving to
// done or failed sets Finished if fn left it nil. A lost race matches
// [ErrConflict] and [staging.ErrPrecondition].
func (t *Tracker) Update(ctx context.Context, run *Run, fn func(*Record)) error {
	next := run.Record.Clone()
	fn(&next)
	now := t.now()
	if next.Status.Final() && next.Finished == nil {
		next.Finished = &now
	}
	next.toUTC()
	if err := checkUpdate(&run.Record, &next, now); err != nil {
		return err
	}
	return t.put(ctx, run, next)
}

// put writes next over run with If-Match.
func (t *Tracker) put(ctx context.Context, run *Run, next Record) error {
	key, err := t.layout.StateKey(next.DataType, next.RunID)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	body, err := next.Encode()
	if err != nil {
		return err
	}
	etag, err := t.store.Put(ctx, key, bytes.NewReader(body), int64(len(body)),
		staging.Condition{IfMatch: run.ETag})
	if errors.Is(err, staging.ErrPrecondition) {
		etag, err = t.landed(ctx, key, body, err)
	}
	if err != nil {
		if errors.Is(err, staging.ErrPrecondition) {
			return fmt.Errorf("%w: run %s changed since it was read: %w", ErrConflict, next.RunID, err)
		}
		return fmt.Errorf("runstate: write %s: %w", key, err)
	}
	run.Record = next
	run.ETag = etag
	return nil
}

// landed tells a write that lost from one that succeeded but whose answer
// was lost: a client that retries a conditional PUT after a timeout sees
// its own first try as a precondition failure. If the stored document is
// byte for byte the one written, the write stands. Otherwise lost is
// returned.
func (t *Tracker) landed(ctx context.Context, key string, body []byte, lost error) (string, error) {
	data, etag, err := readObject(ctx, t.store, key, maxRecordSize)
	if err != nil || !bytes.Equal(data, body) {
		return "", lost
	}
	return etag, nil
}

// checkUpdate enforces the rules between a stored record and the one that
// is to replace it.
func checkUpdate(prev, next *Record, now time.Time) error {
	if err := CheckTransition(prev.Status, next.Status); err != nil {
		return err
	}
	illegal := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrIllegalTransition}, args...)...)
	}
	if next.Schema != prev.Schema || next.RunID != prev.RunID ||
		next.DataType != prev.DataType || !next.Created.Equal(prev.Created) {
		return illegal("schema, run id, data type and created time are fixed")
	}

	switch {
	case prev.Status == Queued && next.Status == Running:
		if next.Attempt != prev.Attempt+1 {
			return illegal("a claim starts attempt %d, not %d", prev.Attempt+1, next.Attempt)
		}
	case prev.Status == Running && next.Status == Running &&
		(next.Attempt != prev.Attempt || next.WorkerID != prev.WorkerID):
		if next.Attempt != prev.Attempt+1 {
			return illegal("a takeover starts attempt %d, not %d", prev.Attempt+1, next.Attempt)
		}
		if !prev.Stale(now) {
			return illegal("attempt %d of worker %q holds its lease until %s",
				prev.Attempt, prev.WorkerID, prev.LeaseUntil.Format(time.RFC3339Nano))
		}
	default:
		if next.Attempt != prev.Attempt || next.WorkerID != prev.WorkerID {
			return illegal("only a claim changes the attempt or worker")
		}
	}
	return next.Validate()
}

// Claim moves a queued run, or a stale running one, to running for
// workerID, with a lease of the given length from now. A queued run starts
// attempt 1; a stale one is taken over as attempt + 1. A claim starts the
// progress over (pages, records, bytes, checkpoint), since a manifest
// lists the pages of one attempt.
//
// A running run whose lease holds gets a [*ClaimError]; a final run gets
// [ErrIllegalTransition]; if another worker claimed first the error
// matches [ErrConflict]. On success run holds the new record and ETag.
func (t *Tracker) Claim(ctx context.Context, run *Run, workerID string, lease time.Duration) error {
	if workerID == "" {
		return fmt.Errorf("%w: empty worker id", ErrInvalidRecord)
	}
	if lease <= 0 {
		return fmt.Errorf("runstate: claim with lease %v", lease)
	}
	now := t.now()
	prev := &run.Record
	switch {
	case prev.Status == Running && !prev.Stale(now):
		return &ClaimError{
			RunID:      prev.RunID,
			WorkerID:   prev.WorkerID,
			Attempt:    prev.Attempt,
			LeaseUntil: *prev.LeaseUntil,
		}
	case prev.Status.Final():
		return fmt.Errorf("%w: run %s is %s", ErrIllegalTransition, prev.RunID, prev.Status)
	}

	next := prev.Clone()
	until := now.Add(lease)
	next.Status = Running
	next.Attempt++
	next.WorkerID = workerID
	next.Started, next.Heartbeat, next.LeaseUntil = &now, cloneTime(&now), &until
	next.Finished, next.Error = nil, nil
	next.Pages, next.Records, next.Bytes = 0, 0, 0
	next.Checkpoint, next.Manifest = "", ""
	if err := checkUpdate(prev, &next, now); err != nil {
		return err
	}
	return t.put(ctx, run, next)
}
