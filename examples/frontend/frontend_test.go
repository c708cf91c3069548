package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
	"github.com/techwolf/sfconnector/examples/internal/authtest"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

const (
	testAudience = "sfconnector-frontend"
	testScope    = "sfconnector.runs"
)

// fixture is a frontend served over TLS, in front of a real connector that
// stages into a directory and reads from the simulator, with a test issuer
// serving its JWKS over TLS.
type fixture struct {
	front *httptest.Server
	iss   *authtest.Issuer
	store *staging.DirStore
	sim   *sfsim.Server
	logs  *syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sim := sfsim.New(sfsim.Options{Users: 30, PageSize: 10})
	simSrv := httptest.NewTLSServer(sim.Handler())
	t.Cleanup(simSrv.Close)
	cred := sim.NewCredential(simSrv.URL)
	key, cert, err := sfauth.LoadPEM(cred.KeyPEM, cred.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := sfauth.NewTokenSource(sfauth.Credential{
		TokenURL: cred.TokenURL, CompanyID: cred.CompanyID,
		ClientID: cred.ClientID, UserID: cred.UserID,
		Key: key, Certificate: cert,
	}, &sfauth.Options{HTTPClient: simSrv.Client()})
	if err != nil {
		t.Fatal(err)
	}

	store, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	conn, err := connector.New(connector.Options{
		Store:        store,
		SFServiceURL: simSrv.URL + "/odata/v2",
		SFClient:     ts.Client(simSrv.Client()),
		Workers:      2,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = conn.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	iss, err := authtest.NewIssuer(testAudience, testScope)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	keys, err := auth.NewKeySet(iss.JWKSURL(), &auth.KeySetOptions{
		HTTPClient: iss.Client(), MinRefreshInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewValidator(auth.Config{
		Issuer: iss.Issuer(), Audience: testAudience, Scope: testScope, Keys: keys,
	})
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	front := httptest.NewTLSServer(newHandler(conn, connector.DefaultCatalog().Names(), v, log))
	t.Cleanup(front.Close)
	return &fixture{front: front, iss: iss, store: store, sim: sim, logs: logs}
}

// do sends a request with an optional bearer token and decodes the JSON
// answer into a map.
func (f *fixture) do(t *testing.T, method, path, token, contentType string, body io.Reader) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, f.front.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := f.front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp, m
}

// stateObjects lists the state records in the store.
func (f *fixture) stateObjects(t *testing.T) []string {
	t.Helper()
	objs, err := f.store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		if strings.HasSuffix(o.Key, "/state.json") {
			keys = append(keys, o.Key)
		}
	}
	return keys
}

func (f *fixture) token() string { return f.iss.SignRS256(f.iss.Claims()) }

func TestSubmitAndPollToDone(t *testing.T) {
	f := newFixture(t)
	tok := f.token()

	resp, body := f.do(t, "POST", "/v1/runs", tok, "application/json", strings.NewReader(`{"dataType":"users"}`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/runs: %d %v", resp.StatusCode, body)
	}
	runID, _ := body["runId"].(string)
	if !isCanonicalUUID(runID) {
		t.Fatalf("run id %q", runID)
	}
	if loc := resp.Header.Get("Location"); loc != "/v1/runs/"+runID {
		t.Fatalf("Location %q", loc)
	}
	if got := f.stateObjects(t); len(got) != 1 || !strings.Contains(got[0], runID) {
		t.Fatalf("state objects after submit: %v", got)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, rec := f.do(t, "GET", "/v1/runs/"+runID, tok, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET run: %d %v", resp.StatusCode, rec)
		}
		if rec["runId"] != runID || rec["dataType"] != "users" {
			t.Fatalf("record %v", rec)
		}
		if rec["status"] == string(runstate.Done) {
			if rec["records"] != float64(30) {
				t.Fatalf("done with %v records, the simulator holds 30", rec["records"])
			}
			break
		}
		if rec["status"] == string(runstate.Failed) || time.Now().After(deadline) {
			t.Fatalf("run did not finish: %v", rec)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The log has one line per request, with the run id and no token.
	logs := f.logs.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, tok[len(tok)-20:]) {
		t.Fatal("a token reached the log")
	}
	if !strings.Contains(logs, `"runId":"`+runID+`"`) || !strings.Contains(logs, `"status":202`) {
		t.Fatalf("log lacks the request line:\n%s", logs)
	}
}

func TestDataTypesAndHealth(t *testing.T) {
	f := newFixture(t)
	resp, body := f.do(t, "GET", "/v1/datatypes", f.token(), "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	list, _ := body["dataTypes"].([]any)
	if len(list) != len(connector.DefaultCatalog().Names()) || list[0] == "" {
		t.Fatalf("data types %v", body)
	}
	// A token in the query string is not how tokens are sent, and it must
	// not reach the log either.
	tok := f.token()
	if resp, _ := f.do(t, "GET", "/v1/datatypes?access_token="+tok, "", "", nil); resp.StatusCode != 401 {
		t.Fatalf("token in the query: %d", resp.StatusCode)
	}
	if strings.Contains(f.logs.String(), tok[len(tok)-20:]) {
		t.Fatal("a token in the query reached the log")
	}

	resp, body = f.do(t, "GET", "/healthz", "", "", nil)
	if resp.StatusCode != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("healthz %d %v", resp.StatusCode, body)
	}
}

// Every refused request gets the right status and a JSON error, and writes
// no state record.
func TestRefusals(t *testing.T) {
	f := newFixture(t)
	iss := f.iss
	good := f.token()
	with := func(edit func(jwt.MapClaims)) string {
		c := iss.Claims()
		edit(c)
		return iss.SignRS256(c)
	}
	const users = `{"dataType":"users"}`
	const unknownRun = "0190f5c4-5e2a-7c3b-9d4e-0123456789ab"

	tests := []struct {
		name, method, path, token, ctype, body string
		status                                 int
		errCode                                string // "error" member
		challenge                              string // WWW-Authenticate error
	}{
		{"unknown data type", "POST", "/v1/runs", good, "application/json",
			`{"dataType":"EmpJob; DROP"}`, 400, "unknown_data_type", ""},
		{"malformed body", "POST", "/v1/runs", good, "application/json",
			`{"dataType":`, 400, "invalid_request", ""},
		{"unknown field", "POST", "/v1/runs", good, "application/json",
			`{"dataType":"users","entitySet":"User"}`, 400, "invalid_request", ""},
		{"two objects", "POST", "/v1/runs", good, "application/json",
			users + users, 400, "invalid_request", ""},
		{"run id not a UUID", "GET", "/v1/runs/..%2f..%2fstate", good, "", "", 400, "invalid_run_id", ""},
		{"run id upper case", "GET", "/v1/runs/" + strings.ToUpper(unknownRun), good, "", "", 400, "invalid_run_id", ""},
		{"unknown run", "GET", "/v1/runs/" + unknownRun, good, "", "", 404, "run_not_found", ""},
		{"oversized body", "POST", "/v1/runs", good, "application/json",
			`{"dataType":"users","x":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "body_too_large", ""},
		{"wrong content type", "POST", "/v1/runs", good, "text/plain", users, 415, "unsupported_media_type", ""},
		{"no content type", "POST", "/v1/runs", good, "", users, 415, "unsupported_media_type", ""},
		{"missing token", "POST", "/v1/runs", "", "application/json", users, 401, "invalid_token", "invalid_token"},
		{"bad signature", "POST", "/v1/runs", good[:len(good)-8] + "AAAAAAAA", "application/json", users,
			401, "invalid_token", "invalid_token"},
		{"expired", "POST", "/v1/runs", with(func(c jwt.MapClaims) {
			c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
		}), "application/json", users, 401, "invalid_token", "invalid_token"},
		{"wrong issuer", "POST", "/v1/runs", with(func(c jwt.MapClaims) {
			c["iss"] = "https://issuer.invalid"
		}), "application/json", users, 401, "invalid_token", "invalid_token"},
		{"wrong audience", "POST", "/v1/runs", with(func(c jwt.MapClaims) {
			c["aud"] = "another-service"
		}), "application/json", users, 401, "invalid_token", "invalid_token"},
		{"alg none", "POST", "/v1/runs",
			iss.SignWith(jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, iss.Claims()),
			"application/json", users, 401, "invalid_token", "invalid_token"},
		{"HS256 with the public key", "POST", "/v1/runs",
			iss.SignWith(jwt.SigningMethodHS256, "rsa-1", iss.RSAPublicKeyPEM(), iss.Claims()),
			"application/json", users, 401, "invalid_token", "invalid_token"},
		{"wrong method", "DELETE", "/v1/runs/" + unknownRun, good, "", "", 405, "method_not_allowed", ""},
		{"GET on the collection", "GET", "/v1/runs", good, "", "", 405, "method_not_allowed", ""},
		{"unknown endpoint", "GET", "/v1/nothing", good, "", "", 404, "not_found", ""},
		{"token on GET", "GET", "/v1/datatypes", "garbage", "", "", 401, "invalid_token", "invalid_token"},
		{"no scope", "POST", "/v1/runs", with(func(c jwt.MapClaims) {
			c["scope"] = "sfconnector.read"
		}), "application/json", users, 403, "insufficient_scope", "insufficient_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, m := f.do(t, tt.method, tt.path, tt.token, tt.ctype, body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, m)
			}
			if m["error"] != tt.errCode || m["message"] == "" {
				t.Fatalf("error body %v, want error %q with a message", m, tt.errCode)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if tt.challenge != "" && (!strings.HasPrefix(challenge, `Bearer realm="sfconnector"`) ||
				!strings.Contains(challenge, `error="`+tt.challenge+`"`)) {
				t.Fatalf("WWW-Authenticate %q", challenge)
			}
			if tt.challenge == "" && challenge != "" {
				t.Fatalf("WWW-Authenticate on a non-auth error: %q", challenge)
			}
			if msg, _ := m["message"].(string); strings.Contains(msg, "EmpJob") || strings.Contains(msg, "User") {
				t.Fatalf("message names internals or echoes input: %q", msg)
			}
			if got := f.stateObjects(t); len(got) != 0 {
				t.Fatalf("a refused request wrote state: %v", got)
			}
		})
	}
}

// A token signed with a key the frontend has not seen makes it refetch the
// issuer's JWKS, and the request goes through.
func TestJWKSRefreshOnRotation(t *testing.T) {
	f := newFixture(t)
	if resp, m := f.do(t, "GET", "/v1/datatypes", f.token(), "", nil); resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
	before := f.iss.JWKSFetches()
	time.Sleep(60 * time.Millisecond) // past the minimum refresh interval
	f.iss.RotateRSA("rsa-rotated")
	if resp, m := f.do(t, "GET", "/v1/datatypes", f.token(), "", nil); resp.StatusCode != 200 {
		t.Fatalf("after rotation: %d %v", resp.StatusCode, m)
	}
	if got := f.iss.JWKSFetches(); got != before+1 {
		t.Fatalf("JWKS fetched %d times after rotation, want 1", got-before)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
