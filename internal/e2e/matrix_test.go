package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
)

// A matrix row: one fault, and what the run must come to.
type faultCase struct {
	name string

	// sim configures the simulator; zero means 30 users.
	sim sfsim.Options

	// edit changes the catalog entry, e.g. its paging mode.
	edit func(*connector.DataType)

	// inject sets the fault up on the fresh tenant before the run.
	inject func(e *env)

	// want is the kind of a run that must fail; "" means it must end done
	// with exactly the simulator's records.
	want connector.ErrorKind

	// orKind allows a failure of this kind instead of done, for faults
	// whose outcome depends on timing (a store unreachable for a while).
	orKind connector.ErrorKind

	// pages, when not negative, is how many pages a failed run must have
	// left staged (the pages before the fault); -1 means any number.
	pages int

	// takeover allows the run to be left running when its final state
	// could not be written; a second worker must then take it over after
	// the lease and bring it to an end.
	takeover bool

	// check makes further assertions on the finished run.
	check func(t *testing.T, e *env, rec *runstate.Record, retries []connector.RetryEvent)
}

// row is one line of the printed matrix.
type row struct {
	fault, outcome, kind string
	staged, expected     int
	duplicates, missing  int
	elapsed              time.Duration
}

const (
	users    = 30
	pageSize = 10 // three pages
)

func sfFault(f sfsim.Fault) func(e *env) {
	return func(e *env) { e.sim.Inject(f) }
}

func s3Fault(f s3latency.Fault) func(e *env) {
	return func(e *env) { e.proxy.Inject(f) }
}

// beforeRequest calls f before the simulator serves the n-th OData
// request.
func beforeRequest(n int, f func(e *env)) func(e *env) {
	return func(e *env) {
		h := func(i int) {
			if i == n {
				f(e)
			}
		}
		e.beforeOData.Store(&h)
	}
}

// secondPagePut matches the upload of the second page object.
func secondPagePut(r *http.Request) bool {
	return s3latency.PagePuts(r) && strings.HasSuffix(r.URL.Path, "/000001.jsonl.gz")
}

var matrix = []faultCase{
	{name: "none", pages: -1},
	{
		name:   "SF 429 burst, Retry-After: 1",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: 2, Status: 429, RetryAfter: "1"}),
		pages:  -1,
		check: func(t *testing.T, e *env, rec *runstate.Record, retries []connector.RetryEvent) {
			if len(retries) != 2 {
				t.Errorf("%d retries, want 2", len(retries))
			}
			for _, r := range retries {
				// Retry-After (1s) lifts the wait to the policy's cap,
				// far above the few milliseconds of plain backoff.
				if r.Status != 429 || r.Wait < fastRetries().Retry.MaxDelay {
					t.Errorf("retry after HTTP %d waited %v, want the Retry-After capped at %v",
						r.Status, r.Wait, fastRetries().Retry.MaxDelay)
				}
			}
		},
	},
	{
		name:   "SF 429 beyond the retry budget",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: -1, Status: 429}),
		want:   connector.KindThrottled, pages: 1,
	},
	{
		// Case B13, HTTP-date variant.
		name: "SF 429, Retry-After as an HTTP date",
		inject: func(e *env) {
			at := time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Status: 429, RetryAfter: at})
		},
		pages: -1,
		check: func(t *testing.T, e *env, rec *runstate.Record, retries []connector.RetryEvent) {
			if len(retries) != 1 || retries[0].Wait < fastRetries().Retry.MaxDelay {
				t.Errorf("retries %+v, want one that waited until the date, capped", retries)
			}
		},
	},
	{
		// Case B13, no header: the policy's default wait.
		name:   "SF 429 without Retry-After",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 2, Status: 429}),
		pages:  -1,
		check: func(t *testing.T, e *env, rec *runstate.Record, retries []connector.RetryEvent) {
			d := fastRetries().Retry
			if len(retries) != 1 || retries[0].Wait < d.DefaultRetryAfter || retries[0].Wait > d.DefaultRetryAfter+d.BaseDelay {
				t.Errorf("retries %+v, want one waiting the default %v plus jitter", retries, d.DefaultRetryAfter)
			}
		},
	},
	{
		name:   "SF 503 storm, then service",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: sfsim.AnyPage, Times: 2, Status: 503}),
		pages:  -1,
	},
	{
		// Case B05.
		name:   "SF 503 HTML on page 2, retries exhausted",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: -1, Status: 503, HTML: true}),
		want:   connector.KindUnavailable, pages: 1,
	},
	{
		name:   "SF connection reset mid-body",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultReset, AfterBytes: 300}),
		pages:  -1,
	},
	{
		// Case B19.
		name:   "SF truncated 200 page",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 2, Kind: sfsim.FaultTruncate}),
		pages:  -1,
	},
	{
		name:   "SF truncated 200 page every time",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: -1, Kind: sfsim.FaultTruncate}),
		want:   connector.KindUnavailable, pages: 1,
	},
	{
		// Case B14: a gateway timeout on the first page halves the page
		// size for the rest of the run.
		name:   "SF 504 gateway timeout on page 1",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 0, Status: 504, HTML: true}),
		pages:  -1,
		check: func(t *testing.T, e *env, rec *runstate.Record, _ []connector.RetryEvent) {
			var sizes []string
			for _, r := range e.sim.Requests() {
				if r.EntitySet == entitySet {
					_, after, _ := strings.Cut(r.RawQuery, "customPageSize=")
					size, _, _ := strings.Cut(after, "&")
					sizes = append(sizes, size)
				}
			}
			if len(sizes) < 2 || sizes[0] != "10" || sizes[1] != "5" || rec.Pages != 6 {
				t.Errorf("page sizes asked %v, %d pages; want 10, then 5 for the rest (6 pages)", sizes, rec.Pages)
			}
		},
	},
	{
		name:   "SF 502 bad gateway on page 2",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Status: 502, HTML: true}),
		pages:  -1,
	},
	{
		// The simulator's empty page links to itself: a repeated __next
		// is a loop, never an endless read (case B20).
		name:   "SF empty page whose __next repeats",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultEmptyPage}),
		want:   connector.KindBadResponse, pages: -1,
	},
	{
		name:   "SF HTML maintenance page",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 0, Kind: sfsim.FaultMaintenance}),
		pages:  -1,
	},
	{
		name:   "SF maintenance for the whole run",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: sfsim.AnyPage, Times: -1, Kind: sfsim.FaultMaintenance}),
		want:   connector.KindUnavailable, pages: 0,
	},
	{
		// Case B12: the token is refused mid-run; one refresh, same page.
		name:   "SF token rejected mid-run (401 LGN0022)",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultTokenRejected}),
		pages:  -1,
		check:  wantTokenRequests(2),
	},
	{
		name:   "SF token rejected mid-run (403 LGN0006)",
		sim:    sfsim.Options{Users: users, ExpiredTokenStatus: 403},
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 2, Kind: sfsim.FaultTokenRejected}),
		pages:  -1,
		check:  wantTokenRequests(2),
	},
	{
		name:   "SF tokens expire before page 2",
		inject: beforeRequest(2, func(e *env) { e.sim.ExpireTokens() }),
		pages:  -1,
		check:  wantTokenRequests(2),
	},
	{
		// SAML case 3: a token that lives less than the run is renewed
		// before it runs out, not after SF refuses it.
		name:  "SF tokens live 2s, the run longer",
		sim:   sfsim.Options{Users: users, TokenTTL: 2 * time.Second, Latency: 500 * time.Millisecond},
		pages: -1,
		check: func(t *testing.T, e *env, rec *runstate.Record, retries []connector.RetryEvent) {
			tokens := 0
			for _, r := range e.sim.Requests() {
				switch {
				case r.Path == sfsim.TokenEndpoint:
					tokens++
				case r.Status == 401 || r.Status == 403:
					t.Errorf("SF refused %s with %d", r.Path, r.Status)
				}
			}
			if tokens < 2 {
				t.Errorf("%d token requests, want a renewal before expiry", tokens)
			}
		},
	},
	{
		name:   "SF token refused twice in a row",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: 2, Kind: sfsim.FaultTokenRejected}),
		want:   connector.KindAuth, pages: 1,
	},
	{
		// SAML case 1: SF does not know the user the assertion names.
		name: "SF token endpoint refuses the user",
		inject: func(e *env) {
			doc, _ := json.Marshal(map[string]string{
				"companyId": e.cred.CompanyID, "clientId": e.cred.ClientID, "userId": "jane.doe@acme.example",
				"privateKey": string(e.cred.KeyPEM), "certificate": string(e.cred.CertPEM),
			})
			writeFile(e.t, filepath.Join(e.ks.Dir, "sf-unknown-user"), doc)
			e.cfg.SFCredentialName = "sf-unknown-user"
		},
		want: connector.KindAuth, pages: 0,
		check: func(t *testing.T, e *env, rec *runstate.Record, _ []connector.RetryEvent) {
			if n := e.odataRequests.Load(); n != 0 {
				t.Errorf("%d OData requests without a token", n)
			}
			if !strings.Contains(rec.Error.Message, "user") {
				t.Errorf("error %q does not name the user as the problem", rec.Error.Message)
			}
		},
	},
	{
		// Case B03: restart from page 1 once, with a fresh snapshot.
		name:   "SF snapshot lost (COE0019) once",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 2, Kind: sfsim.FaultSnapshotLost}),
		pages:  -1,
		check: func(t *testing.T, e *env, rec *runstate.Record, _ []connector.RetryEvent) {
			firsts := 0
			for _, r := range e.sim.Requests() {
				if r.EntitySet == entitySet && !strings.Contains(r.RawQuery, "skiptoken") {
					firsts++
				}
			}
			if firsts != 2 {
				t.Errorf("first page asked for %d times, want 2", firsts)
			}
		},
	},
	{
		name:   "SF snapshot lost twice",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: 2, Kind: sfsim.FaultSnapshotLost}),
		want:   connector.KindSnapshotLost, pages: -1,
	},
	{
		// Case B03, first cause: SF drops a snapshot left idle too long.
		// Here uploads slower than the snapshot's idle time hold the
		// reader back; it must not lose or repeat records either way.
		name: "S3 uploads slower than the snapshot lives",
		sim:  sfsim.Options{Users: 60, SnapshotIdle: 150 * time.Millisecond},
		inject: func(e *env) {
			e.proxy.SetLatency(400 * time.Millisecond)
		},
		orKind: connector.KindSnapshotLost, pages: -1,
	},
	{
		name:   "SF __next to another host",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 0, Kind: sfsim.FaultForeignNext}),
		want:   connector.KindBadResponse, pages: 1,
	},
	{
		name:   "SF __next repeats itself",
		inject: sfFault(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultLoopNext}),
		want:   connector.KindBadResponse, pages: -1,
	},
	{
		// Case B01: client-side paging over a set that loses a row
		// between two pages reports the run incomplete, not done.
		name: "SF row deleted during $skip paging",
		edit: func(d *connector.DataType) {
			d.Paging = "skip"
			d.OrderBy = []string{"userId"}
		},
		inject: beforeRequest(2, func(e *env) {
			uri := e.sim.Records(entitySet)[0]["__metadata"].(map[string]any)["uri"].(string)
			e.sim.Delete(entitySet, uri[strings.LastIndex(uri, "/")+1:])
		}),
		want: connector.KindIncomplete, pages: -1,
	},
	{
		name:   "S3 500 InternalError on a page upload",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.InternalError, Match: secondPagePut}),
		pages:  -1,
	},
	{
		name:   "S3 500 after the page was written",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.InternalError, Match: secondPagePut, Forward: true}),
		pages:  -1,
	},
	{
		// A conditional write that happened but whose answer was lost:
		// the retry must see its own write, not a rival's.
		name: "S3 answer lost on the claim",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.InternalError, Method: http.MethodPut,
			KeyContains: "/state.json", After: 1, Forward: true}),
		pages: -1,
	},
	{
		// Create, claim, done: the third state write is the last.
		name: "S3 answer lost on the final state write",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.InternalError, Method: http.MethodPut,
			KeyContains: "/state.json", After: 2, Forward: true}),
		pages: -1,
	},
	{
		name: "S3 answer lost on the manifest write",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.InternalError, Method: http.MethodPut,
			KeyContains: "/manifest.json", Forward: true}),
		pages: -1,
	},
	{
		name:   "S3 SlowDown burst",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.SlowDown, Method: http.MethodPut, After: 1, Times: 2}),
		pages:  -1,
	},
	{
		name:   "S3 SlowDown on every page upload",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.SlowDown, Match: secondPagePut, Times: -1}),
		want:   connector.KindStorage, pages: -1, // the page after it may be in flight
	},
	{
		name: "S3 unreachable for 1.5s",
		inject: s3Fault(s3latency.Fault{Kind: s3latency.Refuse, Match: secondPagePut,
			For: 1500 * time.Millisecond}),
		orKind: connector.KindStorage, pages: -1, takeover: true,
	},
}

// wantTokenRequests checks how many times the run went to the token
// endpoint: once to start, once per refresh.
func wantTokenRequests(n int) func(*testing.T, *env, *runstate.Record, []connector.RetryEvent) {
	return func(t *testing.T, e *env, _ *runstate.Record, _ []connector.RetryEvent) {
		got := 0
		for _, r := range e.sim.Requests() {
			if r.Path == sfsim.TokenEndpoint {
				got++
			}
		}
		if got != n {
			t.Errorf("%d token requests, want %d", got, n)
		}
	}
}

// TestFaultMatrix runs one small extraction per fault the simulator and
// the S3 proxy can show. Each run must end done with exactly the
// simulator's records, or failed with the kind that names the fault and
// no manifest; never done with a record missing or doubled.
func TestFaultMatrix(t *testing.T) {
	start := time.Now()
	var rows []row
	for _, fc := range matrix {
		r := row{fault: fc.name}
		t.Run(fc.name, func(t *testing.T) { r = runCase(t, fc) })
		rows = append(rows, r)
	}
	rows = append(rows, killedWorkerRow(t), killedProcessRow(t))
	printMatrix(t, rows, time.Since(start))
}

func runCase(t *testing.T, fc faultCase) row {
	opts := fc.sim
	if opts.Users == 0 {
		opts.Users = users
	}
	var edits []func(*connector.DataType)
	if fc.edit != nil {
		edits = append(edits, fc.edit)
	}
	e := newEnv(t, opts, pageSize, edits...)
	want := e.expected(t)
	r := row{fault: fc.name, expected: len(want)}

	if fc.inject != nil {
		fc.inject(e)
	}
	var mu sync.Mutex
	var retries []connector.RetryEvent
	var runID string
	l := time.Duration(0) // the default, far beyond any retry here
	if fc.takeover {
		l = lease
	}
	c := e.connector(t, connector.Options{Lease: l, Observer: connector.ObserverFuncs{
		OnRunStarted: func(ev connector.RunEvent) {
			mu.Lock()
			runID = ev.RunID
			mu.Unlock()
		},
		OnRetry: func(ev connector.RetryEvent) {
			mu.Lock()
			retries = append(retries, ev)
			mu.Unlock()
		},
	}})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	began := time.Now()
	_, runErr := c.Run(ctx, dataType)
	e.secrets.checkText(t, "run error", fmt.Sprint(runErr))
	mu.Lock()
	id := runID
	mu.Unlock()
	if id == "" {
		t.Fatalf("the run never started: %v", runErr)
	}

	// The record in the store is what the ingestion side sees.
	stored, err := e.reader().Get(ctx, dataType, id)
	if err != nil {
		t.Fatalf("reading the state record back: %v", err)
	}
	r.outcome = string(stored.Status)
	if stored.Status == runstate.Running {
		if !fc.takeover {
			t.Fatalf("run left running: %v", runErr)
		}
		// The final state was not written: the run is another worker's
		// once the lease runs out.
		stored = e.takeOver(t, ctx, id)
		r.outcome = string(stored.Status) + "*"
		runErr = nil
		if stored.Error != nil {
			runErr = &connector.RunError{Kind: connector.ErrorKind(stored.Error.Kind)}
		}
	}
	r.elapsed = time.Since(began)
	if stored.Error != nil {
		r.kind = stored.Error.Kind
	}
	objs := e.objects(t, id)
	pages := 0
	for _, k := range objs {
		if strings.HasPrefix(k, "pages/") {
			pages++
		}
	}

	switch stored.Status {
	case runstate.Done:
		got, err := e.staged(t, stored)
		if err != nil {
			t.Fatalf("reading the done run: %v", err)
		}
		r.staged = len(got)
		r.missing, r.duplicates = compare(got, want)
		if runErr != nil {
			t.Errorf("run done but Run returned %v", runErr)
		}
		if fc.want != "" {
			t.Errorf("run done, want failed with kind %s", fc.want)
		}
		if r.missing != 0 || r.duplicates != 0 || stored.Records != int64(len(want)) {
			t.Errorf("done with %d records staged (%d missing, %d extra), record says %d; want %d",
				len(got), r.missing, r.duplicates, stored.Records, len(want))
		}
	case runstate.Failed:
		var re *connector.RunError
		if !errors.As(runErr, &re) || string(re.Kind) != r.kind {
			t.Errorf("Run returned %v, want a *RunError of kind %q", runErr, r.kind)
		}
		if want := fc.want; want == "" && fc.orKind == "" {
			t.Errorf("run failed (%s: %s), want done", r.kind, stored.Error.Message)
		} else if r.kind != string(want) && r.kind != string(fc.orKind) {
			t.Errorf("run failed with kind %q (%s), want %q", r.kind, stored.Error.Message, want)
		}
		if stored.Manifest != "" || slices.Contains(objs, "manifest.json") {
			t.Errorf("failed run has a manifest: %v", objs)
		}
		// A failed run yields no records to the ingestion side.
		for _, err := range e.reader().Records(ctx, stored) {
			if !errors.Is(err, runstate.ErrNotDone) {
				t.Errorf("reading a failed run: %v, want ErrNotDone", err)
			}
			break
		}
		if fc.pages >= 0 && pages != fc.pages {
			t.Errorf("failed run left %d pages %v, want %d", pages, objs, fc.pages)
		}
		r.staged = int(stored.Records)
	default:
		t.Errorf("run ended %s", stored.Status)
	}
	if fc.check != nil {
		mu.Lock()
		rs := slices.Clone(retries)
		mu.Unlock()
		fc.check(t, e, stored, rs)
	}
	e.checkNoLeaks(t, id)
	return r
}

// lease is short so that a run left running is taken over quickly.
const lease = 2 * time.Second

// takeOver starts a worker sharing the bucket and waits for it to end the
// run left running.
func (e *env) takeOver(t *testing.T, ctx context.Context, runID string) *runstate.Record {
	t.Helper()
	q := connector.NewS3Queue(e.store, e.layout(), e.cat.Names(), &connector.S3QueueOptions{Poll: 50 * time.Millisecond})
	c := e.connector(t, connector.Options{Queue: q, WorkerID: "rescuer", Lease: lease})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Start(wctx) }()
	defer func() { stop(); <-done }()
	rec, err := e.reader().Wait(ctx, dataType, runID, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("waiting for the takeover: %v", err)
	}
	if rec.Attempt < 2 {
		t.Errorf("run ended in attempt %d, want a takeover", rec.Attempt)
	}
	return rec
}

// printMatrix logs the matrix as a table; it is kept in the test output.
func printMatrix(t *testing.T, rows []row, total time.Duration) {
	var b strings.Builder
	fmt.Fprintf(&b, "fault matrix (%d runs, %v):\n", len(rows), total.Round(time.Millisecond))
	fmt.Fprintf(&b, "%-44s %-8s %-16s %-15s %-10s %s\n",
		"fault", "outcome", "error kind", "staged/expected", "duplicates", "time")
	for _, r := range rows {
		kind := r.kind
		if kind == "" {
			kind = "-"
		}
		fmt.Fprintf(&b, "%-44s %-8s %-16s %-15s %-10d %v\n", r.fault, r.outcome, kind,
			fmt.Sprintf("%d/%d", r.staged, r.expected), r.duplicates, r.elapsed.Round(time.Millisecond))
	}
	b.WriteString("* the final state write failed; another worker took the run over after the lease\n")
	t.Log("\n" + b.String())
}
