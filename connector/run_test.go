package connector

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

func fastRetries() *odata.Options {
	return &odata.Options{Retry: odata.RetryPolicy{
		MaxAttempts: 3, BaseDelay: 5 * 1e6, MaxDelay: 50 * 1e6, DefaultRetryAfter: 10 * 1e6,
	}}
}

func TestRunStagesEveryDefaultDataType(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 60, Seed: 7})
	cat := smallPages(t, 40)
	c, store := env.connector(t, Options{Catalog: cat})
	ctx := context.Background()

	for _, name := range cat.Names() {
		t.Run(name, func(t *testing.T) {
			d, _ := cat.Lookup(name)
			rec, err := c.Run(ctx, name)
			if err != nil {
				t.Fatalf("Run: %v (record %+v)", err, rec)
			}
			if rec.Status != runstate.Done || rec.Manifest == "" {
				t.Fatalf("record %+v, want done with a manifest", rec)
			}
			got := stagedLines(t, store, env.cfg.S3BasePath, rec)
			want := expectedLines(t, d, env.sim.Records(d.EntitySet))
			if len(want) == 0 {
				t.Fatalf("the simulator holds no %s records", d.EntitySet)
			}
			sameLines(t, name, got, want)
			if rec.Records != int64(len(want)) {
				t.Errorf("record says %d records, want %d", rec.Records, len(want))
			}
		})
	}
}

// pageKeys lists the page objects a run left in the store.
func pageKeys(t *testing.T, store staging.Store, basePath, dataType, runID string) []string {
	t.Helper()
	prefix, err := staging.Layout{BasePath: basePath}.RunPrefix(dataType, runID)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := store.List(context.Background(), prefix+"pages/")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, strings.TrimPrefix(o.Key, prefix))
	}
	return keys
}

func readManifest(t *testing.T, store staging.Store, key string) *staging.Manifest {
	t.Helper()
	m, err := staging.ReadManifest(context.Background(), store, key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunHeaderNamesRunAttemptAndWorker(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 30})
	c, _ := env.connector(t, Options{Catalog: smallPages(t, 10), WorkerID: "worker-a"})
	rec, err := c.Run(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	want := rec.RunID + "/1/worker-a"
	n := 0
	for _, r := range env.sim.Requests() {
		if r.EntitySet == "" {
			continue
		}
		n++
		if r.RunHeader != want {
			t.Errorf("request %s?%s carries %q, want %q", r.Path, r.RawQuery, r.RunHeader, want)
		}
		if !strings.Contains(r.RawQuery, "paging=snapshot") {
			t.Errorf("request %s?%s does not ask for snapshot paging", r.Path, r.RawQuery)
		}
		if strings.Contains(r.RawQuery, "$skip=") {
			t.Errorf("request %s?%s pages with $skip", r.Path, r.RawQuery)
		}
	}
	if n != 3 { // 30 users, 10 a page
		t.Errorf("%d OData requests, want 3", n)
	}
}

func TestRunRestartsOnceAfterSnapshotLost(t *testing.T) {
	// Case B03: COE0019 means start over from the first page, once, and
	// list only the complete pass in the manifest.
	env := startSim(t, sfsim.Options{Users: 30})
	cat := smallPages(t, 10)
	c, store := env.connector(t, Options{Catalog: cat})
	d, _ := cat.Lookup("users")
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 2, Kind: sfsim.FaultSnapshotLost})

	rec, err := c.Run(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	m := readManifest(t, store, rec.Manifest)
	if len(m.Pages) != 3 || m.Records != 30 || m.Duplicates != 0 {
		t.Errorf("manifest lists %d pages, %d records, %d duplicates; want 3, 30, 0", len(m.Pages), m.Records, m.Duplicates)
	}
	sameLines(t, "users", stagedLines(t, store, env.cfg.S3BasePath, rec),
		expectedLines(t, d, env.sim.Records("User")))
	firstPages := 0
	for _, r := range env.sim.Requests() {
		if r.EntitySet == "User" && !strings.Contains(r.RawQuery, "skiptoken") {
			firstPages++
		}
	}
	if firstPages != 2 {
		t.Errorf("the first page was requested %d times, want 2", firstPages)
	}

	// Lost twice: the run fails rather than hammer SF.
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Kind: sfsim.FaultSnapshotLost, Times: 2})
	rec, err = c.Run(context.Background(), "users")
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindSnapshotLost {
		t.Fatalf("err = %v, want a RunError of kind snapshot_lost", err)
	}
	if rec.Status != runstate.Failed || rec.Error.Kind != "snapshot_lost" || rec.Manifest != "" {
		t.Errorf("record %+v", rec)
	}
}

func TestRunFailsWhenANextPageFails(t *testing.T) {
	// Case B05: a failed __next request fails the run; the page before it
	// is staged, no manifest is written.
	env := startSim(t, sfsim.Options{Users: 30})
	c, store := env.connector(t, Options{Catalog: smallPages(t, 10)})
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Times: -1, Status: 503, HTML: true})
	defer env.sim.ClearFaults()

	rec, err := c.Run(context.Background(), "users")
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindUnavailable {
		t.Fatalf("err = %v, want a RunError of kind sf_unavailable", err)
	}
	if rec.Status != runstate.Failed || rec.Manifest != "" {
		t.Errorf("record %+v, want failed without a manifest", rec)
	}
	if keys := pageKeys(t, store, env.cfg.S3BasePath, "users", rec.RunID); len(keys) != 1 {
		t.Errorf("staged pages %v, want the first only", keys)
	}
	mkey, _ := staging.Layout{BasePath: env.cfg.S3BasePath}.ManifestKey("users", rec.RunID)
	if _, err := store.Get(context.Background(), mkey); !errors.Is(err, staging.ErrNotFound) {
		t.Errorf("manifest of a failed run: %v", err)
	}
}

func TestRunRefreshesARejectedToken(t *testing.T) {
	// Case B12: a token rejected mid-run is refreshed once through the
	// run's transport, and the same page is asked for again.
	env := startSim(t, sfsim.Options{Users: 30})
	c, _ := env.connector(t, Options{Catalog: smallPages(t, 10)})
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Kind: sfsim.FaultTokenRejected})

	rec, err := c.Run(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Records != 30 {
		t.Errorf("%d records, want 30", rec.Records)
	}
	tokens := 0
	for _, r := range env.sim.Requests() {
		if r.Path == "/oauth/token" {
			tokens++
		}
	}
	if tokens != 2 {
		t.Errorf("%d token requests, want 2 (the first and one refresh)", tokens)
	}
}

func TestIncrementalRunStagesChangedRecords(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 60})
	cat := smallPages(t, 25)
	c, store := env.connector(t, Options{Catalog: cat, Overlap: time.Second})
	ctx := context.Background()

	for _, tc := range []struct{ dataType, entitySet string }{
		{"users", "User"}, {"job_information", "EmpJob"}, {"education", "Background_Education"},
	} {
		t.Run(tc.dataType, func(t *testing.T) {
			d, _ := cat.Lookup(tc.dataType)
			// Incremental without a done run is a full run.
			full, err := c.RunWith(ctx, tc.dataType, RunOptions{Incremental: true})
			if err != nil {
				t.Fatal(err)
			}
			if full.Mode != "full" || full.Since != nil {
				t.Errorf("first run mode %q since %v, want full", full.Mode, full.Since)
			}

			touched := env.sim.Touch(tc.entitySet, 4)
			inc, err := c.RunWith(ctx, tc.dataType, RunOptions{Incremental: true})
			if err != nil {
				t.Fatal(err)
			}
			if inc.Mode != "incremental" || inc.Since == nil || !inc.Since.Equal(full.Started.Add(-time.Second)) {
				t.Errorf("mode %q since %v, want incremental since %v", inc.Mode, inc.Since, full.Started.Add(-time.Second))
			}

			var changed []map[string]any
			for _, r := range env.sim.Records(tc.entitySet) {
				uri := r["__metadata"].(map[string]any)["uri"].(string)
				for _, k := range touched {
					if strings.HasSuffix(uri, "/"+k) {
						changed = append(changed, r)
					}
				}
			}
			if len(changed) != 4 {
				t.Fatalf("found %d touched records, want 4", len(changed))
			}
			sameLines(t, tc.dataType, stagedLines(t, store, env.cfg.S3BasePath, inc), expectedLines(t, d, changed))

			var saw bool
			for _, r := range env.sim.Requests() {
				if strings.HasPrefix(r.RunHeader, inc.RunID) && strings.Contains(r.RawQuery, "datetimeoffset") {
					saw = true
				}
			}
			if !saw {
				t.Error("no request of the incremental run filtered on a datetimeoffset literal")
			}
		})
	}
}

func TestSkipPagingReportsAChangedSet(t *testing.T) {
	// Case B01: $top/$skip paging over a set that changes loses rows. It
	// is used only when asked for, and a count that moved fails the run
	// as incomplete rather than passing for a full extract.
	env := startSim(t, sfsim.Options{Users: 30})
	users, _ := DefaultCatalog().Lookup("users")
	users.Paging, users.PageSize, users.OrderBy = "skip", 10, []string{"userId"}
	cat, err := NewCatalog(users)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	c, _ := env.connector(t, Options{Catalog: cat, PagesInFlight: 1, Observer: ObserverFuncs{
		OnPageWritten: func(PageEvent) {
			// A user on the first page leaves between two requests.
			once.Do(func() {
				uri := env.sim.Records("User")[0]["__metadata"].(map[string]any)["uri"].(string)
				env.sim.Delete("User", uri[strings.LastIndex(uri, "/")+1:])
			})
		},
	}})

	rec, err := c.Run(context.Background(), "users")
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindIncomplete {
		t.Fatalf("err = %v, want a RunError of kind incomplete", err)
	}
	if rec.Status != runstate.Failed || rec.Manifest != "" {
		t.Errorf("record %+v", rec)
	}
	for _, r := range env.sim.Requests() {
		if r.EntitySet == "User" && !strings.Contains(r.RawQuery, "$skip=") {
			t.Errorf("request without $skip: %s", r.RawQuery)
		}
	}
}

func TestRunFailureKinds(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 30})
	c, _ := env.connector(t, Options{Catalog: smallPages(t, 10)})
	for _, tc := range []struct {
		name  string
		fault sfsim.Fault
		want  ErrorKind // "" means the run recovers
	}{
		{"foreign next link", sfsim.Fault{EntitySet: "User", Kind: sfsim.FaultForeignNext}, KindBadResponse},
		{"bad property", sfsim.Fault{EntitySet: "User", Status: 400, Body: `{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: User/x."}}}`}, KindBadRequest},
		{"forbidden", sfsim.Fault{EntitySet: "User", Status: 403, Body: `{"error":{"code":"LGN0002","message":{"lang":"en-US","value":"[LGN0002]No permission"}}}`}, KindAuth},
		{"throttled", sfsim.Fault{EntitySet: "User", Page: 1, Times: -1, Status: 429, RetryAfter: "0"}, KindThrottled},
		{"truncated body, then whole", sfsim.Fault{EntitySet: "User", Page: 1, Kind: sfsim.FaultTruncate}, ""},
		{"connection reset, then whole", sfsim.Fault{EntitySet: "User", Page: 2, Kind: sfsim.FaultReset, AfterBytes: 40}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env.sim.ClearFaults()
			env.sim.Inject(tc.fault)
			defer env.sim.ClearFaults()
			rec, err := c.Run(context.Background(), "users")
			if tc.want == "" {
				if err != nil || rec.Records != 30 {
					t.Fatalf("Run = %+v, %v; want 30 records", rec, err)
				}
				return
			}
			var re *RunError
			if !errors.As(err, &re) || re.Kind != tc.want {
				t.Fatalf("err = %v, want a RunError of kind %s", err, tc.want)
			}
			if rec.Status != runstate.Failed || rec.Error.Kind != string(tc.want) || rec.Manifest != "" {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

func TestRunRestartsWithSmallerPagesAfterGatewayTimeouts(t *testing.T) {
	// Case B14 on a later page: SF fixes customPageSize with the first
	// request, so a page that keeps timing out at the gateway is read
	// again from page 1 with half the size, into the same attempt's pages.
	env := startSim(t, sfsim.Options{Users: 250})
	cat := smallPages(t, 100)
	c, store := env.connector(t, Options{Catalog: cat})
	d, _ := cat.Lookup("users")
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Times: 3, Status: 504, HTML: true})

	rec, err := c.Run(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != runstate.Done || rec.Records != 250 || rec.Pages != 5 {
		t.Errorf("record: %s, %d records, %d pages; want done, 250, 5", rec.Status, rec.Records, rec.Pages)
	}
	m := readManifest(t, store, rec.Manifest)
	if len(m.Pages) != 5 || m.Records != 250 || m.Duplicates != 0 || !strings.Contains(m.Query, "customPageSize=50") {
		t.Errorf("manifest lists %d pages, %d records, %d duplicates, query %s; want 5, 250, 0, customPageSize=50",
			len(m.Pages), m.Records, m.Duplicates, m.Query)
	}
	if keys := pageKeys(t, store, env.cfg.S3BasePath, "users", rec.RunID); len(keys) != 5 {
		t.Errorf("staged pages %v, want the 5 of the restarted read", keys)
	}
	sameLines(t, "users", stagedLines(t, store, env.cfg.S3BasePath, rec),
		expectedLines(t, d, env.sim.Records("User")))

	var sizes []string
	for _, r := range env.sim.Requests() {
		if r.EntitySet != "User" {
			continue
		}
		v, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			t.Fatal(err)
		}
		if v.Get("$inlinecount") != "allpages" && v.Get("$skiptoken") == "" {
			t.Errorf("first page without $inlinecount: %s", r.RawQuery)
		}
		size := v.Get("customPageSize")
		if v.Get("$skiptoken") == "" {
			size = "first:" + size
		}
		sizes = append(sizes, size)
	}
	want := []string{"first:100", "100", "100", "100", "first:50", "50", "50", "50", "50"}
	if !slices.Equal(sizes, want) {
		t.Errorf("page sizes asked %v, want %v", sizes, want)
	}
}

func TestRunGatewayRestartsAreBounded(t *testing.T) {
	// A page that always times out: the page size halves at most three
	// times in all, then the run fails as SF unavailable.
	env := startSim(t, sfsim.Options{Users: 1000})
	c, store := env.connector(t, Options{Catalog: smallPages(t, 800)})
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Times: -1, Status: 502, HTML: true})
	defer env.sim.ClearFaults()

	rec, err := c.Run(context.Background(), "users")
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindUnavailable || !errors.Is(err, odata.ErrRestart) {
		t.Fatalf("err = %v, want a RunError of kind sf_unavailable after restarts", err)
	}
	if rec.Status != runstate.Failed || rec.Manifest != "" {
		t.Errorf("record %+v", rec)
	}
	var firsts []string
	for _, r := range env.sim.Requests() {
		if r.EntitySet == "User" && !strings.Contains(r.RawQuery, "skiptoken") {
			v, _ := url.ParseQuery(r.RawQuery)
			firsts = append(firsts, v.Get("customPageSize"))
		}
	}
	if want := []string{"800", "400", "200", "100"}; !slices.Equal(firsts, want) {
		t.Errorf("first pages asked with sizes %v, want %v", firsts, want)
	}
	mkey, _ := staging.Layout{BasePath: env.cfg.S3BasePath}.ManifestKey("users", rec.RunID)
	if _, err := store.Get(context.Background(), mkey); !errors.Is(err, staging.ErrNotFound) {
		t.Errorf("manifest of a failed run: %v", err)
	}
}

func TestServerPagingReportsAChangedSet(t *testing.T) {
	// Case B01 with server-driven paging: a user who leaves mid-read
	// makes the rows received differ from the count on the first page,
	// and the run fails as incomplete, in server mode as with $skip.
	env := startSim(t, sfsim.Options{Users: 30})
	users, _ := DefaultCatalog().Lookup("users")
	users.Paging, users.PageSize = "server", 10
	cat, err := NewCatalog(users)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	c, _ := env.connector(t, Options{Catalog: cat, PagesInFlight: 1, Observer: ObserverFuncs{
		OnPageWritten: func(PageEvent) {
			once.Do(func() {
				uri := env.sim.Records("User")[0]["__metadata"].(map[string]any)["uri"].(string)
				env.sim.Delete("User", uri[strings.LastIndex(uri, "/")+1:])
			})
		},
	}})

	rec, err := c.Run(context.Background(), "users")
	var re *RunError
	var inc *odata.IncompleteError
	if !errors.As(err, &re) || re.Kind != KindIncomplete || !errors.As(err, &inc) ||
		inc.Expected != 30 || inc.Received != 29 || inc.Paging != odata.PagingServer {
		t.Fatalf("err = %v, want a RunError of kind incomplete, 30 counted, 29 received", err)
	}
	if rec.Status != runstate.Failed || rec.Error.Kind != "incomplete" || rec.Manifest != "" {
		t.Errorf("record %+v", rec)
	}
}
