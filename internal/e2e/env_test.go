package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(envWorker); path != "" {
		os.Exit(workerMain(path))
	}
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

const (
	dataType  = "users"
	entitySet = "User"
	basePath  = "tenants/e2e"
)

// env is one tenant: the simulator served over TLS with a registered
// credential in a directory keystore, and a fresh bucket of the shared S3
// server reached through a fault proxy. Everything a run sends or logs
// that could hold a secret is recorded for the leak checks.
type env struct {
	t       testing.TB
	sim     *sfsim.Server
	sf      *httptest.Server
	s3      *s3test.Server
	proxy   *s3latency.Proxy
	store   *staging.S3Store // through the proxy
	direct  *staging.S3Store // the same bucket, not through the proxy
	bucket  string
	cat     *connector.Catalog
	dt      *connector.DataType
	cfg     *connector.TenantConfig
	ks      connector.DirKeystore
	cred    sfsim.Credential
	logs    *syncBuffer
	secrets *secretRecorder

	// beforeOData, when set, is called with the 1-based count of OData
	// requests before the simulator serves each one.
	beforeOData   atomic.Pointer[func(n int)]
	odataRequests atomic.Int64
}

// newEnv starts a tenant with opts.Users users read pageSize a page; edit,
// when not nil, changes the data type's catalog entry.
func newEnv(t testing.TB, opts sfsim.Options, pageSize int, edit ...func(*connector.DataType)) *env {
	t.Helper()
	if opts.Users == 0 {
		opts.Users = 30
	}
	sim := sfsim.New(opts)
	e := &env{t: t, sim: sim}
	simHandler := sim.Handler()
	sf := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/odata/") {
			n := e.odataRequests.Add(1)
			if h := e.beforeOData.Load(); h != nil {
				(*h)(int(n))
			}
		}
		simHandler.ServeHTTP(w, r)
	}))
	// Handshakes that tests make fail on purpose are not news.
	sf.Config.ErrorLog = log.New(io.Discard, "", 0)
	sf.StartTLS()
	t.Cleanup(sf.Close)
	cred := sim.NewCredential(sf.URL)

	dir := t.TempDir()
	doc, _ := json.Marshal(map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
	})
	writeFile(t, filepath.Join(dir, "sf-cred"), doc)

	s3 := s3test.Shared(t)
	proxy := s3latency.ForTest(t, s3.Endpoint, nil)
	bucket := s3.NewBucket(t)
	o := s3.Options(bucket)
	o.Endpoint = proxy.URL()
	o.RetryMaxAttempts = 0 // the SDK's default, as in production
	store, err := staging.NewS3Store(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The test's own reads go around the proxy, so that they see what the
	// runs left whatever fault the proxy shows.
	direct, err := staging.NewS3Store(context.Background(), s3.Options(bucket))
	if err != nil {
		t.Fatal(err)
	}
	e.direct = direct

	d, err := connector.DefaultCatalog().Lookup(dataType)
	if err != nil {
		t.Fatal(err)
	}
	d.PageSize = pageSize
	for _, f := range edit {
		f(d)
	}
	cat, err := connector.NewCatalog(d)
	if err != nil {
		t.Fatal(err)
	}

	e.sf, e.s3, e.proxy, e.store, e.bucket = sf, s3, proxy, store, bucket
	e.cat, e.dt, e.ks, e.cred = cat, d, connector.DirKeystore{Dir: dir}, cred
	e.logs = &syncBuffer{}
	e.cfg = &connector.TenantConfig{
		SFAddress: sf.URL, SFCredentialName: "sf-cred",
		S3Bucket: bucket, S3Region: s3.Region, S3BasePath: basePath,
		S3AccessKeyAlias: "s3-access", S3SecretKeyAlias: "s3-secret",
	}
	e.secrets = newSecretRecorder(sf.Client().Transport)
	e.secrets.addPEM(cred.KeyPEM)
	e.secrets.add(s3.SecretKey)
	writeFile(t, filepath.Join(dir, "s3-access"), []byte(s3.AccessKey))
	writeFile(t, filepath.Join(dir, "s3-secret"), []byte(s3.SecretKey))
	return e
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// fastRetries keeps the matrix quick: three attempts, waits of a few
// milliseconds, and a cap that a Retry-After header of a second reaches.
func fastRetries() *odata.Options {
	return &odata.Options{Retry: odata.RetryPolicy{
		MaxAttempts:       3,
		BaseDelay:         5 * time.Millisecond,
		MaxDelay:          400 * time.Millisecond,
		MaxElapsed:        5 * time.Second,
		DefaultRetryAfter: 10 * time.Millisecond,
	}}
}

// connector builds a connector on the tenant, logging at debug level into
// e.logs, with its SF traffic going through the secret recorder. Fields
// of opts left zero get the test's defaults.
func (e *env) connector(t testing.TB, opts connector.Options) *connector.Connector {
	t.Helper()
	if opts.Store == nil {
		opts.Store = e.store
	}
	if opts.Catalog == nil {
		opts.Catalog = e.cat
	}
	if opts.OData == nil {
		opts.OData = fastRetries()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts.HTTPClient = &http.Client{Transport: e.secrets, Timeout: 20 * time.Second}
	c, err := connector.NewFromTenant(context.Background(), e.cfg, e.ks, &opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *env) layout() staging.Layout { return staging.Layout{BasePath: basePath} }

func (e *env) reader() *runstate.Reader { return runstate.NewReader(e.direct, e.layout()) }

// expected is what a run of the data type must stage from the
// simulator's records: one line per record, the selected properties
// through the data type's transform, in canonical form.
func (e *env) expected(t testing.TB) []string {
	t.Helper()
	tr := e.dt.Transformer()
	var out []string
	for _, m := range e.sim.Records(entitySet) {
		sel := map[string]any{"__metadata": m["__metadata"]}
		for _, p := range e.dt.Select {
			if v, ok := m[p]; ok {
				sel[p] = v
			}
		}
		raw, err := json.Marshal(sel)
		if err != nil {
			t.Fatal(err)
		}
		line, _, err := tr.Append(nil, raw)
		if err != nil {
			t.Fatalf("transform of %s: %v", raw, err)
		}
		out = append(out, canonical(t, line))
	}
	slices.Sort(out)
	return out
}

// staged reads a done run back as the ingestion side does.
func (e *env) staged(t testing.TB, rec *runstate.Record) ([]string, error) {
	t.Helper()
	var out []string
	for raw, err := range e.reader().Records(context.Background(), rec) {
		if err != nil {
			return out, err
		}
		out = append(out, canonical(t, raw))
	}
	slices.Sort(out)
	return out, nil
}

// objects lists the keys below the run's prefix, relative to it.
func (e *env) objects(t testing.TB, runID string) []string {
	t.Helper()
	prefix, err := e.layout().RunPrefix(dataType, runID)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := e.direct.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, strings.TrimPrefix(o.Key, prefix))
	}
	return keys
}

func canonical(t testing.TB, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %q: %v", raw, err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b.Bytes()))
}

// compare counts the expected lines missing from got, and the lines got
// holds more than once (or that were never expected).
func compare(got, want []string) (missing, extra int) {
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] == 0 {
			missing++
			continue
		}
		seen[w]--
	}
	for _, n := range seen {
		extra += n
	}
	return missing, extra
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
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

// secretRecorder is the transport under the connector's SF client. It
// remembers every secret that crosses it: the bearer tokens sent, the
// signed assertions sent to the token endpoint, and the access tokens it
// returns. Secrets added by hand (the private key, the S3 secret key)
// join them.
type secretRecorder struct {
	base http.RoundTripper

	mu         sync.Mutex
	seen       map[string]bool
	tokenForms []string // bodies of token requests, as sent
}

func newSecretRecorder(base http.RoundTripper) *secretRecorder {
	return &secretRecorder{base: base, seen: map[string]bool{}}
}

func (s *secretRecorder) add(secret string) {
	if len(secret) < 8 {
		return
	}
	s.mu.Lock()
	s.seen[secret] = true
	s.mu.Unlock()
}

// addPEM records a PEM key whole, each of its base64 lines, and its DER
// in one-line base64, the forms a leak would take.
func (s *secretRecorder) addPEM(p []byte) {
	s.add(string(p))
	for _, line := range strings.Split(string(p), "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
			s.add(line)
		}
	}
	if b, _ := pem.Decode(p); b != nil {
		s.add(base64.StdEncoding.EncodeToString(b.Bytes)[:64])
	}
}

// all returns the secrets seen so far.
func (s *secretRecorder) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.seen {
		out = append(out, k)
	}
	return out
}

// RoundTrip records the secrets in req and in a token endpoint's answer.
func (s *secretRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if a := req.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		s.add(strings.TrimPrefix(a, "Bearer "))
	}
	isToken := strings.HasSuffix(req.URL.Path, sfsim.TokenEndpoint)
	if isToken && req.Body != nil {
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.tokenForms = append(s.tokenForms, string(body))
		s.mu.Unlock()
		if form, err := url.ParseQuery(string(body)); err == nil {
			if a := form.Get("assertion"); a != "" {
				s.add(a)
				if xml, err := base64.StdEncoding.DecodeString(a); err == nil {
					s.addSignature(xml)
				}
			}
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := s.base.RoundTrip(req)
	if err != nil || !isToken {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr == nil {
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(body, &tok) == nil {
			s.add(tok.AccessToken)
		}
	}
	return resp, nil
}

// addSignature records the signature value of a signed assertion.
func (s *secretRecorder) addSignature(xml []byte) {
	const open, close = "<ds:SignatureValue>", "</ds:SignatureValue>"
	text := string(xml)
	if i := strings.Index(text, open); i >= 0 {
		if j := strings.Index(text[i:], close); j > 0 {
			s.add(strings.TrimSpace(text[i+len(open) : i+j]))
		}
	}
}
