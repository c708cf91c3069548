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
	// Queued: submitted and waiting for a worker to claim it.
	Queued Status = "queued"

	// Running: claimed by a worker, which renews its lease while it works.
	Running Status = "running"

	// Done: every page and the manifest are written.
	Done Status = "done"

	// Failed: the run cannot finish; Record.Error says why.
	Failed Status = "failed"
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
	// Kind is a short code saying what a person can do about the
	// failure, such as "auth" or "sf_throttled"; docs/state.md lists
	// the kinds the connector writes. This package does not check it.
	Kind string `json:"kind"`

	// Message says what happened, for operators. It must hold no key,
	// assertion, token or S3 secret.
	Message string `json:"message"`
}

// Record is the state document of one run (schema 1).
//
// Started, Heartbeat and LeaseUntil belong to the current attempt;
// Pages, Records, Bytes and Checkpoint are that attempt's progress, and a
// claim resets them. Optional fields are left out of the document while
// nil or empty. Times are stored in UTC.
type Record struct {
	// Schema is the document's version, always [Schema]. Create sets a
	// zero Schema; a reader refuses any other value.
	Schema int `json:"schema"`

	// RunID identifies the run: a lower-case canonical UUID (the
	// connector uses UUIDv7). Fixed at creation, and must agree with the
	// record's key.
	RunID string `json:"runId"`

	// DataType is the catalog name of the run's data type (see
	// [staging.CheckDataType]). Fixed at creation.
	DataType string `json:"dataType"`

	// Status is where the run stands. Create accepts only [Queued], and
	// an empty Status means it; [CheckTransition] says what may follow.
	Status Status `json:"status"`

	// Attempt counts claims: 0 while queued, 1 after the first claim and
	// one more for each takeover of a stale run. The attempt's pages live
	// under pages/{attempt}/.
	Attempt int `json:"attempt"`

	// WorkerID names the worker that holds the run, or held it last.
	// Empty until the first claim; at most 256 bytes with no control
	// characters.
	WorkerID string `json:"workerId,omitempty"`

	// Created is when the run was submitted. Fixed at creation; Create
	// sets a zero Created to now.
	Created time.Time `json:"created"`

	// Started is when the current attempt claimed the run. Nil until the
	// first claim.
	Started *time.Time `json:"started,omitempty"`

	// Heartbeat is when the worker last renewed its lease, by a claim, a
	// renewal or a progress write. Nil until the first claim.
	Heartbeat *time.Time `json:"heartbeat,omitempty"`

	// LeaseUntil is when the current attempt's lease runs out; after it
	// a running run is stale (see [Record.Stale]) and may be taken over.
	// Nil until the first claim.
	LeaseUntil *time.Time `json:"leaseUntil,omitempty"`

	// Finished is when the run became done or failed; [Tracker.Update]
	// sets it if left nil. Nil while the run is not final.
	Finished *time.Time `json:"finished,omitempty"`

	// Pages counts the pages the current attempt has written so far.
	Pages int64 `json:"pages"`

	// Records counts the records in those pages.
	Records int64 `json:"records"`

	// Bytes is the compressed size of those pages.
	Bytes int64 `json:"bytes"`

	// Checkpoint says where the current attempt is, such as "page 12",
	// for people reading the record. Free text; nothing resumes from it.
	Checkpoint string `json:"checkpoint,omitempty"`

	// Mode is "full" or "incremental", as the submitter chose; empty if
	// it did not say. This package stores it without reading it.
	Mode string `json:"mode,omitempty"`

	// Since is, for an incremental run, the lower bound of the change
	// filter. Nil for a full run.
	Since *time.Time `json:"since,omitempty"`

	// Manifest is the key of the run's manifest, set by the write that
	// marks the run done; a claim clears it. It is informational: a
	// [Reader] finds the manifest by the layout.
	Manifest string `json:"manifest,omitempty"`

	// Error says why the run failed, set by the write that marks it
	// failed; a claim clears it. Nil otherwise.
	Error *ErrorInfo `json:"error,omitempty"`

	// Extra is reserved for host programs: any valid JSON, kept as is by
	// every write of this package. Nil leaves it out.
	Extra json.RawMessage `json:"extra,omitempty"`
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

// times returns the record's times that are set.
func (r *Record) times() []time.Time {
	out := []time.Time{r.Created}
	for _, t := range []*time.Time{r.Started, r.Heartbeat, r.LeaseUntil, r.Finished, r.Since} {
		if t != nil {
			out = append(out, *t)
		}
	}
	return out
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
	// A time JSON cannot hold would make the record impossible to write
	// back once read.
	for _, tm := range r.times() {
		if y := tm.UTC().Year(); y < 0 || y > 9999 {
			return bad("a time outside the years 0 to 9999")
		}
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
