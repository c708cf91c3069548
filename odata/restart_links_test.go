package odata

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// B14 on a later page: SF fixed customPageSize with the first request, so
// after two same-URL retries the read ends with a RestartError naming half
// the size, not with the retry budget spent; reading again with that size
// from page 1 succeeds.
func TestB14LaterPageGatewayTimeoutRestarts(t *testing.T) {
	base := "/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize="
	s2 := "/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize=500&$skiptoken=s2"
	s2b := "/odata/v2/EmpJob?$format=json&paging=snapshot&customPageSize=250&$skiptoken=s2b"
	f := fixture{
		base + "500": jsonBody(200, `{"d":{"results":[{"userId":"u1"}],"__next":"https://api.example-sf.test:443`+s2+`"}}`),
		s2:           htmlBody(504, "<html><body><h1>504 Gateway Time-out</h1></body></html>"),
		base + "250": jsonBody(200, `{"d":{"results":[{"userId":"u1"}],"__next":"https://api.example-sf.test:443`+s2b+`"}}`),
		s2b:          jsonBody(200, `{"d":{"results":[{"userId":"u2"}]}}`),
	}
	var logs bytes.Buffer
	o := &Options{Retry: fastRetry, Logger: newTextLogger(&logs)} // 4 attempts allowed
	c, log, _ := sfServer(t, f.handle, o)
	q := Query{EntitySet: "EmpJob", PageSize: 500, Paging: PagingSnapshot}

	pages, err := collect(t, c, q)
	var re *RestartError
	if !errors.As(err, &re) || !errors.Is(err, ErrRestart) || re.PageSize != 250 {
		t.Fatalf("error %v, want *RestartError with PageSize 250", err)
	}
	if re.Err.StatusCode != 504 || !strings.Contains(err.Error(), "customPageSize=250") {
		t.Errorf("restart error %q, cause %+v", err, re.Err)
	}
	if len(pages) != 1 {
		t.Errorf("%d pages before the restart, want 1", len(pages))
	}
	want := []string{base + "500", s2, s2, s2}
	if got := log.all(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(logs.String(), "restart from the first page") {
		t.Errorf("no warning logged:\n%s", logs.String())
	}

	q.PageSize = re.PageSize
	pages, err = collect(t, c, q)
	if err != nil || !reflect.DeepEqual(userIDs(pages), []string{"u1", "u2"}) {
		t.Fatalf("restarted read: %v, %v", userIDs(pages), err)
	}
}

// The restart halves down to Options.MinPageSize and no further; below it
// the gateway failure is returned after the whole retry budget. The same
// holds in server mode, where a query without a page size stands for SF's
// 1000.
func TestB14RestartFloor(t *testing.T) {
	for _, tc := range []struct {
		name     string
		q        Query
		next     string
		restart  int // 0: no restart, the 504 is returned
		requests int // of the failing page
	}{
		{"server default size", Query{EntitySet: "User"}, "/odata/v2/User?$skiptoken=a", 500, 3},
		{"at the floor", Query{EntitySet: "User", PageSize: 99, Paging: PagingCursor}, "/odata/v2/User?$skiptoken=b", 0, 4},
		{"just above", Query{EntitySet: "User", PageSize: 100, Paging: PagingCursor}, "/odata/v2/User?$skiptoken=c", 50, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, _ := tc.q.Encode()
			f := fixture{
				"/odata/v2/" + first: jsonBody(200, `{"d":{"results":[{"userId":"u1"}],"__next":"`+tc.next+`"}}`),
				tc.next:              htmlBody(502, "<html>Bad Gateway</html>"),
			}
			c, log, _ := sfServer(t, f.handle, nil)
			_, err := collect(t, c, tc.q)
			var re *RestartError
			switch {
			case tc.restart == 0 && (errors.Is(err, ErrRestart) || !errors.Is(err, ErrRetryable)):
				t.Errorf("error %v, want the 502 itself", err)
			case tc.restart != 0 && (!errors.As(err, &re) || re.PageSize != tc.restart):
				t.Errorf("error %v, want a restart with %d", err, tc.restart)
			}
			if n := log.count(tc.next); n != tc.requests {
				t.Errorf("failing page requested %d times, want %d", n, tc.requests)
			}
		})
	}
}

// $top/$skip paging lowers $top on a gateway timeout from the failing
// offset on, without starting over: $skip is absolute.
func TestB14SkipPagingHalvesTop(t *testing.T) {
	base := "/odata/v2/User?$format=json&$orderby=userId"
	rows := func(ids ...string) string {
		var b strings.Builder
		for i, id := range ids {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"userId":"` + id + `"}`)
		}
		return `{"d":{"results":[` + b.String() + `]}}`
	}
	ids := func(from, n int) []string {
		var out []string
		for i := from; i < from+n; i++ {
			out = append(out, "u"+string(rune('A'+i/26))+string(rune('a'+i%26)))
		}
		return out
	}
	f := fixture{
		base + "&$inlinecount=allpages&$top=100&$skip=0": jsonBody(200, rows(ids(0, 100)...)),
		base + "&$top=100&$skip=100":                     htmlBody(504, "<html>Gateway Time-out</html>"),
		base + "&$top=50&$skip=100":                      jsonBody(200, rows(ids(100, 50)...)),
		base + "&$top=50&$skip=150":                      jsonBody(200, rows(ids(150, 10)...)),
	}
	c, log, _ := sfServer(t, f.handle, nil)
	pages, err := collect(t, c, Query{EntitySet: "User", OrderBy: []string{"userId"}, PageSize: 100, Paging: PagingSkip})
	if err != nil || !reflect.DeepEqual(userIDs(pages), ids(0, 160)) {
		t.Fatalf("%d rows, err %v; requests %v", len(userIDs(pages)), err, log.all())
	}
	if n := len(log.all()); n != 4 {
		t.Errorf("%d requests: %v", n, log.all())
	}

	// A checkpoint after the halving resumes with the lowered $top.
	var resumed []*Page
	for p, err := range c.PagesFrom(context.Background(), Query{EntitySet: "User", OrderBy: []string{"userId"},
		PageSize: 100, Paging: PagingSkip}, pages[1].Next, 2) {
		if err != nil {
			t.Fatalf("resume at %s: %v", pages[1].Next, err)
		}
		resumed = append(resumed, p)
	}
	if !reflect.DeepEqual(userIDs(resumed), ids(150, 10)) || resumed[0].Index != 2 {
		t.Errorf("resumed rows %v", userIDs(resumed))
	}
}

// A __next link to another entity set on the same service is refused
// before it is sent: its rows would be staged as this set's.
func TestNextLinkToOtherEntitySetRefused(t *testing.T) {
	for _, tc := range []struct {
		name, next string
		ok         bool
	}{
		{"other host, same path", "https://127.0.0.1:443/odata/v2/User?$skiptoken=x", false},
		{"other set, absolute", "https://api.example-sf.test:443/odata/v2/Other?$skiptoken=x", false},
		{"other set, relative", "/odata/v2/Other?$skiptoken=x", false},
		{"other set, relative to the page", "Other?$skiptoken=x", false},
		{"other case", "/odata/v2/user?$skiptoken=x", false},
		{"entity path", "/odata/v2/User('x')?$skiptoken=x", false},
		{"other root", "/odata/v4/User?$skiptoken=x", false},
		{"dot segments out", "/odata/v2/User/../Other?$skiptoken=x", false},
		{"dot segments, absolute", "https://api.example-sf.test/odata/v2/Other/../User?$skiptoken=x", false},
		{"same set, relative to the page", "User?$skiptoken=x", true},
		{"same set, absolute path", "/odata/v2/User?$skiptoken=x", true},
		{"same set, default port", "https://api.example-sf.test:443/odata/v2/User?$skiptoken=x", true},
	} {
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
			if got := log.all(); len(got) != 1 || len(pages) != 1 {
				t.Errorf("%d pages, requests sent: %v", len(pages), got)
			}
		})
	}

	// A checkpoint naming another set is refused too.
	c, log, _ := sfServer(t, fixture{}.handle, nil)
	for _, err := range c.PagesFrom(context.Background(), Query{EntitySet: "User"},
		"https://api.example-sf.test/odata/v2/Other?$skiptoken=x", 1) {
		if !errors.Is(err, ErrUnsafeLink) {
			t.Errorf("PagesFrom: %v", err)
		}
	}
	if n := len(log.all()); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// B01 server-driven: a __next carrying $skip is followed but logged, and
// in every paging mode a query with $inlinecount ends with an
// IncompleteError when the rows received differ from the first __count.
func TestB01ServerOffsetLinksAndCount(t *testing.T) {
	for _, mode := range []PagingMode{PagingServer, PagingSnapshot, PagingCursor} {
		for _, count := range []string{"5", "4"} {
			t.Run(string(mode)+"/"+count, func(t *testing.T) {
				q := Query{EntitySet: "User", InlineCount: true, PageSize: 2, Paging: mode}
				first, _ := q.Encode()
				next := "/odata/v2/User?$format=json&$top=2&$skip=2"
				f := fixture{
					"/odata/v2/" + first: jsonBody(200, `{"d":{"__count":"`+count+`",`+
						`"results":[{"userId":"u1"},{"userId":"u2"}],"__next":"`+next+`"}}`),
					next: jsonBody(200, `{"d":{"__count":"`+count+`","results":[{"userId":"u4"},{"userId":"u5"}]}}`),
				}
				var logs bytes.Buffer
				c, _, _ := sfServer(t, f.handle, &Options{Retry: fastRetry, Logger: newTextLogger(&logs)})
				pages, err := collect(t, c, q)
				if !reflect.DeepEqual(userIDs(pages), []string{"u1", "u2", "u4", "u5"}) {
					t.Errorf("rows %v", userIDs(pages))
				}
				if count == "4" {
					if err != nil {
						t.Errorf("error %v with matching count", err)
					}
				} else {
					var inc *IncompleteError
					if !errors.As(err, &inc) || !errors.Is(err, ErrPossiblyIncomplete) ||
						inc.Expected != 5 || inc.Received != 4 || inc.Paging != mode {
						t.Errorf("error %v, want *IncompleteError 5/4 in mode %q", err, mode)
					}
				}
				if !strings.Contains(logs.String(), "$top/$skip") || strings.Count(logs.String(), "level=WARN") != 1 {
					t.Errorf("want one warning about the offset link, log:\n%s", logs.String())
				}
			})
		}
	}
}

// A read without $inlinecount, or resumed with PagesFrom, is not checked.
func TestCountCheckOnlyWhenAsked(t *testing.T) {
	f := fixture{
		"/odata/v2/User?$format=json": jsonBody(200, `{"d":{"__count":"9","results":[{"userId":"u1"}],"__next":"/odata/v2/User?$skiptoken=2"}}`),
		"/odata/v2/User?$skiptoken=2": jsonBody(200, `{"d":{"__count":"9","results":[{"userId":"u2"}]}}`),
	}
	c, _, _ := sfServer(t, f.handle, nil)
	if _, err := collect(t, c, Query{EntitySet: "User"}); err != nil {
		t.Errorf("without $inlinecount: %v", err)
	}
	for _, err := range c.PagesFrom(context.Background(), Query{EntitySet: "User", InlineCount: true},
		"/odata/v2/User?$skiptoken=2", 1) {
		if err != nil {
			t.Errorf("resumed: %v", err)
		}
	}
}

// JSON labelled with another type is decoded by its content, for pages
// and single entities alike; an HTML 200 is a clear non-JSON error, tried
// exactly as often as the policy allows.
func TestMislabelledJSONBody(t *testing.T) {
	typed := func(ct, body string) func(http.ResponseWriter, *http.Request) {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Write([]byte(body))
		}
	}
	f := fixture{
		"/odata/v2/User('x')?$format=json": typed("text/plain;charset=utf-8", `{"d":{"userId":"x"}}`),
		"/odata/v2/User('y')?$format=json": typed("application/octet-stream", " \r\n\t"+`{"d":{"userId":"y"}}`),
		"/odata/v2/User('h')?$format=json": typed("text/html", "<html><body>Sign in</body></html>"),
		"/odata/v2/User?$format=json": typed("text/plain", "\n"+`{"d":{"results":[{"userId":"u1"}],`+
			`"__next":"/odata/v2/User?$skiptoken=2"}}`),
		"/odata/v2/User?$skiptoken=2": typed("text/html", "<!DOCTYPE html><html>Maintenance</html>"),
		"/odata/v2/User('e')?$format=json": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":{"code":"COE_PROPERTY_NOT_FOUND","message":{"lang":"en-US","value":"[COE0021]Invalid property names: User/x."}}}`))
		},
	}
	c, log, _ := sfServer(t, f.handle, nil)
	ctx := context.Background()
	for _, id := range []string{"x", "y"} {
		rec, err := c.Entity(ctx, Query{EntitySet: "User"}, KeyPart{Value: String(id)})
		if err != nil || recordField(rec, "userId") != id {
			t.Errorf("Entity(%s) = %s, %v", id, rec, err)
		}
		if n := log.count("/odata/v2/User('" + id + "')?$format=json"); n != 1 {
			t.Errorf("Entity(%s): %d requests", id, n)
		}
	}

	_, err := c.Entity(ctx, Query{EntitySet: "User"}, KeyPart{Value: String("h")})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrMalformedBody) || !strings.Contains(err.Error(), "text/html") ||
		!strings.Contains(e.Snippet, "Sign in") || e.Attempts != fastRetry.MaxAttempts {
		t.Errorf("HTML entity: %v", err)
	}
	if n := log.count("/odata/v2/User('h')?$format=json"); n != fastRetry.MaxAttempts {
		t.Errorf("HTML entity requested %d times, want %d", n, fastRetry.MaxAttempts)
	}

	// An error envelope labelled text/plain is read as one.
	_, err = c.Entity(ctx, Query{EntitySet: "User"}, KeyPart{Value: String("e")})
	if !errors.As(err, &e) || e.Code != "COE_PROPERTY_NOT_FOUND" || e.Kind != KindFatal || e.Attempts != 1 {
		t.Errorf("mislabelled error envelope: %v", err)
	}

	pages, err := collect(t, c, Query{EntitySet: "User"})
	if len(pages) != 1 || recordField(pages[0].Records[0], "userId") != "u1" {
		t.Errorf("pages %v", userIDs(pages))
	}
	if !errors.Is(err, ErrMalformedBody) || !strings.Contains(err.Error(), "Maintenance") {
		t.Errorf("HTML page: %v", err)
	}
	if n := log.count("/odata/v2/User?$skiptoken=2"); n != fastRetry.MaxAttempts {
		t.Errorf("HTML page requested %d times, want %d", n, fastRetry.MaxAttempts)
	}
}

// B07 offsets are exactly four digits, hhmm, a valid clock offset.
func TestParseDateOffsets(t *testing.T) {
	ok := map[string]time.Time{
		"/Date(1583107200000+0000)/": time.UnixMilli(1583107200000).UTC(),
		"/Date(1583107200000-0530)/": time.UnixMilli(1583107200000).UTC(),
		"/Date(1583107200000+2359)/": time.UnixMilli(1583107200000).UTC(),
		"/Date(-1000-1200)/":         time.UnixMilli(-1000).UTC(),
	}
	for in, want := range ok {
		if got, err := ParseDate(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseDate(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{
		"/Date(1583107200000+02)/", "/Date(1583107200000+9999)/", "/Date(1583107200000+2400)/",
		"/Date(1583107200000+0060)/", "/Date(1583107200000-123)/", "/Date(1583107200000+0)/",
		"/Date(1583107200000+02:00)/", "/Date(1583107200000+ 200)/", "/Date(1583107200000+002)/",
	} {
		if _, err := ParseDate(in); !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseDate(%q): error %v", in, err)
		}
	}
}

// Doc examples must be copyable: no typographic quotes in the package's
// source. gofmt turns two apostrophes in doc text into a closing double
// quote, so an example such as the doubled quote of [String] belongs in
// a code block, where it is kept as written.
func TestNoTypographicQuotes(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.ContainsAny(line, "\u2018\u2019\u201c\u201d\u00b4\u2032") {
				t.Errorf("%s:%d: typographic quote in %q", name, i+1, line)
			}
		}
	}
	if got := String("O'Neil").String(); got != "'O''Neil'" {
		t.Errorf("String(O'Neil) = %s", got)
	}
}
