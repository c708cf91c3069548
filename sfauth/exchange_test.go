package sfauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseErrorResponse(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   error
		code   string
	}{
		{401, `{"errorHttpCode":"401","errorMessage":"Unable to authenticate the client (Login failed - invalid user)"}`, ErrUserNotFound, "401"},
		{401, `{"errorHttpCode":401,"errorMessage":"Unable to verify the signature of the SAML assertion. Please ensure that the assertion has a signature and the key pairs match the client ID"}`, ErrSignatureRejected, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"Authentication failed due to invalid companyId"}`, ErrInvalidCompany, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"Login failure due to the invalid company!"}`, ErrInvalidCompany, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"Company ACME not found"}`, ErrInvalidCompany, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"Invalid client_id: the API key is not registered"}`, ErrUnknownClient, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"SAML assertion validation failed: the assertion has expired"}`, ErrAssertionExpired, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"SAML assertion validation failed: the assertion is not yet valid"}`, ErrAssertionExpired, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"SAML assertion validation failed: invalid audience"}`, ErrAssertionRejected, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"SAML assertion validation failed: invalid recipient"}`, ErrAssertionRejected, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"SAML assertion validation failed: api_key attribute does not match client_id"}`, ErrAssertionRejected, "401"},
		{401, `{"errorHttpCode":"401","errorMessage":"SAML assertion validation failed: the client certificate has expired"}`, ErrCertificateExpired, "401"},
		{401, `{"error":"invalid_client","error_description":"SAML assertion validation failed"}`, ErrAssertionRejected, "invalid_client"},
		{401, `{"error":"invalid_client"}`, ErrUnknownClient, "invalid_client"},
		{400, `{"error":"invalid_grant","error_description":"bad"}`, ErrAssertionRejected, "invalid_grant"},
		{400, `{"errorHttpCode":"400","errorMessage":"Unsupported grant_type"}`, nil, "400"},
		{429, `slow down`, ErrRateLimited, ""},
		{503, `<html>busy</html>`, ErrServer, ""},
		{500, ``, ErrServer, ""},
		{401, `[1,2]`, nil, ""},
	}
	for _, c := range cases {
		e := ParseErrorResponse(c.status, []byte(c.body))
		if e.Kind != c.kind || e.Code != c.code || e.StatusCode != c.status {
			t.Errorf("%d %s: kind %v code %q, want %v %q", c.status, c.body, e.Kind, e.Code, c.kind, c.code)
		}
		if c.kind != nil && !errors.Is(e, c.kind) {
			t.Errorf("%s: errors.Is fails", c.body)
		}
		if !strings.HasPrefix(e.Error(), "sfauth: ") {
			t.Errorf("message %q lacks the package prefix", e.Error())
		}
	}
	// Non-JSON bodies are described, not quoted.
	e := ParseErrorResponse(502, []byte("<html>secret page</html>"))
	if strings.Contains(e.Error(), "secret") || !strings.Contains(e.Error(), "non-JSON body (24 bytes)") {
		t.Errorf("non-JSON body: %q", e.Error())
	}
}

// A server that echoes the assertion or a token in its message must not
// get it into our error.
func TestErrorScrubsEchoedSecrets(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		r.ParseForm()
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"invalid_request","error_description":"cannot use assertion ` +
			r.PostForm.Get("assertion") + ` with token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"}`))
		return true
	}
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if err == nil {
		t.Fatal("no error")
	}
	assertion := sf.lastForm().Get("assertion")
	if strings.Contains(err.Error(), assertion[:60]) || strings.Contains(err.Error(), "eyJzdWIi") {
		t.Fatalf("error carries the assertion or a token: %s", err)
	}
	if !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("expected a redaction mark: %s", err)
	}
}

func TestRetriesServerErrors(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	var ids []string
	sf.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		ids = append(ids, string(sf.lastXML()[:120]))
		if n <= 2 {
			w.WriteHeader([]int{502, 503}[n-1])
			return true
		}
		return false
	}
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatalf("after two 5xx: %v", err)
	}
	if sf.hits.Load() != 3 || ts.Exchanges() != 1 {
		t.Fatalf("hits %d exchanges %d, want 3 and 1", sf.hits.Load(), ts.Exchanges())
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Error("a retry re-sent the same assertion")
	}
}

func TestRetryGivesUp(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"errorHttpCode":"503","errorMessage":"maintenance"}`))
		return true
	}
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrServer || e.Attempts != DefaultMaxAttempts || !e.Temporary() {
		t.Fatalf("err = %#v", err)
	}
	if sf.hits.Load() != DefaultMaxAttempts {
		t.Fatalf("hits %d", sf.hits.Load())
	}
	// Temporary failures are not cached: the next call asks again.
	ts.Token()
	if sf.hits.Load() != 2*DefaultMaxAttempts {
		t.Fatalf("hits %d after second call", sf.hits.Load())
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404} {
		key, _ := testKeys(t)
		cert := validCert(t, key)
		sf := newFakeSF(t, cert)
		sf.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
			w.WriteHeader(status)
			return true
		}
		ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
		if _, err := ts.Token(); err == nil {
			t.Fatalf("%d: no error", status)
		}
		if sf.hits.Load() != 1 {
			t.Errorf("%d retried: %d requests", status, sf.hits.Load())
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	var times []time.Time
	sf.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		times = append(times, time.Now())
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	if len(times) != 2 || times[1].Sub(times[0]) < 950*time.Millisecond {
		t.Fatalf("retry after %v, want >= 1s", times[len(times)-1].Sub(times[0]))
	}
}

func TestRetryAfterTooLongStops(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	_, err := ts.Token()
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrRateLimited || e.RetryAfter != time.Hour {
		t.Fatalf("err = %v", err)
	}
	if sf.hits.Load() != 1 {
		t.Fatalf("waited for an hour-long Retry-After: %d requests", sf.hits.Load())
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-3":                            0,
		"soon":                          0,
		"Wed, 01 Jan 2025 00:00:30 GMT": 30 * time.Second,
		"Tue, 31 Dec 2024 23:00:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestPermanentErrorCached(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	clock := newFakeClock(time.Now())
	sf := newFakeSF(t, cert)
	sf.now = clock.Now
	sf.users = map[string]bool{}
	opts := testOptions(sf)
	opts.Now = clock.Now
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), opts)

	_, err1 := ts.Token()
	_, err2 := ts.Token()
	if !errors.Is(err1, ErrUserNotFound) || err2 != err1 || sf.hits.Load() != 1 {
		t.Fatalf("errors %v / %v, hits %d", err1, err2, sf.hits.Load())
	}
	clock.Advance(DefaultErrorCacheTTL + time.Second)
	ts.Token()
	if sf.hits.Load() != 2 {
		t.Fatalf("cached error outlived its TTL: hits %d", sf.hits.Load())
	}
	// Refresh always asks.
	if err := ts.Refresh(context.Background()); !errors.Is(err, ErrUserNotFound) || sf.hits.Load() != 3 {
		t.Fatalf("Refresh: %v, hits %d", err, sf.hits.Load())
	}
}

func TestStaleTokenUsedWhenRenewalFails(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	clock := newFakeClock(time.Now())
	sf := newFakeSF(t, cert)
	sf.now = clock.Now
	sf.expiry = 3600
	opts := testOptions(sf)
	opts.Now = clock.Now
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), opts)
	first, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	sf.respond = func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	}
	clock.Advance(58 * time.Minute) // inside the 5m margin, not expired
	tok, err := ts.Token()
	if err != nil || tok.AccessToken != first.AccessToken {
		t.Fatalf("renewal failure hid a valid token: %v", err)
	}
	clock.Advance(3 * time.Minute) // now expired
	if _, err := ts.Token(); !errors.Is(err, ErrServer) {
		t.Fatalf("expired token returned: err = %v", err)
	}
}

func TestRefreshMargin(t *testing.T) {
	ts := &TokenSource{}
	for _, c := range []struct {
		set, lifetime, want time.Duration
	}{
		{0, 0, 5 * time.Minute},
		{0, 24 * time.Hour, 5 * time.Minute},
		{0, 20 * time.Minute, 5 * time.Minute},
		{0, 8 * time.Minute, 4 * time.Minute},
		{0, 120 * time.Second, 60 * time.Second},
		{time.Minute, 24 * time.Hour, time.Minute},
		{time.Hour, 20 * time.Minute, 10 * time.Minute},
	} {
		ts.margin, ts.lifetime = c.set, c.lifetime
		if got := ts.effectiveMargin(); got != c.want {
			t.Errorf("margin %v lifetime %v: %v, want %v", c.set, c.lifetime, got, c.want)
		}
	}
}

func TestParseTokenResponse(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	good := map[string]int64{
		`{"access_token":"abc","token_type":"Bearer","expires_in":85949}`: 85949,
		`{"access_token":"abc","token_type":"bearer","expires_in":"120"}`: 120,
		`{"access_token":"abc","expires_in":3600.0}`:                      3600,
	}
	for body, secs := range good {
		tok, err := ParseTokenResponse([]byte(body), start)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if tok.AccessToken != "abc" || tok.TokenType != "Bearer" || tok.ExpiresIn != secs ||
			!tok.Expiry.Equal(start.Add(time.Duration(secs)*time.Second)) {
			t.Errorf("%s: %+v", body, tok)
		}
	}
	for _, body := range []string{
		``, `null`, `[]`, `{}`, `{"access_token":""}`,
		`{"access_token":"abc"}`,
		`{"access_token":"abc","expires_in":0}`,
		`{"access_token":"abc","expires_in":-5}`,
		`{"access_token":"abc","expires_in":"soon"}`,
		`{"access_token":"abc","expires_in":1e30}`,
		`{"access_token":"abc","token_type":"MAC","expires_in":60}`,
		`<html>`,
	} {
		if tok, err := ParseTokenResponse([]byte(body), start); err == nil {
			t.Errorf("%s: accepted as %+v", body, tok)
		} else if strings.Contains(err.Error(), "abc") {
			t.Errorf("%s: error quotes the token", body)
		}
	}
}

func TestTokenURLMustBeHTTPS(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	cred := Credential{CompanyID: "C", ClientID: "K", UserID: "U", Key: key, Certificate: cert}
	cases := []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://api4.successfactors.com/oauth/token", false, true},
		{"http://api4.successfactors.com/oauth/token", false, false},
		{"http://api4.successfactors.com/oauth/token", true, false},
		{"http://127.0.0.1:8080/oauth/token", false, false},
		{"http://127.0.0.1:8080/oauth/token", true, true},
		{"http://[::1]:8080/oauth/token", true, true},
		{"http://localhost:8080/oauth/token", true, true},
		{"http://10.0.0.1/oauth/token", true, false},
		{"ftp://127.0.0.1/oauth/token", true, false},
		{"https://user:pw@api4.successfactors.com/oauth/token", false, false},
		{"/oauth/token", false, false},
	}
	for _, c := range cases {
		cred.TokenURL = c.url
		_, err := NewTokenSource(cred, &Options{AllowInsecureLoopback: c.loopback})
		if (err == nil) != c.ok {
			t.Errorf("%s (loopback %v): err = %v", c.url, c.loopback, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("error carries URL user info: %v", err)
		}
	}
}

func TestMissingFields(t *testing.T) {
	_, err := NewTokenSource(Credential{TokenURL: "https://x/oauth/token"}, nil)
	if !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"CompanyID", "ClientID", "UserID", "Key", "Certificate"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not list %s: %v", f, err)
		}
	}
}
