package connector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/techwolf/sfconnector/internal/keyset"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// RunHeader is the request header that tells SF (and its logs) which run,
// attempt and worker sent an OData request: "runID/attempt/workerID".
const RunHeader = "X-SFConnector-Run"

// finalWriteTimeout bounds the last state write of a run whose context
// ended, so that a cancelled run is still recorded as such.
const finalWriteTimeout = 30 * time.Second

// work claims run and works it to its end. inline runs belong to a
// caller waiting in Run: if the caller gives up, the run is recorded as
// cancelled. Queue runs cut short by shutdown are left to expire.
func (c *Connector) work(ctx context.Context, run *runstate.Run, inline bool) (*runstate.Record, error) {
	if err := c.tracker.Claim(ctx, run, c.workerID, c.opts.Lease); err != nil {
		if errors.Is(err, runstate.ErrNotClaimable) || errors.Is(err, runstate.ErrConflict) ||
			errors.Is(err, runstate.ErrIllegalTransition) {
			return nil, fmt.Errorf("%w: %w", errNotOurs, err)
		}
		if inline {
			rec, ferr := c.finish(ctx, run, storageErr(err), nil, time.Now())
			return rec, ferr
		}
		return nil, storageErr(err)
	}
	rec := run.Record
	start := time.Now()
	log := c.log.With("run_id", rec.RunID, "data_type", rec.DataType,
		"attempt", rec.Attempt, "worker_id", c.workerID)
	log.Info("run started", "mode", rec.Mode)
	c.obs.RunStarted(RunEvent{RunID: rec.RunID, DataType: rec.DataType, Attempt: rec.Attempt,
		WorkerID: c.workerID, Status: runstate.Running})

	hb := c.tracker.StartHeartbeat(ctx, run, c.opts.Heartbeat, c.opts.Lease)
	f := c.newFence(hb)
	res, err := c.extract(hb.Context(), hb, f, rec, log)
	if err == nil {
		err = f.check()
	}
	if err == nil {
		err = c.commitManifest(hb.Context(), rec, res)
	}
	run, lost := hb.Stop()
	if lost != nil {
		return c.lost(ctx, rec, res, lost, start, log)
	}
	if errors.Is(err, errNotOurs) {
		log.Warn("run lost to another worker", "err", err)
		return nil, err
	}
	if err != nil && ctx.Err() != nil && !inline {
		log.Info("run left for another worker to take over", "err", err)
		return nil, err
	}
	return c.finish(ctx, run, err, res, start)
}

// finish writes the final state: done with the manifest, or failed with
// the error's kind.
func (c *Connector) finish(ctx context.Context, run *runstate.Run, runErr error, res *result, start time.Time) (*runstate.Record, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalWriteTimeout)
	defer cancel()
	rec := run.Record
	log := c.log.With("run_id", rec.RunID, "data_type", rec.DataType, "attempt", rec.Attempt)
	if res == nil {
		res = &result{}
	}

	var kind ErrorKind
	err := c.tracker.Update(ctx, run, func(r *runstate.Record) {
		r.Pages, r.Records, r.Bytes = int64(len(res.pages)), res.records, res.bytes
		r.Checkpoint = ""
		if runErr == nil {
			r.Status = runstate.Done
			r.Manifest = res.manifest
			return
		}
		kind = kindOf(runErr)
		r.Status = runstate.Failed
		r.Error = &runstate.ErrorInfo{Kind: string(kind), Message: truncate(runErr.Error(), 2000)}
	})
	if err != nil {
		if errors.Is(err, runstate.ErrConflict) {
			// Cancelled or taken over between the last heartbeat and now.
			return c.lost(ctx, rec, res, err, start, log)
		}
		log.Error("final state not written", "err", err)
		return nil, storageErr(fmt.Errorf("connector: final state of run %s: %w", rec.RunID, err))
	}

	ev := RunEvent{RunID: rec.RunID, DataType: rec.DataType, Attempt: rec.Attempt, WorkerID: c.workerID,
		Status: run.Record.Status, Pages: int64(len(res.pages)), Records: res.records,
		Duplicates: res.dups, Elapsed: time.Since(start)}
	if runErr != nil {
		runErr = &RunError{RunID: rec.RunID, DataType: rec.DataType, Kind: kind, Err: runErr}
		ev.Err = runErr
		log.Error("run failed", "kind", string(kind), "err", runErr, "elapsed", ev.Elapsed)
	} else {
		log.Info("run done", "pages", ev.Pages, "records", ev.Records,
			"duplicates", ev.Duplicates, "elapsed", ev.Elapsed)
	}
	c.obs.RunFinished(ev)
	out := run.Record.Clone()
	return &out, runErr
}

// lost handles a run this worker no longer holds: cancelled by Cancel, or
// taken over after the lease ran out. Nothing more is written.
func (c *Connector) lost(ctx context.Context, rec runstate.Record, res *result, why error, start time.Time, log *slog.Logger) (*runstate.Record, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalWriteTimeout)
	defer cancel()
	cur, err := c.tracker.Get(ctx, rec.DataType, rec.RunID)
	if err == nil && cur.Record.Status == runstate.Failed && cur.Record.Error != nil &&
		cur.Record.Error.Kind == string(KindCancelled) {
		log.Info("run cancelled while running")
		runErr := &RunError{RunID: rec.RunID, DataType: rec.DataType, Kind: KindCancelled, Err: errCancelled}
		ev := RunEvent{RunID: rec.RunID, DataType: rec.DataType, Attempt: rec.Attempt, WorkerID: c.workerID,
			Status: runstate.Failed, Err: runErr, Elapsed: time.Since(start)}
		if res != nil {
			ev.Pages, ev.Records, ev.Duplicates = int64(len(res.pages)), res.records, res.dups
		}
		c.obs.RunFinished(ev)
		out := cur.Record.Clone()
		return &out, runErr
	}
	log.Warn("run lost to another worker", "err", why)
	return nil, fmt.Errorf("%w: %w", errNotOurs, why)
}

// result is what one pass over the pages produced.
type result struct {
	pages    []staging.PageEntry
	records  int64
	bytes    int64
	dups     int64
	query    string // the first page's URL
	manifest string // key of the manifest, once written
}

// extract reads the data type's pages and stages them. A lost snapshot
// starts the read over once; gateway timeouts on a later page start it
// over with the smaller page size odata asks for, within maxRestarts.
func (c *Connector) extract(ctx context.Context, hb *runstate.Heartbeat, f *fence, rec runstate.Record, log *slog.Logger) (*result, error) {
	dt, ok := c.catalog.lookup(rec.DataType)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownDataType, rec.DataType)
	}
	q := dt.Query()
	if rec.Mode == "incremental" && rec.Since != nil && rec.Started != nil && dt.Modified != "" {
		// The window ends when this attempt started; the next incremental
		// run's window starts there (less the overlap). A record stamped
		// in the future waits for the window that holds its stamp.
		lit := odata.DateTimeOffset
		if dt.Properties[dt.Modified].Type == EdmDateTime {
			lit = odata.DateTime
		}
		q.Filter = odata.And(q.Filter,
			odata.Ge(dt.Modified, lit(*rec.Since)), odata.Le(dt.Modified, lit(*rec.Started)))
	}
	client, err := c.client(rec, f, log)
	if err != nil {
		return nil, err
	}
	// SF's count at the start, checked against the rows received: in every
	// paging mode a count that moved means rows were likely lost or
	// repeated, and the run fails as incomplete rather than pass for whole.
	q.InlineCount = true
	if q.Paging == odata.PagingSkip {
		log.Warn("client-side $skip paging can lose or repeat rows; the run fails if the count changes")
	}

	written := 0 // the most pages a pass wrote
	snapshotRestarts, restarts := 0, 0
	for {
		first, err := client.URL(q)
		if err != nil {
			return nil, err
		}
		res, err := c.pass(ctx, hb, client, dt, q, rec, log)
		written = max(written, len(res.pages))
		if err != nil && ctx.Err() == nil && restarts < maxRestarts {
			// A restart reads from page 1 into the same attempt's pages,
			// overwriting them, with a fresh snapshot and key set.
			var re *odata.RestartError
			switch {
			case odata.KindOf(err) == odata.KindSnapshotLost && snapshotRestarts < 1:
				snapshotRestarts++
				restarts++
				log.Warn("snapshot lost; reading again from the first page", "err", err)
				continue
			case errors.As(err, &re):
				restarts++
				log.Warn("gateway timeouts on a later page; reading again from the first page "+
					"with a smaller page size", "page_size", re.PageSize, "err", err)
				q.PageSize = re.PageSize
				continue
			}
		}
		if err != nil {
			return res, err
		}
		// Pages of a lost pass beyond this one's end are not in the
		// manifest; remove them so nobody mistakes them for data.
		for seq := len(res.pages); seq < written; seq++ {
			if key, err := c.layout.PageKey(rec.DataType, rec.RunID, rec.Attempt, seq); err == nil {
				c.opts.Store.Delete(ctx, key)
			}
		}
		res.query = first
		return res, nil
	}
}

// maxRestarts bounds the reads from the first page a run may start over,
// whatever the reason: one for a lost snapshot, the rest for smaller
// pages after gateway timeouts.
const maxRestarts = 3

// pass reads every page once. Each page is transformed and deduplicated
// here, in order, then uploaded by its own goroutine while the next page
// is fetched; at most PagesInFlight pages are held.
func (c *Connector) pass(ctx context.Context, hb *runstate.Heartbeat, client *odata.Client, dt *DataType, q odata.Query, rec runstate.Record, log *slog.Logger) (*result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	res := &result{}
	var (
		mu           sync.Mutex // guards res.pages, records, bytes; upErr; lastProgress
		upErr        error
		lastProgress = time.Now()
		wg           sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if upErr == nil {
			upErr = err
		}
		mu.Unlock()
		cancel(err)
	}
	progressEvery := min(time.Second, c.opts.Heartbeat)
	slots := make(chan struct{}, c.opts.PagesInFlight)
	tr := dt.Transformer()
	seen := keyset.New(nil)
	defer seen.Close()
	var line []byte
	var iterErr error

	for page, err := range client.Pages(ctx, q) {
		if err != nil {
			iterErr = err
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			iterErr = context.Cause(ctx)
		}
		if iterErr != nil {
			break
		}
		enc := c.encoder()
		release := func() { c.idleEncoder(enc); <-slots }
		enc.Reset()

		var dups int64
		for i, r := range page.Records {
			var key []byte
			line, key, err = tr.Append(line[:0], r)
			if err != nil {
				err = fmt.Errorf("page %d, record %d: %w", page.Index, i, err)
				break
			}
			if !seen.Add(key) {
				dups++
				continue
			}
			if err = enc.WriteRecord(line); err != nil {
				break
			}
		}
		res.dups += dups
		if dups > 0 {
			log.Info("repeated records dropped", "page", page.Index, "duplicates", dups)
		}
		if err == nil && enc.Records() == 0 {
			release() // nothing new on this page
			continue
		}
		var (
			data    []byte
			records int64
			sha     string
			key     string
		)
		if err == nil {
			data, records, sha, err = enc.Finish()
		}
		if err == nil {
			key, err = c.layout.PageKey(rec.DataType, rec.RunID, rec.Attempt, len(res.pages))
		}
		if err != nil {
			release()
			iterErr = err
			break
		}

		mu.Lock()
		seq := len(res.pages)
		res.pages = append(res.pages, staging.PageEntry{})
		mu.Unlock()
		wg.Go(func() {
			defer release()
			entry, err := staging.WritePage(ctx, c.opts.Store, key, data, records, sha)
			if err != nil {
				fail(storageErr(err))
				return
			}
			mu.Lock()
			res.pages[seq] = entry
			res.records += records
			res.bytes += entry.Bytes
			total, size, pages := res.records, res.bytes, int64(len(res.pages))
			due := time.Since(lastProgress) >= progressEvery
			if due {
				lastProgress = time.Now()
			}
			mu.Unlock()

			log.Debug("page written", "page", seq, "records", records, "bytes", entry.Bytes)
			c.obs.PageWritten(PageEvent{RunID: rec.RunID, DataType: rec.DataType, Seq: seq,
				Records: records, Bytes: entry.Bytes, TotalRecords: total, Duplicates: dups})
			if due {
				// A failure here is the heartbeat's to report: a lost
				// lease cancels the run's context.
				hb.Progress(func(r *runstate.Record) {
					r.Pages, r.Records, r.Bytes = pages, total, size
					r.Checkpoint = fmt.Sprintf("page %d", seq)
				})
			}
		})
	}
	wg.Wait()

	mu.Lock()
	err := upErr
	mu.Unlock()
	if err == nil {
		err = iterErr
	}
	if err == nil {
		err = context.Cause(ctx) // the heartbeat lost the run after the last page
	}
	return res, err
}

// commitManifest writes the manifest of a finished extraction.
func (c *Connector) commitManifest(ctx context.Context, rec runstate.Record, res *result) error {
	key, err := c.layout.ManifestKey(rec.DataType, rec.RunID)
	if err != nil {
		return err
	}
	m := &staging.Manifest{
		RunID: rec.RunID, DataType: rec.DataType, Attempt: rec.Attempt, Query: res.query,
		Pages: res.pages, Records: res.records, Bytes: res.bytes, Duplicates: res.dups,
		Created: time.Now().UTC(),
	}
	if m.Pages == nil {
		m.Pages = []staging.PageEntry{}
	}
	err = staging.WriteManifest(ctx, c.opts.Store, key, m)
	if errors.Is(err, staging.ErrPrecondition) {
		// An earlier attempt wrote a manifest and died before the state
		// turned done: replace it. A later attempt's means this worker
		// lost the run; leave it alone.
		old, rerr := staging.ReadManifest(ctx, c.opts.Store, key)
		if rerr == nil && old.Attempt >= rec.Attempt {
			return fmt.Errorf("%w: attempt %d wrote the manifest", errNotOurs, old.Attempt)
		}
		if derr := c.opts.Store.Delete(ctx, key); derr != nil {
			return storageErr(derr)
		}
		err = staging.WriteManifest(ctx, c.opts.Store, key, m)
	}
	if err != nil {
		return storageErr(err)
	}
	res.manifest = key
	return nil
}

// client returns an OData client for one run: its requests carry the run
// header, and retries are reported to the observer.
func (c *Connector) client(rec runstate.Record, f *fence, log *slog.Logger) (*odata.Client, error) {
	hc := *c.opts.SFClient
	hc.Transport = withRunHeader(hc.Transport, fmt.Sprintf("%s/%d/%s", rec.RunID, rec.Attempt, c.workerID), f)

	var o odata.Options
	if c.opts.OData != nil {
		o = *c.opts.OData
	}
	o.AllowInsecureLoopback = o.AllowInsecureLoopback || c.opts.AllowInsecureLoopback
	if c.opts.Logger != nil {
		o.Logger = log
	}
	prev := o.OnRetry
	o.OnRetry = func(e odata.RetryEvent) {
		if prev != nil {
			prev(e)
		}
		log.Warn("request retried", "attempt", e.Attempt, "status", e.Status, "wait", e.Wait, "err", e.Err)
		c.obs.Retry(RetryEvent{RunID: rec.RunID, DataType: rec.DataType, RetryEvent: e})
	}
	return odata.NewClient(c.opts.SFServiceURL, &hc, &o)
}

// runTransport adds the run header to every request, and sends none once
// the run's lease may have run out.
type runTransport struct {
	base  http.RoundTripper
	value string
	fence *fence
}

func (t *runTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.fence.check(); err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set(RunHeader, t.value)
	return t.base.RoundTrip(r)
}

// refreshingRunTransport forwards Refresh, so that odata still finds the
// credential's Refresher behind the header.
type refreshingRunTransport struct {
	runTransport
	refresher odata.Refresher
}

func (t *refreshingRunTransport) Refresh(ctx context.Context) error {
	return t.refresher.Refresh(ctx)
}

func withRunHeader(base http.RoundTripper, value string, f *fence) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	t := runTransport{base: base, value: value, fence: f}
	if r, ok := base.(odata.Refresher); ok {
		return &refreshingRunTransport{runTransport: t, refresher: r}
	}
	return &t
}

// errLeaseExpired: the worker has not renewed its lease in time, so
// another worker may have taken the run over.
var errLeaseExpired = errors.New("connector: lease expired before it was renewed")

// fence stops a worker from reading SF or writing the manifest once its
// lease may have run out, even while a slow renewal is still in flight:
// from then on another worker may hold the run. It is a margin short of
// the lease's end, for clocks that differ between machines.
type fence struct {
	until  atomic.Int64 // UnixNano
	margin time.Duration
}

// newFence tracks hb's lease until its context ends.
func (c *Connector) newFence(hb *runstate.Heartbeat) *fence {
	f := &fence{margin: c.opts.Lease / 8}
	f.update(hb.Snapshot())
	go func() {
		t := time.NewTicker(max(c.opts.Heartbeat/2, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-hb.Context().Done():
				return
			case <-t.C:
				f.update(hb.Snapshot())
			}
		}
	}()
	return f
}

func (f *fence) update(r runstate.Record) {
	if r.LeaseUntil != nil {
		f.until.Store(r.LeaseUntil.Add(-f.margin).UnixNano())
	}
}

// check returns errLeaseExpired once the lease may have run out. A nil
// fence never does.
func (f *fence) check() error {
	if f != nil && time.Now().UnixNano() >= f.until.Load() {
		return errLeaseExpired
	}
	return nil
}

// encoder returns an idle page encoder, or a new one.
func (c *Connector) encoder() *staging.PageEncoder {
	select {
	case enc := <-c.encoders:
		return enc
	default:
		return staging.NewPageEncoder()
	}
}

// idleEncoder keeps enc for a later page, unless enough are kept.
func (c *Connector) idleEncoder(enc *staging.PageEncoder) {
	select {
	case c.encoders <- enc:
	default:
	}
}
