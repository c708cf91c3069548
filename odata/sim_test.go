package odata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/techwolf/sfconnector/internal/sfsim"
)

// simTransport authenticates to the simulator with a directly issued
// token and renews it on Refresh.
type simTransport struct {
	base http.RoundTripper
	sim  *sfsim.Server

	mu        sync.Mutex
	token     string
	refreshes int
}

func (st *simTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	st.mu.Lock()
	tok := st.token
	st.mu.Unlock()
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return st.base.RoundTrip(r)
}

func (st *simTransport) Refresh(context.Context) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.refreshes++
	st.token = st.sim.IssueToken("10000001")
	return nil
}

// newSim serves a simulator over TLS and returns a client for it.
func newSim(t *testing.T, users int, opts *Options) (*Client, *sfsim.Server, *simTransport) {
	t.Helper()
	sim := sfsim.New(sfsim.Options{Users: users, Seed: 7})
	srv := httptest.NewTLSServer(sim.Handler())
	t.Cleanup(srv.Close)
	st := &simTransport{base: srv.Client().Transport, sim: sim, token: sim.IssueToken("10000001")}
	o := Options{Retry: fastRetry}
	if opts != nil {
		o = *opts
	}
	c, err := NewClient(srv.URL+"/odata/v2", &http.Client{Transport: st}, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c, sim, st
}

func simUserIDs(sim *sfsim.Server) []string {
	var ids []string
	for _, r := range sim.Records("User") {
		ids = append(ids, fmt.Sprint(r["userId"]))
	}
	return ids
}

// Every paging mode reads every record exactly once, in key order.
func TestSimPagingModes(t *testing.T) {
	c, sim, _ := newSim(t, 2345, nil)
	want := simUserIDs(sim)
	if len(want) < 2000 {
		t.Fatalf("simulator holds %d users", len(want))
	}
	for _, q := range []Query{
		{Paging: PagingServer, PageSize: 400},
		{Paging: PagingServer},
		{Paging: PagingCursor, PageSize: 500},
		{Paging: PagingSnapshot, PageSize: 300, InlineCount: true},
		{Paging: PagingSkip, PageSize: 700, OrderBy: []string{"userId"}},
	} {
		q.EntitySet, q.Select = "User", []string{"userId", "lastModifiedDateTime"}
		t.Run(fmt.Sprintf("%s/%d", q.Paging, q.PageSize), func(t *testing.T) {
			pages, err := collect(t, c, q)
			if err != nil {
				t.Fatal(err)
			}
			if got := userIDs(pages); !reflect.DeepEqual(got, want) {
				t.Fatalf("%d ids, want %d; first %v", len(got), len(want), got[:min(3, len(got))])
			}
			size := q.PageSize
			if size == 0 {
				size = 1000
			}
			if n := (len(want) + size - 1) / size; len(pages) < n || len(pages) > n+1 {
				t.Errorf("%d pages of %d, want %d", len(pages), size, n)
			}
			if q.InlineCount && (!pages[0].HasCount || pages[0].Count != int64(len(want))) {
				t.Errorf("count %d %v", pages[0].Count, pages[0].HasCount)
			}
			for _, p := range pages {
				for _, r := range p.Records {
					if _, err := NormalizeDates(r, map[string]DateKind{"lastModifiedDateTime": EdmDateTimeOffset}); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// Faults from the simulator, one paging mode each, end in a complete read
// or in the right error.
func TestSimFaults(t *testing.T) {
	q := Query{EntitySet: "User", Select: []string{"userId"}, PageSize: 100, Paging: PagingSnapshot}
	for _, tc := range []struct {
		name  string
		fault sfsim.Fault
		want  error // nil: complete
	}{
		{"truncated", sfsim.Fault{Kind: sfsim.FaultTruncate, Page: 1}, nil},
		{"reset", sfsim.Fault{Kind: sfsim.FaultReset, Page: 2, AfterBytes: 300}, nil},
		{"maintenance", sfsim.Fault{Kind: sfsim.FaultMaintenance, Page: 1, Times: 2}, nil},
		{"throttled", sfsim.Fault{Kind: sfsim.FaultStatus, Status: 429, RetryAfter: "0", Page: 2}, nil},
		{"gateway html", sfsim.Fault{Kind: sfsim.FaultStatus, Status: 502, HTML: true, Page: 1}, nil},
		{"token rejected", sfsim.Fault{Kind: sfsim.FaultTokenRejected, Page: 2}, nil},
		{"snapshot lost", sfsim.Fault{Kind: sfsim.FaultSnapshotLost, Page: 2}, ErrSnapshotLost},
		{"foreign next", sfsim.Fault{Kind: sfsim.FaultForeignNext, Page: 1}, ErrUnsafeLink},
		{"loop", sfsim.Fault{Kind: sfsim.FaultLoopNext, Page: 1}, ErrLinkLoop},
		{"unavailable", sfsim.Fault{Kind: sfsim.FaultMaintenance, Page: 1, Times: -1}, ErrRetryable},
		{"bad request", sfsim.Fault{Kind: sfsim.FaultStatus, Status: 400, Page: 1, Times: -1}, ErrFatal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, sim, _ := newSim(t, 450, nil)
			sim.Inject(tc.fault)
			pages, err := collect(t, c, q)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := userIDs(pages); !reflect.DeepEqual(got, simUserIDs(sim)) {
					t.Fatalf("%d records, want %d", len(got), len(simUserIDs(sim)))
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// B12 over the simulator: every token expires mid-run; one refresh and
// the read goes on without restarting.
func TestSimTokenExpiry(t *testing.T) {
	for _, status := range []int{401, 403} {
		sim := sfsim.New(sfsim.Options{Users: 300, Seed: 7, ExpiredTokenStatus: status})
		srv := httptest.NewTLSServer(sim.Handler())
		defer srv.Close()
		st := &simTransport{base: srv.Client().Transport, sim: sim, token: sim.IssueToken("10000001")}
		c, err := NewClient(srv.URL+"/odata/v2", &http.Client{Transport: st}, &Options{Retry: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for p, err := range c.Pages(context.Background(), Query{EntitySet: "User", Select: []string{"userId"},
			PageSize: 100, Paging: PagingSnapshot}) {
			if err != nil {
				t.Fatalf("%d: %v", status, err)
			}
			if p.Index == 0 {
				sim.ExpireTokens()
			}
			ids = append(ids, userIDs([]*Page{p})...)
		}
		if !reflect.DeepEqual(ids, simUserIDs(sim)) || st.refreshes != 1 {
			t.Errorf("%d: %d records, %d refreshes", status, len(ids), st.refreshes)
		}
	}
}

// B01 over the simulator: a row deleted during $top/$skip paging is
// reported as a possibly incomplete read.
func TestSimSkipPagingWithDelete(t *testing.T) {
	c, sim, _ := newSim(t, 50, nil)
	q := Query{EntitySet: "User", Select: []string{"userId"}, Paging: PagingSkip, PageSize: 10,
		OrderBy: []string{"userId"}}
	var err error
	n := 0
	for p, e := range c.Pages(context.Background(), q) {
		if e != nil {
			err = e
			break
		}
		n += len(p.Records)
		if p.Index == 0 {
			if sim.Delete("User", "User('10000005')") != 1 {
				t.Fatal("delete failed")
			}
		}
	}
	var inc *IncompleteError
	if !errors.As(err, &inc) || inc.Expected != 50 || inc.Received != 49 || n != 49 {
		t.Fatalf("error %v, %d rows", err, n)
	}
}

// The run header reaches the simulator's request log.
func TestSimRunHeader(t *testing.T) {
	c, sim, _ := newSim(t, 30, nil)
	ctx := WithHeader(context.Background(), http.Header{"X-SFConnector-Run": {"r1/1/w1"}})
	for _, err := range c.Pages(ctx, Query{EntitySet: "User", PageSize: 10}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	reqs := sim.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	for _, r := range reqs {
		if r.RunHeader != "r1/1/w1" || !strings.HasPrefix(r.Path, "/odata/v2/User") {
			t.Errorf("request %+v", r)
		}
	}
}

// A read resumes from a saved Next link with PagesFrom.
func TestSimResume(t *testing.T) {
	c, sim, _ := newSim(t, 777, nil)
	for _, q := range []Query{
		{Paging: PagingSnapshot, PageSize: 150},
		{Paging: PagingServer, PageSize: 200},
		{Paging: PagingSkip, PageSize: 100, OrderBy: []string{"userId"}},
	} {
		q.EntitySet, q.Select = "User", []string{"userId"}
		var ids []string
		var checkpoint string
		idx := 0
		for p, err := range c.Pages(context.Background(), q) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, userIDs([]*Page{p})...)
			checkpoint, idx = p.Next, p.Index+1
			if p.Index == 1 {
				break
			}
		}
		for p, err := range c.PagesFrom(context.Background(), q, checkpoint, idx) {
			if err != nil {
				t.Fatalf("%s: %v", q.Paging, err)
			}
			if p.Index != idx {
				t.Fatalf("%s: index %d, want %d", q.Paging, p.Index, idx)
			}
			idx++
			ids = append(ids, userIDs([]*Page{p})...)
		}
		if !reflect.DeepEqual(ids, simUserIDs(sim)) {
			t.Errorf("%s: %d records after resuming, want %d", q.Paging, len(ids), len(simUserIDs(sim)))
		}
	}

	q := Query{EntitySet: "User"}
	for _, link := range []string{"https://evil.test/odata/v2/User?$skiptoken=1", "http://127.0.0.1:1/x"} {
		for _, err := range c.PagesFrom(context.Background(), q, link, 3) {
			if !errors.Is(err, ErrUnsafeLink) {
				t.Errorf("PagesFrom(%q): %v", link, err)
			}
		}
	}
	for _, err := range c.PagesFrom(context.Background(), Query{EntitySet: "User", Paging: PagingSkip,
		PageSize: 10, OrderBy: []string{"userId"}}, "/odata/v2/User?$skiptoken=1", 3) {
		if !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("skip resume without $skip: %v", err)
		}
	}
}
