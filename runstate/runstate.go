package runstate

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// Status is a run's place in the state machine.
type Status string

const (
	Queued  Status = "queued"
	Running Status = "running"
	Done    Status = "done"
	Failed  Status = "failed"
)

var (
	// ErrConflict: a compare-and-swap write lost to another writer.
	ErrConflict = errors.New("runstate: conflict")
	// ErrIllegalTransition: the state machine forbids the change.
	ErrIllegalTransition = errors.New("runstate: illegal transition")
	// ErrNotFound: no such run.
	ErrNotFound = errors.New("runstate: run not found")
)

// ErrorInfo says why a run failed. Never carries a secret.
type ErrorInfo struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Record is the state document of one run (schema 1).
type Record struct {
	Schema     int             `json:"schema"`
	RunID      string          `json:"runId"`
	DataType   string          `json:"dataType"`
	Status     Status          `json:"status"`
	Attempt    int             `json:"attempt"`
	WorkerID   string          `json:"workerId,omitempty"`
	Created    time.Time       `json:"created"`
	Started    *time.Time      `json:"started,omitempty"`
	Heartbeat  *time.Time      `json:"heartbeat,omitempty"`
	LeaseUntil *time.Time      `json:"leaseUntil,omitempty"`
	Finished   *time.Time      `json:"finished,omitempty"`
	Pages      int64           `json:"pages"`
	Records    int64           `json:"records"`
	Bytes      int64           `json:"bytes"`
	Checkpoint string          `json:"checkpoint,omitempty"`
	Mode       string          `json:"mode,omitempty"`  // "full" or "incremental"
	Since      *time.Time      `json:"since,omitempty"` // incremental lower bound
	Manifest   string          `json:"manifest,omitempty"`
	Error      *ErrorInfo      `json:"error,omitempty"`
	Extra      json.RawMessage `json:"extra,omitempty"`
}

// CheckTransition reports whether from -> to is legal.
func CheckTransition(from, to Status) error { panic("unimplemented") }

// Stale reports whether a running record's lease has expired at now.
func (r *Record) Stale(now time.Time) bool { panic("unimplemented") }

// Tracker writes state records by compare-and-swap. Safe for concurrent use.
type Tracker struct{}

func NewTracker(store staging.Store, layout staging.Layout) *Tracker { panic("unimplemented") }

// Run is a record with the ETag it was read or written at.
type Run struct {
	Record Record
	ETag   string
}

// Create writes a new record (status queued) with If-None-Match: *.
func (t *Tracker) Create(ctx context.Context, rec Record) (*Run, error) { panic("unimplemented") }

// Get reads a record.
func (t *Tracker) Get(ctx context.Context, dataType, runID string) (*Run, error) {
	panic("unimplemented")
}

// Update applies fn to a copy of run's record, checks the transition and
// writes it with If-Match; on success run holds the new record and ETag.
func (t *Tracker) Update(ctx context.Context, run *Run, fn func(*Record)) error {
	panic("unimplemented")
}

// Claim moves a queued run, or a stale running one (attempt + 1), to
// running for workerID with a lease. ErrConflict if another worker won.
func (t *Tracker) Claim(ctx context.Context, run *Run, workerID string, lease time.Duration) error {
	panic("unimplemented")
}

// Heartbeat renews run's lease every interval until ctx ends or stop is
// called; progress fields set through the returned update func ride along.
type Heartbeat struct{}

func (t *Tracker) StartHeartbeat(ctx context.Context, run *Run, interval, lease time.Duration) *Heartbeat {
	panic("unimplemented")
}

// Reader is the ingestion side's view of staged runs.
type Reader struct{}

func NewReader(store staging.Store, layout staging.Layout) *Reader { panic("unimplemented") }

func (r *Reader) Get(ctx context.Context, dataType, runID string) (*Record, error) {
	panic("unimplemented")
}
func (r *Reader) List(ctx context.Context, dataType string) ([]Record, error) { panic("unimplemented") }
func (r *Reader) LatestDone(ctx context.Context, dataType string) (*Record, error) {
	panic("unimplemented")
}
func (r *Reader) Wait(ctx context.Context, dataType, runID string, poll time.Duration) (*Record, error) {
	panic("unimplemented")
}
func (r *Reader) Records(ctx context.Context, rec *Record) iter.Seq2[json.RawMessage, error] {
	panic("unimplemented")
}
