package odata

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func recordField(rec json.RawMessage, name string) string {
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		return "!" + err.Error()
	}
	s, _ := m[name].(string)
	return s
}

const userQ = "/odata/v2/User?$format=json&$select=userId"

func TestPagesFollowsNextVerbatim(t *testing.T) {
	// The first link is absolute with :443, the second relative; the
	// skiptokens carry characters a re-encoder would change.
	f := fixture{
		userQ: jsonBody(200, `{"d":{"results":[{"userId":"a"},{"userId":"b"}],`+
			`"__next":"https://api.example-sf.test:443/odata/v2/User?$format=json&$select=userId&$skiptoken=eyJz%2Bx=="}}`),
		"/odata/v2/User?$format=json&$select=userId&$skiptoken=eyJz%2Bx==": jsonBody(200,
			`{"d":{"results":[{"userId":"c"}],"__next":"User?$skiptoken='p2'%20x"}}`),
		"/odata/v2/User?$skiptoken='p2'%20x": jsonBody(200,
			`{"d":{"results":[{"userId":"d"}],"__next":null}}`),
	}
	c, log, _ := sfServer(t, f.handle, nil)

	pages, err := collect(t, c, Query{EntitySet: "User", Select: []string{"userId"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := userIDs(pages), []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	for i, p := range pages {
		if p.Index != i {
			t.Errorf("page %d has index %d", i, p.Index)
		}
	}
	if pages[1].URL != "https://api.example-sf.test:443/odata/v2/User?$format=json&$select=userId&$skiptoken=eyJz%2Bx==" {
		t.Errorf("page 1 URL %q", pages[1].URL)
	}
	if pages[1].Next != "https://api.example-sf.test:443/odata/v2/User?$skiptoken='p2'%20x" {
		t.Errorf("page 1 next %q", pages[1].Next)
	}
	if pages[2].Next != "" {
		t.Errorf("last page next %q", pages[2].Next)
	}
	if n := len(log.all()); n != 3 {
		t.Errorf("%d requests, want 3: %v", n, log.all())
	}
}

func TestPagesLastPageMarkers(t *testing.T) {
	// No __next key, null and "" all end the read.
	for name, tail := range map[string]string{
		"absent": ``, "null": `,"__next":null`, "empty": `,"__next":""`,
	} {
		t.Run(name, func(t *testing.T) {
			f := fixture{"/odata/v2/User?$format=json": jsonBody(200,
				`{"d":{"results":[{"userId":"a"}]`+tail+`}}`)}
			c, _, _ := sfServer(t, f.handle, nil)
			pages, err := collect(t, c, Query{EntitySet: "User"})
			if err != nil || len(pages) != 1 || pages[0].Next != "" {
				t.Fatalf("pages %d, err %v", len(pages), err)
			}
		})
	}
}

// B05: a failed __next request fails the read after the retries; the
// first page was yielded, and no success is reported.
func TestB05FailedNextPageFails(t *testing.T) {
	var retries []RetryEvent
	f := fixture{
		userQ: jsonBody(200, `{"d":{"results":[{"userId":"u1"},{"userId":"u2"}],`+
			`"__next":"https://api.example-sf.test:443/odata/v2/User?$skiptoken=p2"}}`),
		"/odata/v2/User?$skiptoken=p2": htmlBody(503, `<html>Service Temporarily Unavailable</html>`),
	}
	opts := Options{Retry: fastRetry, OnRetry: func(e RetryEvent) { retries = append(retries, e) }}
	c, log, _ := sfServer(t, f.handle, &opts)

	pages, err := collect(t, c, Query{EntitySet: "User", Select: []string{"userId"}})
	if len(pages) != 1 || len(pages[0].Records) != 2 {
		t.Fatalf("got %d pages before the error, want 1 with 2 records", len(pages))
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if e.StatusCode != 503 || e.Kind != KindRetryable || !errors.Is(err, ErrRetryable) {
		t.Errorf("status %d kind %v", e.StatusCode, e.Kind)
	}
	if e.Snippet != "<html>Service Temporarily Unavailable</html>" {
		t.Errorf("snippet %q", e.Snippet)
	}
	if !strings.Contains(e.Error(), "text/html") || strings.Contains(e.Error(), "invalid character") {
		t.Errorf("message %q", e.Error())
	}
	if got := log.count("/odata/v2/User?$skiptoken=p2"); got != fastRetry.MaxAttempts {
		t.Errorf("page 2 requested %d times, want %d", got, fastRetry.MaxAttempts)
	}
	if len(retries) != fastRetry.MaxAttempts-1 || retries[0].Status != 503 {
		t.Errorf("retry events %+v", retries)
	}
	if e.Attempts != fastRetry.MaxAttempts {
		t.Errorf("attempts %d", e.Attempts)
	}
}

// B03: snapshot lost is restartable, and the lost page is not retried.
func TestB03SnapshotLost(t *testing.T) {
	first := "/odata/v2/User?$format=json&paging=snapshot"
	f := fixture{
		first: jsonBody(200, `{"d":{"results":[{"userId":"u1"}],`+
			`"__next":"https://api.example-sf.test:443/odata/v2/User?$format=json&paging=snapshot&$skiptoken=s2"}}`),
		"/odata/v2/User?$format=json&paging=snapshot&$skiptoken=s2": jsonBody(500,
			`{"error":{"code":"COE_GENERAL_SERVER_FAILURE","message":{"lang":"en-US","value":`+
				`"[COE0019][SNP]Snapshot lost for current pagination query, pls relaunch query and start from 1st page"}}}`),
	}
	c, log, _ := sfServer(t, f.handle, nil)

	pages, err := collect(t, c, Query{EntitySet: "User", Paging: PagingSnapshot})
	if len(pages) != 1 {
		t.Fatalf("%d pages", len(pages))
	}
	if !errors.Is(err, ErrSnapshotLost) || KindOf(err) != KindSnapshotLost {
		t.Fatalf("error %v, want snapshot lost", err)
	}
	var e *Error
	errors.As(err, &e)
	if e.Code != "COE_GENERAL_SERVER_FAILURE" || e.StatusCode != 500 ||
		!strings.HasPrefix(e.Message, "[COE0019][SNP]") {
		t.Errorf("error fields %+v", e)
	}
	if n := log.count("/odata/v2/User?$format=json&paging=snapshot&$skiptoken=s2"); n != 1 {
		t.Errorf("lost snapshot page requested %d times, want 1", n)
	}

	// The caller's restart: a new iteration starts again at page 1.
	pages, _ = collect(t, c, Query{EntitySet: "User", Paging: PagingSnapshot})
	if len(pages) != 1 || log.count(first) != 2 {
		t.Errorf("restart: %d pages, first page requested %d times", len(pages), log.count(first))
	}
}

func TestBreakStopsReading(t *testing.T) {
	f := fixture{
		"/odata/v2/User?$format=json": jsonBody(200, `{"d":{"results":[{"userId":"a"}],`+
			`"__next":"/odata/v2/User?$skiptoken=2"}}`),
	}
	c, log, _ := sfServer(t, f.handle, nil)
	for range c.Pages(context.Background(), Query{EntitySet: "User"}) {
		break
	}
	if n := len(log.all()); n != 1 {
		t.Errorf("%d requests after break, want 1", n)
	}
}

func TestErrorEnvelope(t *testing.T) {
	body := mustRead(t, "testdata/successfactors-error.json")
	f := fixture{"/odata/v2/Address2?$format=json": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		w.Write(body)
	}}
	c, log, _ := sfServer(t, f.handle, nil)
	_, err := collect(t, c, Query{EntitySet: "Address2"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v", err)
	}
	want := &Error{Kind: KindFatal, StatusCode: 404, Code: "005056A509B11EE1B9A8FEC11C21D78E",
		Message:       "Resource not found for the segment 'Address2'.",
		URL:           "https://api.example-sf.test/odata/v2/Address2?$format=json",
		CorrelationID: "C83CB3D2A1420000E00609D31E196BD4", Attempts: 1}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("error\n got %#v\nwant %#v", e, want)
	}
	if !errors.Is(err, ErrFatal) || len(log.all()) != 1 {
		t.Errorf("404 retried: %d requests", len(log.all()))
	}
	if strings.Contains(err.Error(), "tok-") || strings.Contains(err.Error(), "Bearer") {
		t.Errorf("error leaks the token: %v", err)
	}
}
