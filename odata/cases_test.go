package odata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// B06: a __next link must keep the service's scheme, host and port.
func TestB06NextLinkOrigin(t *testing.T) {
	cases := []struct {
		name, next string
		ok         bool
	}{
		{"default port", "https://api.example-sf.test:443/odata/v2/User?$skiptoken=x", true},
		{"upper-case host", "https://API.Example-SF.test/odata/v2/User?$skiptoken=x", true},
		{"relative", "/odata/v2/User?$skiptoken=x", true},
		{"http", "http://api.example-sf.test/odata/v2/User?$skiptoken=x", false},
		{"other host", "https://evil.test/odata/v2/User?$skiptoken=x", false},
		{"other port", "https://api.example-sf.test:8443/odata/v2/User?$skiptoken=x", false},
		{"user info", "https://u:p@api.example-sf.test/odata/v2/User?$skiptoken=x", false},
		{"scheme-relative", "//evil.test/odata/v2/User?$skiptoken=x", false},
		{"other scheme", "ftp://api.example-sf.test/odata/v2/User?$skiptoken=x", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture{
				"/odata/v2/User?$format=json": jsonBody(200,
					`{"d":{"results":[{"userId":"u1"}],"__next":"`+tc.next+`"}}`),
				"/odata/v2/User?$skiptoken=x": jsonBody(200, `{"d":{"results":[{"userId":"u2"}]}}`),
			}
			c, log, _ := sfServer(t, f.handle, nil)
			pages, err := collect(t, c, Query{EntitySet: "User"})
			if tc.ok {
				if err != nil || len(pages) != 2 {
					t.Fatalf("pages %d, err %v", len(pages), err)
				}
				return
			}
			if !errors.Is(err, ErrUnsafeLink) || KindOf(err) != KindFatal {
				t.Fatalf("error %v, want ErrUnsafeLink", err)
			}
			if len(pages) != 1 {
				t.Errorf("%d pages before the refusal", len(pages))
			}
			if got := log.all(); len(got) != 1 {
				t.Errorf("requests sent: %v", got)
			}
		})
	}
}

// Redirects may not leave the service either: the token transport would
// send the bearer token along.
func TestRedirectToOtherHostRefused(t *testing.T) {
	f := fixture{
		"/odata/v2/User?$format=json": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.test/steal", http.StatusFound)
		},
		"/odata/v2/Same?$format=json": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/odata/v2/User2?$format=json", http.StatusFound)
		},
		"/odata/v2/User2?$format=json": jsonBody(200, `{"d":{"results":[{"userId":"r"}]}}`),
	}
	c, log, _ := sfServer(t, f.handle, nil)
	_, err := collect(t, c, Query{EntitySet: "User"})
	if !errors.Is(err, ErrUnsafeLink) || KindOf(err) != KindFatal {
		t.Fatalf("error %v", err)
	}
	if n := len(log.all()); n != 1 {
		t.Errorf("%d requests", n)
	}
	pages, err := collect(t, c, Query{EntitySet: "Same"})
	if err != nil || len(pages) != 1 {
		t.Fatalf("same-host redirect: %d pages, %v", len(pages), err)
	}
}

// B12: a 401 or a 403 naming an expired token triggers one refresh and one
// retry of the same URL; paging goes on from there.
func TestB12TokenExpiresMidRun(t *testing.T) {
	next := "/odata/v2/User?$format=json&$skiptoken=p2"
	for _, tc := range []struct {
		status int
		code   string
	}{
		{401, "LGN0022"}, {403, "LGN0006"}, {403, "LGN0007"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			var tt *tokenTransport
			f := fixture{
				"/odata/v2/User?$format=json": jsonBody(200, `{"d":{"results":[{"userId":"u1"}],`+
					`"__next":"https://api.example-sf.test:443`+next+`"}}`),
				next: func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("Authorization") == "Bearer tok-1" {
						jsonBody(tc.status, `{"error":{"code":"`+tc.code+`","message":{"lang":"en-US",`+
							`"value":"[`+tc.code+`]The access token is either rejected or expired"}}}`)(w, r)
						return
					}
					jsonBody(200, `{"d":{"results":[{"userId":"u2"}]}}`)(w, r)
				},
			}
			var events []RetryEvent
			c, log, tr := sfServer(t, f.handle, &Options{Retry: fastRetry,
				OnRetry: func(e RetryEvent) { events = append(events, e) }})
			tt = tr
			pages, err := collect(t, c, Query{EntitySet: "User"})
			if err != nil {
				t.Fatal(err)
			}
			if got := userIDs(pages); !reflect.DeepEqual(got, []string{"u1", "u2"}) {
				t.Errorf("records %v", got)
			}
			if tt.refreshCount() != 1 {
				t.Errorf("%d refreshes", tt.refreshCount())
			}
			want := []string{"/odata/v2/User?$format=json", next, next}
			if got := log.all(); !reflect.DeepEqual(got, want) {
				t.Errorf("requests %v, want %v", got, want)
			}
			if len(events) != 1 || events[0].Status != tc.status || events[0].Wait != 0 {
				t.Errorf("retry events %+v", events)
			}
		})
	}
}

// B12: a second auth failure after the refresh is returned, not retried.
func TestB12SecondAuthFailureIsFinal(t *testing.T) {
	f := fixture{"/odata/v2/User?$format=json": jsonBody(401,
		`{"error":{"code":"LGN0022","message":{"lang":"en-US","value":"[LGN0022]The access token is either rejected or expired"}}}`)}
	c, log, tt := sfServer(t, f.handle, nil)
	_, err := collect(t, c, Query{EntitySet: "User"})
	if !errors.Is(err, ErrAuthExpired) {
		t.Fatalf("error %v", err)
	}
	if n := len(log.all()); n != 2 || tt.refreshCount() != 1 {
		t.Errorf("%d requests, %d refreshes; want 2 and 1", n, tt.refreshCount())
	}
	for _, a := range log.auth {
		if strings.Contains(err.Error(), strings.TrimPrefix(a, "Bearer ")) {
			t.Errorf("error names the token: %v", err)
		}
	}
}

// Other 403s are fatal and never retried; so are 400s.
func TestForbiddenAndBadRequestNotRetried(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{403, `{"error":{"code":"LGN0002","message":{"value":"[LGN0002]no OData API permission"}}}`},
		{400, `{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"value":"[COE0021]Invalid property names: EmpJob/jobCde."}}}`},
		{404, `{"error":{"code":"COE_ENTITY_NOT_FOUND","message":{"value":"[COE0007]invalid entity"}}}`},
	} {
		f := fixture{"/odata/v2/EmpJob?$format=json": jsonBody(tc.status, tc.body)}
		c, log, tt := sfServer(t, f.handle, nil)
		_, err := collect(t, c, Query{EntitySet: "EmpJob"})
		if KindOf(err) != KindFatal || len(log.all()) != 1 || tt.refreshCount() != 0 {
			t.Errorf("%d: kind %v, %d requests, %d refreshes", tc.status, KindOf(err),
				len(log.all()), tt.refreshCount())
		}
	}
}

// B13: 429 waits follow Retry-After (seconds or HTTP date) or the default.
func TestB13Throttling(t *testing.T) {
	now := time.Date(2024, 5, 1, 10, 28, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, header string
		min, max     time.Duration
	}{
		{"seconds", "120", 120 * time.Second, 121 * time.Second},
		{"http date", "Wed, 01 May 2024 10:30:00 GMT", 120 * time.Second, 121 * time.Second},
		{"absent", "", 300 * time.Second, 301 * time.Second},
		{"past date", "Wed, 01 May 2024 10:00:00 GMT", 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fixture{"/odata/v2/User?$format=json": sequence(
				func(w http.ResponseWriter, r *http.Request) {
					if tc.header != "" {
						w.Header().Set("Retry-After", tc.header)
					}
					jsonBody(429, `{"error":{"code":"LIMIT","message":{"value":"API calling limit exceeded, Try later"}}}`)(w, r)
				},
				jsonBody(200, `{"d":{"results":[{"userId":"u1"}]}}`))}
			var events []RetryEvent
			// Production defaults, but no real sleeping.
			c, log, _ := sfServer(t, f.handle, &Options{OnRetry: func(e RetryEvent) { events = append(events, e) }})
			var slept []time.Duration
			c.now = func() time.Time { return now }
			c.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }

			pages, err := collect(t, c, Query{EntitySet: "User"})
			if err != nil || len(pages) != 1 {
				t.Fatalf("pages %d, err %v", len(pages), err)
			}
			if len(slept) != 1 || slept[0] < tc.min || slept[0] > tc.max {
				t.Errorf("slept %v, want in [%v, %v]", slept, tc.min, tc.max)
			}
			if len(events) != 1 || events[0].Status != 429 || events[0].Wait != slept[0] {
				t.Errorf("events %+v", events)
			}
			if n := len(log.all()); n != 2 {
				t.Errorf("%d requests", n)
			}
		})
	}
}

// The default 429 wait is settable, and waits are bounded in total.
func TestRetryBounds(t *testing.T) {
	f := fixture{"/odata/v2/User?$format=json": jsonBody(429, `{}`)}
	pol := fastRetry
	pol.MaxAttempts = 100
	pol.DefaultRetryAfter = 40 * time.Millisecond
	pol.MaxDelay = time.Second
	pol.MaxElapsed = 100 * time.Millisecond
	c, log, _ := sfServer(t, f.handle, &Options{Retry: pol})

	// A fake clock that only sleeping moves: waits of 40-41ms fit twice
	// into 100ms.
	var mu sync.Mutex
	clock := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	c.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		if d < 40*time.Millisecond || d > 41*time.Millisecond {
			t.Errorf("wait %v", d)
		}
		clock = clock.Add(d)
		return nil
	}
	_, err := collect(t, c, Query{EntitySet: "User"})
	if KindOf(err) != KindRetryable {
		t.Fatalf("error %v", err)
	}
	if n := len(log.all()); n != 3 {
		t.Errorf("%d requests within a 100ms budget of 40ms waits, want 3", n)
	}
}

// Sleeps honour the context.
func TestRetrySleepHonoursContext(t *testing.T) {
	f := fixture{"/odata/v2/User?$format=json": jsonBody(503, `{}`)}
	pol := fastRetry
	pol.BaseDelay, pol.MaxDelay = time.Hour, time.Hour
	pol.MaxElapsed = 10 * time.Hour
	c, _, _ := sfServer(t, f.handle, &Options{Retry: pol})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	var err error
	for _, e := range c.Pages(ctx, Query{EntitySet: "User"}) {
		err = e
	}
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("error %v after %v", err, time.Since(start))
	}
}

// B14: a 502/504 on the first page halves customPageSize for the retry.
func TestB14HalvePageSizeOnGatewayTimeout(t *testing.T) {
	q := Query{EntitySet: "EmpJob", Expand: []string{"employmentNav", "positionNav"},
		PageSize: 1000, Paging: PagingSnapshot}
	base := "/odata/v2/EmpJob?$format=json&$expand=employmentNav,positionNav&paging=snapshot&customPageSize="
	f := fixture{
		base + "1000": htmlBody(504, "<html><body><h1>504 Gateway Time-out</h1></body></html>"),
		base + "500":  htmlBody(502, "<html>Bad Gateway</html>"),
		base + "250": jsonBody(200, `{"d":{"results":[{"userId":"u1"}],`+
			`"__next":"https://api.example-sf.test/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize=250&$skiptoken=s2"}}`),
		"/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize=250&$skiptoken=s2": sequence(
			htmlBody(504, "<html>Gateway Time-out</html>"),
			jsonBody(200, `{"d":{"results":[{"userId":"u2"}]}}`)),
	}
	c, log, _ := sfServer(t, f.handle, nil)
	pages, err := collect(t, c, q)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{base + "1000", base + "500", base + "250",
		"/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize=250&$skiptoken=s2",
		"/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize=250&$skiptoken=s2"}
	if got := log.all(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if pages[0].URL != "https://api.example-sf.test"+base+"250" {
		t.Errorf("page 0 URL %q", pages[0].URL)
	}
}

// In snapshot mode a retry wait that would outlast the snapshot ends the
// read as restartable instead of waiting for a certain COE0019.
func TestSnapshotRetryWaitPastGap(t *testing.T) {
	f := fixture{
		"/odata/v2/User?$format=json&paging=snapshot": jsonBody(200, `{"d":{"results":[{"userId":"u1"}],`+
			`"__next":"/odata/v2/User?$skiptoken=s2"}}`),
		"/odata/v2/User?$skiptoken=s2": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "1200")
			jsonBody(429, `{}`)(w, r)
		},
	}
	pol := fastRetry
	pol.MaxDelay, pol.MaxElapsed = time.Hour, time.Hour
	c, log, _ := sfServer(t, f.handle, &Options{Retry: pol})
	c.sleep = func(context.Context, time.Duration) error { t.Error("slept"); return nil }
	_, err := collect(t, c, Query{EntitySet: "User", Paging: PagingSnapshot})
	if !errors.Is(err, ErrSnapshotLost) {
		t.Fatalf("error %v", err)
	}
	if n := log.count("/odata/v2/User?$skiptoken=s2"); n != 1 {
		t.Errorf("%d requests of page 2", n)
	}
}

// B19: a cut-off or non-JSON 200 body is retried on the same URL, never
// taken as an empty or short page.
func TestB19TruncatedBodyRetried(t *testing.T) {
	truncated := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"d":{"results":[{"userId":"c1"},{"userId":"c2"`))
	}
	next := "/odata/v2/User?$skiptoken=c"
	f := fixture{
		"/odata/v2/User?$format=json": jsonBody(200, `{"d":{"results":[{"userId":"b1"}],"__next":"`+next+`"}}`),
		next: sequence(truncated, htmlBody(503, "<html>maintenance</html>"),
			htmlBody(200, "<html>login</html>"),
			jsonBody(200, `{"d":{"results":[{"userId":"c1"},{"userId":"c2"}]}}`)),
	}
	var events []RetryEvent
	c, log, _ := sfServer(t, f.handle, &Options{Retry: fastRetry,
		OnRetry: func(e RetryEvent) { events = append(events, e) }})
	pages, err := collect(t, c, Query{EntitySet: "User"})
	if err != nil {
		t.Fatal(err)
	}
	if got := userIDs(pages); !reflect.DeepEqual(got, []string{"b1", "c1", "c2"}) {
		t.Errorf("records %v", got)
	}
	if n := log.count(next); n != 4 {
		t.Errorf("page 2 requested %d times, want 4", n)
	}
	if len(events) != 3 || events[0].URL != "https://api.example-sf.test"+next {
		t.Errorf("events %+v", events)
	}
	if !errors.Is(events[0].Err, ErrMalformedBody) || !strings.Contains(events[0].Err.Error(), "unexpected EOF") {
		t.Errorf("first retry cause %v", events[0].Err)
	}
}

// B19: a body that never decodes fails the read; no page is yielded.
func TestB19TruncatedBodyExhausted(t *testing.T) {
	f := fixture{"/odata/v2/User?$format=json": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"d":{"results":[{"userId":"c1"},{"userId":"c2"`))
	}}
	c, _, _ := sfServer(t, f.handle, nil)
	pages, err := collect(t, c, Query{EntitySet: "User"})
	if len(pages) != 0 || KindOf(err) != KindRetryable {
		t.Fatalf("%d pages, error %v", len(pages), err)
	}
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 200 || e.Attempts != fastRetry.MaxAttempts {
		t.Errorf("error %#v", err)
	}
}

// Connection resets and timeouts are retried.
func TestTransportFaultsRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	h := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1: // reset mid-body
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "500")
			w.Write([]byte(`{"d":{"results":[`))
			w.(http.Flusher).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		case 2: // reset before a response
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		case 3: // too slow for the client timeout
			<-r.Context().Done()
		default:
			jsonBody(200, `{"d":{"results":[{"userId":"ok"}]}}`)(w, r)
		}
	}
	pol := fastRetry
	pol.MaxAttempts = 5
	var events []RetryEvent
	c, _, _ := sfServer(t, h, &Options{Retry: pol, OnRetry: func(e RetryEvent) { events = append(events, e) }})
	c.hc.Timeout = time.Second
	pages, err := collect(t, c, Query{EntitySet: "User"})
	if err != nil || len(pages) != 1 {
		t.Fatalf("pages %d, err %v", len(pages), err)
	}
	if len(events) != 3 {
		t.Errorf("%d retries: %+v", len(events), events)
	}
}

// B20 (a): an empty result is a success with zero rows.
func TestB20EmptyResult(t *testing.T) {
	f := fixture{"/odata/v2/User?$format=json&$inlinecount=allpages": jsonBody(200, `{"d":{"__count":"0","results":[]}}`)}
	c, _, _ := sfServer(t, f.handle, nil)
	pages, err := collect(t, c, Query{EntitySet: "User", InlineCount: true})
	if err != nil || len(pages) != 1 || len(pages[0].Records) != 0 || !pages[0].HasCount || pages[0].Count != 0 {
		t.Fatalf("pages %+v, err %v", pages, err)
	}
}

// B20 (b): __count as a string or a number.
func TestB20CountStringOrNumber(t *testing.T) {
	for _, count := range []string{`"2417"`, `2417`} {
		f := fixture{"/odata/v2/User?$format=json&$inlinecount=allpages": jsonBody(200,
			`{"d":{"__count":`+count+`,"results":[{"userId":"a"}],"__next":"/odata/v2/User?$skiptoken=2"}}`),
			"/odata/v2/User?$skiptoken=2": jsonBody(200, `{"d":{"results":[{"userId":"b"}]}}`)}
		c, _, _ := sfServer(t, f.handle, nil)
		pages, err := collect(t, c, Query{EntitySet: "User", InlineCount: true})
		if len(pages) != 2 || !pages[0].HasCount || pages[0].Count != 2417 || pages[1].HasCount {
			t.Fatalf("count %s: pages %+v, err %v", count, pages, err)
		}
		// Two rows against a count of 2417: the read cannot pass for
		// complete.
		var inc *IncompleteError
		if !errors.As(err, &inc) || inc.Expected != 2417 || inc.Received != 2 || inc.Paging != PagingServer {
			t.Fatalf("count %s: error %v, want *IncompleteError 2417/2", count, err)
		}
	}
}

// B20 (c): a single entity.
func TestB20cSingleEntity(t *testing.T) {
	f := fixture{
		"/odata/v2/User('x')?$format=json&$select=userId": jsonBody(200,
			`{"d":{"__metadata":{"uri":"https://api.example-sf.test:443/odata/v2/User('x')","type":"SFOData.User"},"userId":"x"}}`),
		"/odata/v2/EmpJob(seqNumber=1L,startDate=datetime'2020-03-02T00:00:00',userId='O''Neil%2F1')?$format=json": jsonBody(200,
			`{"d":{"userId":"O'Neil/1"}}`),
		"/odata/v2/User('gone')?$format=json": jsonBody(404, `{"error":{"code":"NOT_FOUND","message":{"value":"no such user"}}}`),
		"/odata/v2/User('list')?$format=json": jsonBody(200, `{"d":{"results":[]}}`),
	}
	c, _, _ := sfServer(t, f.handle, nil)
	ctx := context.Background()
	rec, err := c.Entity(ctx, Query{EntitySet: "User", Select: []string{"userId"}}, KeyPart{Value: String("x")})
	if err != nil {
		t.Fatal(err)
	}
	if recordField(rec, "userId") != "x" || !json.Valid(rec) || !strings.Contains(string(rec), "SFOData.User") {
		t.Errorf("entity %s", rec)
	}
	rec, err = c.Entity(ctx, Query{EntitySet: "EmpJob"}, KeyPart{"seqNumber", Int64(1)},
		KeyPart{"startDate", DateTime(time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC))},
		KeyPart{"userId", String("O'Neil/1")})
	if err != nil || recordField(rec, "userId") != "O'Neil/1" {
		t.Errorf("composite key: %s, %v", rec, err)
	}
	if _, err := c.Entity(ctx, Query{EntitySet: "User"}, KeyPart{Value: String("gone")}); KindOf(err) != KindFatal {
		t.Errorf("missing entity: %v", err)
	}
	if _, err := c.Entity(ctx, Query{EntitySet: "User"}); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("empty key: %v", err)
	}
	if _, err := c.Entity(ctx, Query{EntitySet: "User"}, KeyPart{Name: "a b", Value: Int(1)}); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("bad key name: %v", err)
	}
}

// B20 (d): empty pages with __next are followed, a bounded number of
// times; a repeated link is an error.
func TestB20dEmptyPagesAndLoops(t *testing.T) {
	z := "https://api.example-sf.test:443/odata/v2/User?$skiptoken=z"
	t.Run("followed", func(t *testing.T) {
		f := fixture{
			"/odata/v2/User?$format=json": jsonBody(200, `{"d":{"results":[],"__next":"`+z+`"}}`),
			"/odata/v2/User?$skiptoken=z": jsonBody(200, `{"d":{"results":[{"userId":"late"}]}}`),
		}
		c, _, _ := sfServer(t, f.handle, nil)
		pages, err := collect(t, c, Query{EntitySet: "User"})
		if err != nil || len(pages) != 2 || userIDs(pages)[0] != "late" {
			t.Fatalf("pages %d, err %v", len(pages), err)
		}
	})
	t.Run("same link twice", func(t *testing.T) {
		f := fixture{
			"/odata/v2/User?$format=json": jsonBody(200, `{"d":{"results":[],"__next":"`+z+`"}}`),
			"/odata/v2/User?$skiptoken=z": jsonBody(200, `{"d":{"results":[{"userId":"a"}],"__next":"`+z+`"}}`),
		}
		c, log, _ := sfServer(t, f.handle, nil)
		pages, err := collect(t, c, Query{EntitySet: "User"})
		if !errors.Is(err, ErrLinkLoop) || len(pages) != 2 || len(log.all()) != 2 {
			t.Fatalf("pages %d, requests %d, err %v", len(pages), len(log.all()), err)
		}
	})
	t.Run("endless empty pages", func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		h := func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			n++
			k := n
			mu.Unlock()
			jsonBody(200, `{"d":{"results":[],"__next":"/odata/v2/User?$skiptoken=`+string(rune('a'+k))+`"}}`)(w, r)
		}
		c, log, _ := sfServer(t, h, &Options{Retry: fastRetry, MaxEmptyPages: 3})
		pages, err := collect(t, c, Query{EntitySet: "User"})
		if !errors.Is(err, ErrEmptyPages) || len(pages) != 4 || len(log.all()) != 4 {
			t.Fatalf("pages %d, requests %d, err %v", len(pages), len(log.all()), err)
		}
	})
}

// B01: $top/$skip paging over a changing set reports a possibly
// incomplete result instead of success.
func TestB01SkipPagingPossiblyIncomplete(t *testing.T) {
	base := "/odata/v2/User?$format=json&$orderby=userId"
	f := fixture{
		base + "&$inlinecount=allpages&$top=2&$skip=0": jsonBody(200,
			`{"d":{"__count":"5","results":[{"userId":"u1"},{"userId":"u2"}]}}`),
		// u2 was deleted: u3 slid to index 1 and is never seen.
		base + "&$top=2&$skip=2": jsonBody(200, `{"d":{"results":[{"userId":"u4"},{"userId":"u5"}]}}`),
		base + "&$top=2&$skip=4": jsonBody(200, `{"d":{"results":[]}}`),
	}
	var logBuf strings.Builder
	c, _, _ := sfServer(t, f.handle, &Options{Retry: fastRetry, Logger: newTextLogger(&logBuf)})
	pages, err := collect(t, c, Query{EntitySet: "User", Paging: PagingSkip, PageSize: 2, OrderBy: []string{"userId"}})
	if got := userIDs(pages); !reflect.DeepEqual(got, []string{"u1", "u2", "u4", "u5"}) {
		t.Errorf("records %v", got)
	}
	var inc *IncompleteError
	if !errors.As(err, &inc) || !errors.Is(err, ErrPossiblyIncomplete) {
		t.Fatalf("error %v, want *IncompleteError", err)
	}
	if inc.Expected != 5 || inc.Received != 4 {
		t.Errorf("expected %d received %d", inc.Expected, inc.Received)
	}
	if !strings.Contains(logBuf.String(), "level=WARN") || !strings.Contains(logBuf.String(), "$top/$skip") {
		t.Errorf("no warning logged: %q", logBuf.String())
	}
}

// $top/$skip paging whose count matches succeeds; a query without an
// order is refused before any request.
func TestSkipPagingComplete(t *testing.T) {
	base := "/odata/v2/User?$format=json&$orderby=userId"
	f := fixture{
		base + "&$inlinecount=allpages&$top=2&$skip=0": jsonBody(200,
			`{"d":{"__count":"3","results":[{"userId":"u1"},{"userId":"u2"}]}}`),
		base + "&$top=2&$skip=2": jsonBody(200, `{"d":{"results":[{"userId":"u3"}]}}`),
	}
	c, log, _ := sfServer(t, f.handle, nil)
	pages, err := collect(t, c, Query{EntitySet: "User", Paging: PagingSkip, PageSize: 2, OrderBy: []string{"userId"}})
	if err != nil || len(pages) != 2 || pages[1].Index != 1 {
		t.Fatalf("pages %d, err %v", len(pages), err)
	}
	_, err = collect(t, c, Query{EntitySet: "User", Paging: PagingSkip, PageSize: 2})
	if !errors.Is(err, ErrInvalidQuery) || len(log.all()) != 2 {
		t.Errorf("no order: %v", err)
	}
}

// A runaway body ends with a clear error and is not retried.
func TestMaxResponseBytes(t *testing.T) {
	big := `{"d":{"results":[` + strings.Repeat(`{"userId":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},`, 100) + `{}]}}`
	f := fixture{"/odata/v2/User?$format=json": jsonBody(200, big)}
	c, log, _ := sfServer(t, f.handle, &Options{Retry: fastRetry, MaxResponseBytes: 1000})
	_, err := collect(t, c, Query{EntitySet: "User"})
	if !errors.Is(err, ErrTooLarge) || KindOf(err) != KindFatal || len(log.all()) != 1 {
		t.Fatalf("error %v, %d requests", err, len(log.all()))
	}
	if !strings.Contains(err.Error(), "1000 bytes") {
		t.Errorf("message %q", err)
	}
	c, _, _ = sfServer(t, f.handle, &Options{Retry: fastRetry, MaxResponseBytes: int64(len(big))})
	if pages, err := collect(t, c, Query{EntitySet: "User"}); err != nil || len(pages[0].Records) != 101 {
		t.Fatalf("body of exactly the limit: %v", err)
	}
}

// Requests carry the context's headers.
func TestWithHeader(t *testing.T) {
	var got []string
	h := func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("X-SFConnector-Run")+"|"+r.Header.Get("X-Other"))
		jsonBody(200, `{"d":{"results":[]}}`)(w, r)
	}
	c, _, _ := sfServer(t, h, nil)
	ctx := WithHeader(context.Background(), http.Header{"X-Other": {"o"}})
	ctx = WithHeader(ctx, http.Header{"x-sfconnector-run": {"run1/1/w1"}})
	for _, err := range c.Pages(ctx, Query{EntitySet: "User"}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, []string{"run1/1/w1|o"}) {
		t.Errorf("headers %v", got)
	}
}

// Well-formed JSON of the wrong shape is not retried.
func TestWrongShapeNotRetried(t *testing.T) {
	for _, body := range []string{
		`{"d":{"userId":"x"}}`, `{"error":{"code":"X","message":{"value":"y"}}}`, `{"d":"x"}`,
		`{"d":{"results":[],"__count":"many"}}`, `{"d":{"results":[]}}{"d":{"results":[]}}`,
	} {
		f := fixture{"/odata/v2/User?$format=json": jsonBody(200, body)}
		c, log, _ := sfServer(t, f.handle, nil)
		_, err := collect(t, c, Query{EntitySet: "User"})
		if !errors.Is(err, ErrMalformedBody) || KindOf(err) != KindFatal || len(log.all()) != 1 {
			t.Errorf("%s: %v, %d requests", body, err, len(log.all()))
		}
		if strings.Count(err.Error(), "odata:") != 1 {
			t.Errorf("message %q", err)
		}
	}
}

// A certificate the client does not trust is fatal at once.
func TestUntrustedCertificateNotRetried(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonBody(200, `{"d":{"results":[]}}`)(w, r)
	}))
	defer srv.Close()
	var events []RetryEvent
	c, err := NewClient(srv.URL+"/odata/v2", &http.Client{Transport: &http.Transport{}},
		&Options{Retry: fastRetry, OnRetry: func(e RetryEvent) { events = append(events, e) }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = collect(t, c, Query{EntitySet: "User"})
	if KindOf(err) != KindFatal || len(events) != 0 || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error %v, %d retries", err, len(events))
	}
}

// Plain http on loopback works only when allowed.
func TestInsecureLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonBody(200, `{"d":{"results":[{"userId":"a"}],"__next":"`+"http://"+r.Host+`/odata/v2/User?$skiptoken=2"}}`)(w, r)
	}))
	defer srv.Close()
	if _, err := NewClient(srv.URL+"/odata/v2", nil, nil); !errors.Is(err, ErrInsecure) {
		t.Fatalf("http root accepted: %v", err)
	}
	c, err := NewClient(srv.URL+"/odata/v2", srv.Client(), &Options{AllowInsecureLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := collect(t, c, Query{EntitySet: "User"})
	if !errors.Is(err, ErrLinkLoop) || len(pages) != 2 {
		t.Fatalf("pages %d, err %v", len(pages), err)
	}
}

func TestBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aë", 2, "a"}, {"\xff\xfe\xfd\xfc\xfb", 4, "\xff"},
	} {
		if got := bound(tc.in, tc.n); got != tc.want {
			t.Errorf("bound(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
