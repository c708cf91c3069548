package sfauth

// Tests against the SuccessFactors simulator's token endpoint, which
// verifies the signed assertion as SF does.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/sfsim"
)

type simEnv struct {
	sim  *sfsim.Server
	srv  *httptest.Server
	sc   sfsim.Credential
	cred Credential
}

func newSim(t *testing.T, opts sfsim.Options) *simEnv {
	t.Helper()
	if opts.Users == 0 {
		opts.Users = 20
	}
	sim := sfsim.New(opts)
	srv := httptest.NewTLSServer(sim.Handler())
	t.Cleanup(srv.Close)
	sc := sim.NewCredential(srv.URL)
	key, cert, err := LoadPEM(sc.KeyPEM, sc.CertPEM)
	if err != nil {
		t.Fatalf("loading the simulator's credential: %v", err)
	}
	return &simEnv{sim: sim, srv: srv, sc: sc, cred: Credential{
		TokenURL:    sc.TokenURL,
		CompanyID:   sc.CompanyID,
		ClientID:    sc.ClientID,
		UserID:      sc.UserID,
		Key:         key,
		Certificate: cert,
	}}
}

func (e *simEnv) options() *Options {
	return &Options{HTTPClient: e.srv.Client(), RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond}
}

func (e *simEnv) tokenRequests() []sfsim.Request {
	var out []sfsim.Request
	for _, r := range e.sim.Requests() {
		if r.Path == "/oauth/token" {
			out = append(out, r)
		}
	}
	return out
}

// get fetches an OData URL with the token source's client.
func (e *simEnv) get(t *testing.T, ts *TokenSource, path string) (int, []byte) {
	t.Helper()
	resp, err := ts.Client(e.srv.Client()).Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSimTokenAndOData(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	ts, err := NewTokenSource(e.cred, e.options())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	tok, err := ts.Token()
	if err != nil {
		t.Fatalf("simulator refused the assertion: %v", err)
	}
	if d := tok.Expiry.Sub(start); d < 24*time.Hour-5*time.Second || d > 24*time.Hour {
		t.Errorf("expiry %v after start, want about 24h", d)
	}
	status, body := e.get(t, ts, "/odata/v2/User?$top=1&$format=json")
	if status != http.StatusOK {
		t.Fatalf("OData with the token: %d %s", status, body)
	}
	// A repeated exchange gets SF's existing token back; new_token=true a
	// fresh one.
	if err := ts.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	tok2, _ := ts.Token()
	if tok2.AccessToken == tok.AccessToken {
		t.Error("Refresh did not get a new token")
	}
}

func TestSimRejectsWrongKey(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	_, other := testKeys(t)
	// A consistent pair, but not the one registered for the client.
	e.cred.Key, e.cred.Certificate = other, validCert(t, other)
	ts, err := NewTokenSource(e.cred, e.options())
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if !errors.Is(err, ErrSignatureRejected) {
		t.Fatalf("err = %v, want ErrSignatureRejected", err)
	}
	if n := len(e.tokenRequests()); n != 1 {
		t.Errorf("%d token requests; a rejected signature is not retried", n)
	}
}

func TestSimRejectsWrongAudience(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	e.cred.Audience = "www.example.com"
	ts, _ := NewTokenSource(e.cred, e.options())
	_, err := ts.Token()
	if !errors.Is(err, ErrAssertionRejected) || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("err = %v, want ErrAssertionRejected for the audience", err)
	}
}

func TestSimRejectsWrongRecipient(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	e.cred.Recipient = e.srv.URL + "/odata/v2"
	ts, _ := NewTokenSource(e.cred, e.options())
	_, err := ts.Token()
	if !errors.Is(err, ErrAssertionRejected) || !strings.Contains(err.Error(), "recipient") {
		t.Fatalf("err = %v, want ErrAssertionRejected for the recipient", err)
	}
}

func TestSimRejectsExpiredAssertion(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	opts := e.options()
	opts.Now = func() time.Time { return time.Now().Add(-time.Hour) } // issued an hour ago
	ts, err := NewTokenSource(e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if !errors.Is(err, ErrAssertionExpired) {
		t.Fatalf("err = %v, want ErrAssertionExpired", err)
	}
}

// tamper rewrites the api_key attribute of the signed assertion on its
// way to the server.
type tamper struct{ base http.RoundTripper }

func (tp tamper) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	xml, _ := base64.StdEncoding.DecodeString(form.Get("assertion"))
	xml = bytes.Replace(xml, []byte(">"+form.Get("client_id")+"</saml2:AttributeValue>"),
		[]byte(">another-client</saml2:AttributeValue>"), 1)
	form.Set("assertion", base64.StdEncoding.EncodeToString(xml))
	enc := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(enc))
	r2.ContentLength = int64(len(enc))
	return tp.base.RoundTrip(r2)
}

func TestSimRejectsTamperedAttribute(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	client := e.srv.Client()
	client.Transport = tamper{client.Transport}
	opts := e.options()
	opts.HTTPClient = client
	ts, _ := NewTokenSource(e.cred, opts)
	_, err := ts.Token()
	if !errors.Is(err, ErrSignatureRejected) {
		t.Fatalf("err = %v, want ErrSignatureRejected", err)
	}
}

func TestSimFiftyGoroutinesOneExchange(t *testing.T) {
	e := newSim(t, sfsim.Options{Latency: 0})
	ts, _ := NewTokenSource(e.cred, e.options())
	var wg sync.WaitGroup
	start := make(chan struct{})
	toks := make([]string, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := ts.Token()
			errs[i] = err
			if err == nil {
				toks[i] = tok.AccessToken
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range 50 {
		if errs[i] != nil || toks[i] != toks[0] {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
	}
	if n := len(e.tokenRequests()); n != 1 {
		t.Fatalf("simulator saw %d token requests for 50 goroutines, want 1", n)
	}
}

// After SF drops the token (LGN0022), one Refresh and one retry work.
func TestSimExpiredTokenRefresh(t *testing.T) {
	for _, status := range []int{401, 403} {
		e := newSim(t, sfsim.Options{ExpiredTokenStatus: status})
		ts, _ := NewTokenSource(e.cred, e.options())
		if got, _ := e.get(t, ts, "/odata/v2/User?$top=1"); got != 200 {
			t.Fatalf("first call: %d", got)
		}
		e.sim.ExpireTokens()
		got, body := e.get(t, ts, "/odata/v2/User?$top=1")
		if got != status || !bytes.Contains(body, []byte("LGN00")) {
			t.Fatalf("after expiry: %d %s", got, body)
		}
		client := ts.Client(e.srv.Client())
		if err := client.Transport.(interface{ Refresh(context.Context) error }).Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		reqs := e.tokenRequests()
		if keys := strings.Join(reqs[len(reqs)-1].FormKeys, ","); !strings.Contains(keys, "new_token") {
			t.Errorf("refresh form keys %s lack new_token", keys)
		}
		if got, _ := e.get(t, ts, "/odata/v2/User?$top=1"); got != 200 {
			t.Fatalf("after refresh: %d", got)
		}
	}
}

// Identifier modes end to end: the simulator resolves username and e-mail.
func TestSimIdentifierModes(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	ts, _ := NewTokenSource(e.cred, e.options())
	status, body := e.get(t, ts, "/odata/v2/User('"+e.cred.UserID+"')?$select=username,email&$format=json")
	if status != 200 {
		t.Fatalf("reading the user: %d %s", status, body)
	}
	var u struct {
		D struct{ Username, Email string } `json:"d"`
	}
	if err := json.Unmarshal(body, &u); err != nil || u.D.Username == "" || u.D.Email == "" {
		t.Fatalf("user record %s: %v", body, err)
	}
	for _, c := range []struct {
		mode IdentifierMode
		id   string
	}{{Username, u.D.Username}, {Email, u.D.Email}} {
		cred := e.cred
		cred.Mode, cred.UserID = c.mode, c.id
		ts, _ := NewTokenSource(cred, e.options())
		if _, err := ts.Token(); err != nil {
			t.Errorf("%s %q: %v", c.mode, c.id, err)
		}
		// The same value in the wrong mode is an unknown user (case 1).
		cred.Mode = UserID
		ts, _ = NewTokenSource(cred, e.options())
		if _, err := ts.Token(); !errors.Is(err, ErrUserNotFound) || !strings.Contains(err.Error(), "userId") {
			t.Errorf("%q as userId: err = %v, want ErrUserNotFound naming the mode", c.id, err)
		}
	}
}

// Case 6 at the simulator: only /oauth/token, only the expected fields.
func TestSimNoIdpNoKeyFields(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	ts, _ := NewTokenSource(e.cred, e.options())
	ts.Token()
	ts.Refresh(context.Background())
	for _, r := range e.sim.Requests() {
		if r.Path != "/oauth/token" {
			t.Errorf("request to %s", r.Path)
		}
		for _, k := range r.FormKeys {
			switch k {
			case "grant_type", "company_id", "client_id", "assertion", "new_token":
			default:
				t.Errorf("form key %q sent", k)
			}
		}
	}
}

// Case 9 at the simulator: an expired certificate, allowed locally, is
// refused by SF with its own kind.
func TestSimExpiredCertificate(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	key, _ := testKeys(t)
	old := selfSigned(t, key, "old", time.Now().Add(-400*24*time.Hour), time.Now().Add(-24*time.Hour))
	e.sim.RegisterClient("old-client", old)
	e.cred.ClientID, e.cred.Key, e.cred.Certificate = "old-client", key, old
	if _, err := NewTokenSource(e.cred, e.options()); !errors.Is(err, ErrCertificateExpired) {
		t.Fatalf("NewTokenSource: err = %v", err)
	}
	opts := e.options()
	opts.AllowExpiredCertificate = true
	ts, err := NewTokenSource(e.cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if !errors.Is(err, ErrCertificateExpired) {
		t.Fatalf("err = %v, want ErrCertificateExpired from the endpoint", err)
	}
}

// A user id with XML metacharacters verifies at the simulator too: the
// signature holds and the user is simply unknown.
func TestSimMetacharacterUser(t *testing.T) {
	e := newSim(t, sfsim.Options{})
	e.cred.UserID = `a<b&c"d'e>f`
	ts, _ := NewTokenSource(e.cred, e.options())
	_, err := ts.Token()
	if !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("err = %v, want ErrUserNotFound (signature must verify)", err)
	}
}
