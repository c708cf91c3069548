package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

func TestRepeatedRecordsAreStagedOnce(t *testing.T) {
	// SF's paging can repeat a record on a later page. The key is the
	// whole entity key, effective date included: a later slice of the
	// same job is not a repeat.
	job := func(user, start string) string {
		return fmt.Sprintf(`{"__metadata":{"uri":"x","type":"SFOData.EmpJob"},"userId":%q,"seqNumber":"1",`+
			`"startDate":"%s","jobCode":"JC1","lastModifiedDateTime":"/Date(1618796144000+0000)/"}`, user, start)
	}
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("$skiptoken") == "" {
			fmt.Fprintf(w, `{"d":{"results":[%s,%s],"__next":"%s/odata/v2/EmpJob?$skiptoken=2&paging=snapshot"}}`,
				job("u1", "/Date(1583107200000)/"), job("u2", "/Date(1583107200000)/"), srv.URL)
			return
		}
		fmt.Fprintf(w, `{"d":{"results":[%s,%s,%s]}}`,
			job("u2", "/Date(1583107200000+0000)/"), // the same record again
			job("u2", "/Date(1614643200000)/"),      // a later slice
			job("u3", "/Date(1583107200000)/"))
	}))
	defer srv.Close()
	store, _ := staging.NewDirStore(t.TempDir())
	defer store.Close()
	var dups atomic.Int64
	c, err := New(Options{
		Store: store, SFServiceURL: srv.URL + "/odata/v2", SFClient: srv.Client(),
		Observer: ObserverFuncs{OnPageWritten: func(e PageEvent) { dups.Add(e.Duplicates) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Run(context.Background(), "job_information")
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, store, rec.Manifest)
	if m.Records != 4 || m.Duplicates != 1 || dups.Load() != 1 {
		t.Errorf("manifest: %d records, %d duplicates (observer %d); want 4 and 1", m.Records, m.Duplicates, dups.Load())
	}
	lines := stagedLines(t, store, "", rec)
	if len(lines) != 4 || !strings.Contains(strings.Join(lines, "\n"), `"startDate":"2021-03-02"`) {
		t.Errorf("staged %q", lines)
	}
}

func TestSubmitAndWorkers(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 30})
	var mu sync.Mutex
	events := map[string][]string{}
	obs := ObserverFuncs{
		OnRunStarted:  func(e RunEvent) { mu.Lock(); events[e.RunID] = append(events[e.RunID], "started"); mu.Unlock() },
		OnPageWritten: func(e PageEvent) { mu.Lock(); events[e.RunID] = append(events[e.RunID], "page"); mu.Unlock() },
		OnRunFinished: func(e RunEvent) {
			mu.Lock()
			events[e.RunID] = append(events[e.RunID], string(e.Status))
			mu.Unlock()
		},
	}
	c, store := env.connector(t, Options{Catalog: smallPages(t, 10), Workers: 2, Observer: obs})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Start(ctx) }()

	var ids []string
	for _, dt := range []string{"users", "skills", "users", "competencies"} {
		id, err := c.Submit(ctx, dt)
		if err != nil {
			t.Fatal(err)
		}
		if u, err := uuid.Parse(id); err != nil || u.Version() != 7 {
			t.Errorf("run id %q is not a UUIDv7", id)
		}
		ids = append(ids, id)
	}
	reader := runstate.NewReader(store, staging.Layout{BasePath: env.cfg.S3BasePath})
	for _, id := range ids {
		rec, err := c.Status(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		rec, err = reader.Wait(wctx, rec.DataType, id, 20*time.Millisecond)
		wcancel()
		if err != nil || rec.Status != runstate.Done {
			t.Fatalf("run %s: %v %+v", id, err, rec)
		}
	}
	cancel()
	<-done

	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		ev := events[id]
		if len(ev) < 3 || ev[0] != "started" || ev[len(ev)-1] != "done" {
			t.Errorf("run %s events %v, want started, pages, done", id, ev)
		}
	}
}

func TestCancelQueuedRun(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 10})
	c, _ := env.connector(t, Options{})
	ctx := context.Background()
	id, err := c.Submit(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	rec, _ := c.Status(ctx, id)
	if rec.Status != runstate.Failed || rec.Error == nil || rec.Error.Kind != "cancelled" {
		t.Fatalf("record %+v, want failed/cancelled", rec)
	}
	if err := c.Cancel(ctx, id); err == nil {
		t.Error("a second cancel succeeded")
	}

	// A worker that dequeues it leaves it alone.
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	c.Start(wctx)
	if rec, _ := c.Status(ctx, id); rec.Status != runstate.Failed || rec.Attempt != 0 {
		t.Errorf("after a worker ran: %+v", rec)
	}
	for _, r := range env.sim.Requests() {
		t.Errorf("SF was called for a cancelled run: %s", r.Path)
	}
}

func TestCancelRunningRun(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 60, Latency: 30 * time.Millisecond})
	pages := make(chan struct{}, 100)
	c, store := env.connector(t, Options{
		Catalog: smallPages(t, 5), Lease: time.Second, Heartbeat: 50 * time.Millisecond,
		Observer: ObserverFuncs{OnPageWritten: func(PageEvent) { pages <- struct{}{} }},
	})
	ctx := context.Background()

	type outcome struct {
		rec *runstate.Record
		err error
	}
	out := make(chan outcome)
	go func() {
		rec, err := c.Run(ctx, "users")
		out <- outcome{rec, err}
	}()
	<-pages
	var id string
	waitFor(t, 5*time.Second, "the run to be listed", func() bool {
		recs, _ := runstate.NewReader(store, staging.Layout{BasePath: env.cfg.S3BasePath}).List(ctx, "users")
		if len(recs) == 1 {
			id = recs[0].RunID
		}
		return id != ""
	})
	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	cancelled := time.Now()

	var o outcome
	select {
	case o = <-out:
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not stop after it was cancelled")
	}
	var re *RunError
	if !errors.As(o.err, &re) || re.Kind != KindCancelled {
		t.Fatalf("Run returned %v, want a RunError of kind cancelled", o.err)
	}
	if o.rec.Status != runstate.Failed || o.rec.Manifest != "" {
		t.Errorf("record %+v", o.rec)
	}
	// The worker stopped reading SF soon after the cancel.
	var last time.Time
	for _, r := range env.sim.Requests() {
		if strings.HasPrefix(r.RunHeader, id) {
			last = r.Time
		}
	}
	if last.Sub(cancelled) > 2*time.Second {
		t.Errorf("SF was still read %v after the cancel", last.Sub(cancelled))
	}
	if n := len(pageKeys(t, store, env.cfg.S3BasePath, "users", id)); n >= 12 {
		t.Errorf("%d pages staged: the run was not cut short", n)
	}
}

// slowStore delays page uploads and records how many overlap.
type slowStore struct {
	staging.Store
	delay         time.Duration
	inFlight, max atomic.Int64
}

func (s *slowStore) Put(ctx context.Context, key string, body io.Reader, size int64, cond staging.Condition) (string, error) {
	if strings.Contains(key, "/pages/") {
		n := s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		for {
			m := s.max.Load()
			if n <= m || s.max.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(s.delay)
	}
	return s.Store.Put(ctx, key, body, size, cond)
}

func TestPagesUploadWhileTheNextIsFetched(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 80})
	dir, _ := staging.NewDirStore(t.TempDir())
	defer dir.Close()
	for _, inFlight := range []int{1, 2, 4} {
		store := &slowStore{Store: dir, delay: 150 * time.Millisecond}
		c, _ := env.connector(t, Options{Store: store, Catalog: smallPages(t, 5), PagesInFlight: inFlight})
		start := time.Now()
		rec, err := c.Run(context.Background(), "users")
		if err != nil {
			t.Fatal(err)
		}
		elapsed := time.Since(start)
		if rec.Pages != 16 {
			t.Fatalf("%d pages, want 16", rec.Pages)
		}
		// Bounded, and overlapping when more than one page may be held.
		if got := store.max.Load(); got > int64(inFlight) || (inFlight > 1 && got < 2) {
			t.Errorf("PagesInFlight %d: at most %d uploads at once", inFlight, got)
		}
		t.Logf("PagesInFlight %d: 16 pages with 150ms uploads in %v", inFlight, elapsed.Round(time.Millisecond))
	}
}

func TestStartFinishesOrphanedRuns(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 20})
	first, store := env.connector(t, Options{})
	ctx := context.Background()
	// A process submitted a run and died before a worker took it.
	id, err := first.Submit(ctx, "skills")
	if err != nil {
		t.Fatal(err)
	}

	second, _ := env.connector(t, Options{Store: store})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- second.Start(wctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 10*time.Second, "the orphaned run to be done", func() bool {
		rec, err := second.Status(ctx, id)
		return err == nil && rec.Status == runstate.Done
	})
}

func TestFenceStopsRequestsAfterTheLease(t *testing.T) {
	f := &fence{}
	f.until.Store(time.Now().Add(time.Hour).UnixNano())
	if err := f.check(); err != nil {
		t.Fatalf("a live lease: %v", err)
	}
	f.until.Store(time.Now().Add(-time.Millisecond).UnixNano())
	tr := withRunHeader(http.DefaultTransport, "run/1/w", f)
	req, _ := http.NewRequest("GET", "https://127.0.0.1:1/odata/v2/User", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, errLeaseExpired) {
		t.Fatalf("RoundTrip after the lease = %v, want errLeaseExpired", err)
	}
	if kindOf(fmt.Errorf("odata: %w", errLeaseExpired)) != KindStorage {
		t.Error("an expired lease is not a storage failure")
	}
	var nilFence *fence
	if nilFence.check() != nil {
		t.Error("a nil fence refused")
	}
}
