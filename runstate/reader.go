package runstate

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

var (
	// ErrNotDone means a run's records were asked for before it was done.
	ErrNotDone = errors.New("runstate: run is not done")

	// ErrBadManifest means a done run's manifest is not valid JSON, is
	// inconsistent, or does not belong to the run and its last attempt.
	ErrBadManifest = errors.New("runstate: bad manifest")
)

// PageError reports a page of a done run that cannot be ingested: missing,
// altered, or not what its manifest entry says. No record of such a page
// is yielded. Err is the cause; it matches [staging.ErrNotFound] for a
// missing page and [staging.ErrBadPage] for one that differs from the
// manifest.
type PageError struct {
	// Key is the page's key in the store, from the manifest.
	Key string

	// Err is why the page cannot be ingested; never nil.
	Err error
}

// Error names the page and the cause.
func (e *PageError) Error() string {
	return fmt.Sprintf("runstate: page %s: %v", e.Key, e.Err)
}

// Unwrap returns Err.
func (e *PageError) Unwrap() error { return e.Err }

// Reader is the ingestion side's view of staged runs. It only reads. It is
// safe for concurrent use.
type Reader struct {
	store  staging.Store
	layout staging.Layout
}

// NewReader returns a Reader of the runs in store at the keys of layout.
func NewReader(store staging.Store, layout staging.Layout) *Reader {
	return &Reader{store: store, layout: layout}
}

// Get reads the record of a run. A missing record matches [ErrNotFound].
func (r *Reader) Get(ctx context.Context, dataType, runID string) (*Record, error) {
	run, err := getRun(ctx, r.store, r.layout, dataType, runID)
	if err != nil {
		return nil, err
	}
	return &run.Record, nil
}

// List returns the records of all runs of dataType, newest first: by
// creation time, then by run id, which for UUIDv7 ids is creation order
// too. Objects under the data type's prefix that are not state records are
// ignored; a state record that does not decode is an error naming its key.
func (r *Reader) List(ctx context.Context, dataType string) ([]Record, error) {
	prefix, err := r.layout.DataTypePrefix(dataType)
	if err != nil {
		return nil, fmt.Errorf("runstate: %w", err)
	}
	objs, err := r.store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("runstate: list %s: %w", prefix, err)
	}
	var ids []string
	for _, o := range objs {
		runID, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), "/state.json")
		if ok && staging.CheckRunID(runID) == nil {
			ids = append(ids, runID)
		}
	}
	recs, err := r.getAll(ctx, dataType, ids)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b Record) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(b.RunID, a.RunID))
	})
	return recs, nil
}

// listReads bounds the records [Reader.List] reads at once.
const listReads = 8

// getAll reads the records of runs, listReads at a time. Runs deleted since
// the listing are left out.
func (r *Reader) getAll(ctx context.Context, dataType string, ids []string) ([]Record, error) {
	readCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make([]*Record, len(ids))
	errs := make([]error, len(ids))
	sem := make(chan struct{}, listReads)
	var wg sync.WaitGroup
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			recs[i], errs[i] = r.Get(readCtx, dataType, id)
			if errs[i] != nil && !errors.Is(errs[i], ErrNotFound) {
				cancel() // the listing fails; spare the other reads
			}
		})
	}
	wg.Wait()

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("runstate: list %s: %w", dataType, context.Cause(ctx))
	}
	out := make([]Record, 0, len(ids))
	for i := range ids {
		switch {
		case errs[i] == nil:
			out = append(out, *recs[i])
		case errors.Is(errs[i], ErrNotFound):
			// deleted since the listing
		case !errors.Is(errs[i], context.Canceled):
			return nil, errs[i]
		}
	}
	if len(out) < len(ids) && readCtx.Err() != nil {
		// Only cancelled reads failed, so the read that cancelled them
		// failed with a cancellation too.
		return nil, fmt.Errorf("runstate: list %s: %w", dataType, context.Canceled)
	}
	return out, nil
}

// LatestDone returns the newest run of dataType in state done, in the order
// of [Reader.List]. If there is none the error matches [ErrNotFound].
func (r *Reader) LatestDone(ctx context.Context, dataType string) (*Record, error) {
	recs, err := r.List(ctx, dataType)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if recs[i].Status == Done {
			return &recs[i], nil
		}
	}
	return nil, fmt.Errorf("%w: no done run of %s", ErrNotFound, dataType)
}

// DefaultPoll is how often [Reader.Wait] reads the record when poll is 0.
const DefaultPoll = 2 * time.Second

// Wait reads the record of a run every poll until it is final, and
// returns it. When ctx ends first, Wait returns the last record read (nil
// if none) and the context's error.
func (r *Reader) Wait(ctx context.Context, dataType, runID string, poll time.Duration) (*Record, error) {
	if poll <= 0 {
		poll = DefaultPoll
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var last *Record
	for {
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("runstate: wait for %s/%s: %w", dataType, runID, context.Cause(ctx))
		case <-timer.C:
		}
		rec, err := r.Get(ctx, dataType, runID)
		if err != nil {
			if ctx.Err() != nil {
				continue // report the context's end, not the read it cut short
			}
			return last, err
		}
		if rec.Status.Final() {
			return rec, nil
		}
		last = rec
		timer.Reset(poll)
	}
}

// Records yields the records of a done run: the pages its manifest lists,
// in manifest order, each record once. Every page is read whole and
// checked (size, SHA-256, record count, one JSON value a line) before any
// of its records is yielded; a bad or missing page ends the sequence with
// a [*PageError]. A run not in state done gets [ErrNotDone]; a missing
// manifest an error matching [staging.ErrNotFound]; a manifest that is
// broken, of another run or attempt, or lists a key outside that attempt's
// pages, [ErrBadManifest]. Memory holds one page at a time.
func (r *Reader) Records(ctx context.Context, rec *Record) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		m, err := r.manifest(ctx, rec)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, entry := range m.Pages {
			if err := ctx.Err(); err != nil {
				yield(nil, fmt.Errorf("runstate: read %s/%s: %w", rec.DataType, rec.RunID, err))
				return
			}
			lines, err := r.readPage(ctx, entry)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, line := range lines {
				if !yield(line, nil) {
					return
				}
			}
		}
	}
}

// maxManifestSize bounds a manifest read back; a run of a million pages
// stays well below it.
const maxManifestSize = 256 << 20

// manifest loads the manifest of a done run and checks that it belongs to
// the run and its last attempt.
func (r *Reader) manifest(ctx context.Context, rec *Record) (*staging.Manifest, error) {
	if rec.Status != Done {
		return nil, fmt.Errorf("%w: run %s is %s", ErrNotDone, rec.RunID, rec.Status)
	}
	key, err := r.layout.ManifestKey(rec.DataType, rec.RunID)
	if err != nil {
		return nil, fmt.Errorf("runstate: %w", err)
	}
	data, _, err := readObject(ctx, r.store, key, maxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("runstate: run %s: read manifest %s: %w", rec.RunID, key, err)
	}
	m := new(staging.Manifest)
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadManifest, key, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadManifest, key, err)
	}
	if m.RunID != rec.RunID || m.DataType != rec.DataType || m.Attempt != rec.Attempt {
		return nil, fmt.Errorf("%w: %s is of %s/%s attempt %d, the run is %s/%s attempt %d",
			ErrBadManifest, key, m.DataType, m.RunID, m.Attempt, rec.DataType, rec.RunID, rec.Attempt)
	}
	pages, err := r.layout.PagesPrefix(rec.DataType, rec.RunID, rec.Attempt)
	if err != nil {
		return nil, fmt.Errorf("runstate: %w", err)
	}
	for _, p := range m.Pages {
		// Keys come from a document in the store; read nothing outside
		// the attempt's own pages.
		if !strings.HasPrefix(p.Key, pages) || strings.Contains(p.Key[len(pages):], "/") {
			return nil, fmt.Errorf("%w: %s lists %q, outside %s", ErrBadManifest, key, p.Key, pages)
		}
	}
	return m, nil
}

// readPage reads one page whole and returns its records once every check
// has passed.
func (r *Reader) readPage(ctx context.Context, entry staging.PageEntry) ([]json.RawMessage, error) {
	fail := func(err error) ([]json.RawMessage, error) {
		return nil, &PageError{Key: entry.Key, Err: err}
	}
	obj, err := r.store.Get(ctx, entry.Key)
	if err != nil {
		return fail(err)
	}
	defer obj.Body.Close()
	// One byte more than the manifest allows shows a page that grew.
	data, err := io.ReadAll(io.LimitReader(obj.Body, entry.Bytes+1))
	if err != nil {
		return fail(err)
	}

	var buf []byte
	var ends []int
	pr := staging.OpenPage(bytes.NewReader(data), entry)
	for {
		line, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		if !json.Valid(line) {
			return fail(fmt.Errorf("%w: record %d is not JSON", staging.ErrBadPage, len(ends)+1))
		}
		buf = append(buf, line...)
		ends = append(ends, len(buf))
	}
	lines := make([]json.RawMessage, len(ends))
	start := 0
	for i, end := range ends {
		lines[i] = json.RawMessage(buf[start:end:end])
		start = end
	}
	return lines, nil
}
