package odata

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzErrorBody: any error response, whatever its Content-Type and body,
// becomes an error with a bounded quote, and the status decides whether it
// is retried: a 400, 403 or 404 that is not a snapshot or token error is
// never retried.
func FuzzErrorBody(f *testing.F) {
	for _, s := range []struct {
		status int
		ctype  string
		body   string
	}{
		{500, "application/json", `{"error":{"code":"COE_GENERAL_SERVER_FAILURE","message":{"lang":"en-US","value":"[COE0019][SNP]Snapshot lost"}}}`},
		{401, "application/json;charset=utf-8", `{"error":{"code":"LGN0022","message":{"value":"[LGN0022]The access token is either rejected or expired"}}}`},
		{403, "application/json", `{"error":{"code":"LGN0006","message":{"value":"INTERNAL_TOKEN_EXPIRED"}}}`},
		{503, "text/html", `<html>Service Temporarily Unavailable</html>`},
		{400, "application/xml", `<error><code>COE_PROPERTY_NOT_FOUND</code><message>x</message></error>`},
		{429, "", `API calling limit exceeded, Try later`},
		{404, "application/json", `{"error":{"code":"","message":{"value":""}}}`},
		{502, "text/plain", "\xff\xfe\x00bad"},
	} {
		f.Add(s.status, s.ctype, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		e := &Error{StatusCode: status, URL: "https://api.example-sf.test/odata/v2/User"}
		parseErrorBody(e, ctype, body)
		e.Kind = classify(status, e.Code, e.Message)
		if len(e.Snippet) > snippetLen {
			t.Fatalf("snippet of %d bytes", len(e.Snippet))
		}
		if len(body) > snippetLen && strings.Contains(e.Snippet, string(body)) {
			t.Fatalf("the whole body of %d bytes was quoted", len(body))
		}
		msg := e.Error()
		if !strings.HasPrefix(msg, "odata: ") {
			t.Fatalf("message %q lacks the package prefix", msg)
		}
		text := e.Code + " " + e.Message
		special := strings.Contains(text, "COE0019") || strings.Contains(e.Message, "[SNP]") ||
			strings.Contains(text, "LGN00")
		switch status {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
			if !special && e.Kind != KindFatal {
				t.Fatalf("HTTP %d %q classified %v, want fatal", status, text, e.Kind)
			}
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			if e.Kind == KindFatal {
				t.Fatalf("HTTP %d classified fatal", status)
			}
		}
	})
}

// FuzzRetryAfter: a Retry-After header never yields a negative wait, nor
// delta-seconds beyond the cap, and an empty header is not a wait at all.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{
		"120", "0", "-5", " 7 ", "Wed, 01 May 2024 10:30:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT",
		"99999999999999999999", "1e3", "", "Monday",
	} {
		f.Add(s)
	}
	now := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := retryAfter(v, now)
		if strings.TrimSpace(v) == "" && ok {
			t.Fatalf("empty header %q gave a wait", v)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: unreadable but a wait of %v", v, d)
		}
		if d < 0 {
			t.Fatalf("%q: negative wait %v", v, d)
		}
		if _, err := http.ParseTime(strings.TrimSpace(v)); err != nil && d > time.Duration(1<<31)*time.Second {
			t.Fatalf("%q: delta-seconds wait %v beyond the cap", v, d)
		}
	})
}
