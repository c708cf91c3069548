package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// Schema is the version of the state document this package reads and
// writes.
const Schema = 1

// Status is a run's place in the state machine.
type Status string

// The statuses of a run. Done and Failed are final.
const (
	Queued  Status = "queued"
	Running Status = "running"
	Done    Status = "done"
	Failed  Status = "failed"
)

// Known reports whether s is one of the four statuses.
func (s Status) Known() bool {
	switch s {
	case Queued, Running, Done, Failed:
		return true
	}
	return false
}

// Final reports whether no transition leaves s.
func (s Status) Final() bool { return s == Done || s == Failed }

var (
	// ErrConflict means a compare-and-swap write lost to another writer:
	// the record changed since it was read, or it already exists. Errors
	// that match it also match [staging.ErrPrecondition].
	ErrConflict = errors.New("runstate: conflict")

	// ErrIllegalTransition means the state machine forbids the change;
	// nothing was written.
	ErrIllegalTransition = errors.New("runstate: illegal transition")

	// ErrNotFound means there is no record for the run.
	ErrNotFound = errors.New("runstate: run not found")

	// ErrInvalidRecord means a state document is not a valid schema 1
	// record, or a record to be written breaks one of its rules.
	ErrInvalidRecord = errors.New("runstate: invalid record")
)

// ErrorInfo says why a run failed. It never carries a secret: callers put
// only a kind and a message meant for operators here.
type ErrorInfo struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// Record is the state document of one run (schema 1).
//
// Started, Heartbeat and LeaseUntil belong to the current attempt;
// Pages, Records, Bytes and Checkpoint are that attempt's progress.
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

// CheckTransition reports whether a record may go from status from to
// status to. The error matches [ErrIllegalTransition].
func CheckTransition(from, to Status) error {
	ok := false
	switch from {
	case Queued:
		ok = to == Running || to == Failed
	case Running:
		ok = to == Running || to == Done || to == Failed
	}
	if !ok {
		return fmt.Errorf("%w: %s -> %s", ErrIllegalTransition, orNone(from), orNone(to))
	}
	return nil
}

func orNone(s Status) string {
	if s == "" {
		return `""`
	}
	return string(s)
}

// Stale reports whether r is running and its lease has expired at now.
// A running record without a lease is stale.
func (r *Record) Stale(now time.Time) bool {
	if r.Status != Running {
		return false
	}
	return r.LeaseUntil == nil || !now.Before(*r.LeaseUntil)
}

// Clone returns a deep copy of r.
func (r *Record) Clone() Record {
	c := *r
	c.Started = cloneTime(r.Started)
	c.Heartbeat = cloneTime(r.Heartbeat)
	c.LeaseUntil = cloneTime(r.LeaseUntil)
	c.Finished = cloneTime(r.Finished)
	c.Since = cloneTime(r.Since)
	if r.Error != nil {
		e := *r.Error
		c.Error = &e
	}
	if r.Extra != nil {
		c.Extra = bytes.Clone(r.Extra)
	}
	return c
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := *t
	return &u
}

// toUTC puts every time of r in UTC, so that stored records read the same
// whatever the writer's zone.
func (r *Record) toUTC() {
	r.Created = r.Created.UTC()
	for _, t := range []*time.Time{r.Started, r.Heartbeat, r.LeaseUntil, r.Finished, r.Since} {
		if t != nil {
			*t = t.UTC()
		}
	}
}

// maxWorkerID bounds a worker id; it travels in request headers.
const maxWorkerID = 256

// Validate reports the first rule of schema 1 that r breaks. The error
// matches [ErrInvalidRecord].
func (r *Record) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidRecord}, args...)...)
	}
	if r.Schema != Schema {
		return bad("schema %d, want %d", r.Schema, Schema)
	}
	if !r.Status.Known() {
		return bad("unknown status %q", r.Status)
	}
	if err := staging.CheckRunID(r.RunID); err != nil {
		return bad("run id: %w", err)
	}
	if err := staging.CheckDataType(r.DataType); err != nil {
		return bad("data type: %w", err)
	}
	if r.Created.IsZero() {
		return bad("no created time")
	}
	if r.Attempt < 0 || r.Pages < 0 || r.Records < 0 || r.Bytes < 0 {
		return bad("negative attempt or count")
	}
	if err := checkWorkerID(r.WorkerID); err != nil {
		return bad("%w", err)
	}
	switch r.Status {
	case Queued:
		if r.Attempt != 0 {
			return bad("queued with attempt %d", r.Attempt)
		}
	case Running:
		if r.Attempt < 1 || r.WorkerID == "" || r.Heartbeat == nil || r.LeaseUntil == nil {
			return bad("running needs attempt, worker id, heartbeat and lease")
		}
	}
	if r.Extra != nil && !json.Valid(r.Extra) {
		return bad("extra is not JSON")
	}
	return nil
}

func checkWorkerID(id string) error {
	if len(id) > maxWorkerID {
		return fmt.Errorf("worker id longer than %d bytes", maxWorkerID)
	}
	for _, c := range []byte(id) {
		if c < 0x20 || c == 0x7f {
			return errors.New("worker id has a control character")
		}
	}
	return nil
}

// DecodeRecord parses and validates a state document. A document of
// another schema, with an unknown status or breaking a rule of the schema
// gets an error matching [ErrInvalidRecord].
func DecodeRecord(data []byte) (*Record, error) {
	// Look at the schema before anything else, so that a document of a
	// newer schema is reported as such rather than as a type error.
	var head struct {
		Schema *json.RawMessage `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if head.Schema == nil {
		return nil, fmt.Errorf("%w: no schema", ErrInvalidRecord)
	}
	if string(*head.Schema) != "1" {
		return nil, fmt.Errorf("%w: schema %.20s, want %d", ErrInvalidRecord, *head.Schema, Schema)
	}

	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	r.toUTC()
	return &r, nil
}

// Encode validates r and returns its state document, with every time in
// UTC.
func (r *Record) Encode() ([]byte, error) {
	c := r.Clone()
	c.toUTC()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("runstate: encode record: %w", err)
	}
	return append(data, '\n'), nil
}
