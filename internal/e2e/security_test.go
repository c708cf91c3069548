package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

// TestNoSecretInLogsErrorsOrRecords runs several extractions with faults
// on both sides through one connector logging at debug level, then looks
// for every secret the runs handled (the private key, each assertion and
// access token, the S3 secret key) in every log line, every error, every
// object the runs left but the pages, and the %v and %+v forms of what a
// host might print.
func TestNoSecretInLogsErrorsOrRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	c := e.connector(t, connector.Options{})
	ctx := context.Background()

	// A forced token refresh within a second of the last one keeps the
	// token (sfauth shares one refresh among concurrent failures), so the
	// steps that make SF refuse the token wait that second out.
	settle := func() { time.Sleep(1100 * time.Millisecond) }
	steps := []struct {
		inject func()
		want   connector.ErrorKind
	}{
		{func() {}, ""},
		{func() { e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultTokenRejected}) }, ""},
		{func() {
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: 2, Status: 429, RetryAfter: "0"})
		}, ""},
		{func() { e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 2, Kind: sfsim.FaultTruncate}) }, ""},
		{func() { settle(); e.sim.ExpireTokens() }, ""},
		{func() {
			settle()
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Times: 2, Kind: sfsim.FaultTokenRejected})
		}, connector.KindAuth},
		{func() { e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 0, Kind: sfsim.FaultForeignNext}) },
			connector.KindBadResponse},
		{func() {
			e.proxy.ClearFaults()
			e.proxy.Inject(s3latency.Fault{Kind: s3latency.SlowDown, Match: secondPagePut, Times: -1})
		}, connector.KindStorage},
		// Last: sfauth remembers a refused exchange for a while.
		{func() {
			settle()
			e.proxy.ClearFaults()
			e.sim.Inject(sfsim.Fault{EntitySet: sfsim.TokenEndpoint, Times: -1, Status: 401})
			e.sim.ExpireTokens()
		}, connector.KindAuth},
	}
	var texts []string
	var ids []string
	for i, step := range steps {
		step.inject()
		rec, err := c.Run(ctx, dataType)
		texts = append(texts, fmt.Sprint(err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
		if rec == nil {
			t.Fatalf("run %d: no record: %v", i, err)
		}
		ids = append(ids, rec.RunID)
		texts = append(texts, fmt.Sprintf("%+v", *rec))
		var kind connector.ErrorKind
		if rec.Error != nil {
			texts = append(texts, rec.Error.Message)
			kind = connector.ErrorKind(rec.Error.Kind)
		}
		if kind != step.want {
			t.Errorf("run %d ended %s (%q), want kind %q: %v", i, rec.Status, kind, step.want, err)
		}
	}
	e.proxy.ClearFaults()
	e.sim.ClearFaults()

	s3opts := e.s3.Options(e.bucket)
	texts = append(texts, fmt.Sprintf("%v", s3opts), fmt.Sprintf("%+v", s3opts), fmt.Sprintf("%#v", s3opts),
		fmt.Sprintf("%v", e.store), fmt.Sprintf("%+v", e.store))

	secrets := e.secrets.all()
	if len(secrets) < 10 {
		t.Fatalf("only %d secrets recorded", len(secrets))
	}
	// The check itself must see a leak: one recorded of each kind.
	for _, leak := range []string{
		"token=" + e.sim.IssueToken(e.cred.UserID), // not recorded: must not match
		strings.Split(string(e.cred.KeyPEM), "\n")[3],
		e.s3.SecretKey,
	} {
		got := len(e.secrets.found(`{"msg":"x","v":"` + leak + `"}`))
		if want := !strings.HasPrefix(leak, "token="); (got > 0) != want {
			t.Fatalf("leak check on %.10q… found %d secrets", leak, got)
		}
	}
	if !strings.Contains(e.logs.String(), `"level":"DEBUG"`) && !strings.Contains(e.logs.String(), `"level":"INFO"`) {
		t.Fatalf("the runs logged nothing:\n%s", e.logs.String())
	}
	for i, text := range texts {
		e.secrets.checkText(t, fmt.Sprintf("text %d", i), text)
	}
	objs, err := e.direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		obj, err := e.direct.Get(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(obj.Body)
		obj.Body.Close()
		e.secrets.checkText(t, o.Key, b.String())
	}
	for _, id := range ids {
		e.checkNoLeaks(t, id)
	}
	t.Logf("%d secrets checked against %d log bytes, %d texts and %d objects",
		len(secrets), len(e.logs.String()), len(texts), len(objs))
}

// TestForeignNextLinkGetsNothing serves a __next link to another loopback
// listener, by address and by name: the run fails with the unsafe-link
// error before any byte goes to the other listener, which counts every
// connection it accepts.
func TestForeignNextLinkGetsNothing(t *testing.T) {
	t.Parallel()
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	otherSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other host got %s %s", r.Method, r.URL)
	}))
	otherSrv.Listener.Close()
	otherSrv.Listener = &countingListener{Listener: other, n: &conns}
	otherSrv.StartTLS()
	defer otherSrv.Close()
	_, port, _ := net.SplitHostPort(other.Addr().String())

	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "sfsim-other.invalid"} {
		t.Run(host, func(t *testing.T) {
			e := newEnv(t, sfsim.Options{Users: users}, pageSize)
			c := e.connector(t, connector.Options{})
			e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 0, Kind: sfsim.FaultForeignNext, NextHost: host})
			rec, err := c.Run(context.Background(), dataType)
			var re *connector.RunError
			if !errors.As(err, &re) || re.Kind != connector.KindBadResponse || !errors.Is(err, odata.ErrUnsafeLink) {
				t.Fatalf("err = %v, want a run failed with kind sf_bad_response wrapping odata.ErrUnsafeLink", err)
			}
			if rec.Status != runstate.Failed || rec.Manifest != "" {
				t.Errorf("record %+v", rec)
			}
			if n := conns.Load(); n != 0 {
				t.Fatalf("the other listener accepted %d connections", n)
			}
			odataReqs := 0
			for _, r := range e.sim.Requests() {
				if r.EntitySet != "" {
					odataReqs++
				}
			}
			if odataReqs != 1 {
				t.Errorf("%d OData requests, want the first page only", odataReqs)
			}
		})
	}
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// badNames are data types and run ids that must never become part of a
// key.
var badNames = []string{
	"../users", "users/../../x", "..", ".", "users%2F..%2Fx", "users%2fx", "a\x00b", "users\x00",
	strings.Repeat("a", 65), strings.Repeat("a", 4096), "Users", "users ", " users", "", "users/x",
	`users\x`, "01941a7e-4a3b-7c3d-8e4f-0123456789ab/../x", "0194..7e-4a3b-7c3d-8e4f-0123456789ab",
	"ünïcode", "users\n",
}

// TestKeysOnlyFromCheckedParts sends bad data types and run ids to
// Submit, Status, Cancel and the Reader: each is refused, nothing is
// written, and no request that names the bad text reaches S3.
func TestKeysOnlyFromCheckedParts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	c := e.connector(t, connector.Options{})
	ctx := context.Background()
	good, err := c.Run(ctx, dataType)
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	e.proxy.ResetRequests()
	r := runstate.NewReader(e.store, e.layout())

	for _, bad := range badNames {
		if _, err := c.Submit(ctx, bad); !errors.Is(err, connector.ErrUnknownDataType) {
			t.Errorf("Submit(%q) = %v, want ErrUnknownDataType", bad, err)
		}
		if _, err := c.Run(ctx, bad); err == nil {
			t.Errorf("Run(%q) succeeded", bad)
		}
		if _, err := c.Status(ctx, bad); !errors.Is(err, runstate.ErrNotFound) {
			t.Errorf("Status(%q) = %v, want ErrNotFound", bad, err)
		}
		if err := c.Cancel(ctx, bad); err == nil {
			t.Errorf("Cancel(%q) succeeded", bad)
		}
		if _, err := r.Get(ctx, bad, good.RunID); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Reader.Get(%q, run) = %v, want ErrInvalidKey", bad, err)
		}
		if _, err := r.Get(ctx, dataType, bad); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Reader.Get(users, %q) = %v, want ErrInvalidKey", bad, err)
		}
		if _, err := r.List(ctx, bad); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Reader.List(%q) = %v, want ErrInvalidKey", bad, err)
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		if _, err := r.Wait(wctx, dataType, bad, 10*time.Millisecond); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Reader.Wait(users, %q) = %v, want ErrInvalidKey", bad, err)
		}
		cancel()
		for _, forged := range []runstate.Record{
			{RunID: bad, DataType: dataType, Status: runstate.Done, Attempt: 1},
			{RunID: good.RunID, DataType: bad, Status: runstate.Done, Attempt: 1},
		} {
			for _, err := range r.Records(ctx, &forged) {
				if !errors.Is(err, staging.ErrInvalidKey) {
					t.Errorf("Reader.Records of run %q of %q = %v, want ErrInvalidKey", forged.RunID, forged.DataType, err)
				}
				break
			}
		}
	}

	after, err := e.direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("bad names changed the bucket: %d objects, then %d", len(before), len(after))
	}
	for _, req := range e.proxy.Requests() {
		for _, bad := range badNames {
			if bad != "" && len(bad) > 2 && strings.Contains(req.Path, bad) {
				t.Errorf("S3 got %s %s, naming %q", req.Method, req.Path, bad)
			}
		}
		if strings.Contains(req.Path, "/../") || strings.Contains(req.Path, "%") {
			t.Errorf("S3 got %s %s", req.Method, req.Path)
		}
	}
}

// TestSFNeedsTLS: plain http to SF is refused everywhere unless the caller
// asks for it and the host is a loopback address; a refused run sends
// nothing. With the option on loopback, a run works.
func TestSFNeedsTLS(t *testing.T) {
	t.Parallel()
	sim := sfsim.New(sfsim.Options{Users: users})
	plain := httptest.NewServer(sim.Handler())
	defer plain.Close()
	cred := sim.NewCredential(plain.URL)
	key, cert, err := sfauth.LoadPEM(cred.KeyPEM, cred.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	sfCred := sfauth.Credential{TokenURL: cred.TokenURL, CompanyID: cred.CompanyID,
		ClientID: cred.ClientID, UserID: cred.UserID, Key: key, Certificate: cert}
	store, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(plain.URL, "http://"))

	// The token source refuses an http token URL unless told otherwise.
	if _, err := sfauth.NewTokenSource(sfCred, nil); !errors.Is(err, sfauth.ErrInsecureTokenURL) {
		t.Errorf("token source on http: %v, want ErrInsecureTokenURL", err)
	}
	far := sfCred
	far.TokenURL = "http://sf.example.test/oauth/token"
	if _, err := sfauth.NewTokenSource(far, &sfauth.Options{AllowInsecureLoopback: true}); !errors.Is(err, sfauth.ErrInsecureTokenURL) {
		t.Errorf("token source on http to a remote host: %v, want ErrInsecureTokenURL", err)
	}

	// The OData client and the connector refuse an http service root.
	for _, tc := range []struct {
		url   string
		allow bool
	}{
		{plain.URL + "/odata/v2", false},
		{"http://sf.example.test/odata/v2", true},
		{"http://10.0.0.1/odata/v2", true},
		{"http://127.0.0.1.example.test:" + port + "/odata/v2", true},
	} {
		if _, err := odata.NewClient(tc.url, http.DefaultClient, &odata.Options{AllowInsecureLoopback: tc.allow}); !errors.Is(err, odata.ErrInsecure) {
			t.Errorf("odata.NewClient(%s, loopback allowed %v) = %v, want ErrInsecure", tc.url, tc.allow, err)
		}
		_, err := connector.New(connector.Options{Store: store, SFServiceURL: tc.url, SFClient: http.DefaultClient,
			AllowInsecureLoopback: tc.allow})
		if !errors.Is(err, connector.ErrBadOptions) {
			t.Errorf("connector.New(%s, loopback allowed %v) = %v, want ErrBadOptions", tc.url, tc.allow, err)
		}
	}

	// A tenant config on http is refused, with or without the option
	// for a host that is not loopback.
	cfg := connector.TenantConfig{SFAddress: plain.URL, SFCredentialName: "sf-cred", S3Bucket: "staging-test",
		S3Region: "eu-west-1", S3AccessKeyAlias: "a", S3SecretKeyAlias: "s"}
	if err := cfg.Validate(connector.ConfigOptions{}); err == nil || !strings.Contains(err.Error(), "SF_address") {
		t.Errorf("http SF_address accepted: %v", err)
	}
	cfg.SFAddress = "http://sf.example.test"
	if err := cfg.Validate(connector.ConfigOptions{AllowInsecureLoopback: true}); err == nil {
		t.Error("http SF_address on a remote host accepted with the loopback option")
	}
	if len(sim.Requests()) != 0 {
		t.Fatalf("the simulator got %d requests while everything was refused", len(sim.Requests()))
	}

	// Asked for explicitly, on loopback, plain http works.
	ts, err := sfauth.NewTokenSource(sfCred, &sfauth.Options{AllowInsecureLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := connector.New(connector.Options{Store: store, SFServiceURL: plain.URL + "/odata/v2",
		SFClient: ts.Client(http.DefaultClient), AllowInsecureLoopback: true, OData: fastRetries()})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Run(context.Background(), dataType)
	if err != nil || rec.Records != users {
		t.Fatalf("run over loopback http: %v, %d records", err, rec.Records)
	}
}

// TestSFTLSIsVerified: an SF server whose certificate the client does not
// trust gets no token request and no OData request past the handshake.
func TestSFTLSIsVerified(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	e.secrets.base = &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	c := e.connector(t, connector.Options{})
	_, err := c.Run(context.Background(), dataType)
	var re *connector.RunError
	if !errors.As(err, &re) {
		t.Fatalf("run against an untrusted certificate: %v, want a failed run", err)
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Fatalf("the simulator served %d requests over an unverified connection", n)
	}
}

// TestCredentialStaysHome covers the SAML cases a whole run can show.
// Case 2: a key that does not belong to the certificate is refused when
// the connector is built, before any request, and the error holds no key
// material. Case 6: a run asks SF only for /oauth/token and OData, the
// token form carries only the expected fields, and no form holds any
// part of the private key.
func TestCredentialStaysHome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	other := e.sim.NewCredential(e.sf.URL)
	mixed, _ := json.Marshal(map[string]string{
		"companyId": e.cred.CompanyID, "clientId": e.cred.ClientID, "userId": e.cred.UserID,
		"privateKey": string(other.KeyPEM), "certificate": string(e.cred.CertPEM),
	})
	writeFile(t, filepath.Join(e.ks.Dir, "sf-mixed"), mixed)
	cfg := *e.cfg
	cfg.SFCredentialName = "sf-mixed"
	_, err := connector.NewFromTenant(context.Background(), &cfg, e.ks, &connector.Options{
		Store: e.store, HTTPClient: &http.Client{Transport: e.secrets},
	})
	if !errors.Is(err, sfauth.ErrKeyMismatch) {
		t.Fatalf("key of another certificate: %v, want ErrKeyMismatch", err)
	}
	e.secrets.addPEM(other.KeyPEM)
	e.secrets.checkText(t, "the key mismatch error", err.Error())
	if n := len(e.sim.Requests()); n != 0 {
		t.Fatalf("%d requests sent with a mismatched key", n)
	}

	c := e.connector(t, connector.Options{})
	e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultTokenRejected})
	if _, err := c.Run(context.Background(), dataType); err != nil {
		t.Fatal(err)
	}
	tokens := 0
	for _, r := range e.sim.Requests() {
		switch {
		case r.Path == sfsim.TokenEndpoint:
			tokens++
			for _, k := range r.FormKeys {
				switch k {
				case "grant_type", "company_id", "client_id", "assertion", "new_token":
				default:
					t.Errorf("token form key %q sent", k)
				}
			}
		case strings.HasPrefix(r.Path, "/odata/v2/"):
		default:
			t.Errorf("request to %s", r.Path)
		}
	}
	if tokens != 2 {
		t.Errorf("%d token requests, want 2", tokens)
	}
	e.secrets.mu.Lock()
	forms := slices.Clone(e.secrets.tokenForms)
	e.secrets.mu.Unlock()
	if len(forms) != tokens {
		t.Fatalf("recorded %d token forms, the simulator saw %d", len(forms), tokens)
	}
	for _, line := range strings.Split(string(e.cred.KeyPEM), "\n") {
		if len(line) < 32 || strings.HasPrefix(line, "-----") {
			continue
		}
		for _, form := range forms {
			if strings.Contains(form, line) || strings.Contains(form, url.QueryEscape(line)) {
				t.Fatal("a token request carries part of the private key")
			}
		}
	}
}

// TestForgedStateRecordsIgnored plants state records a worker must not
// act on, as someone with write access to the bucket could: a record
// whose body names another run, one under a key that is not a run id, and
// one naming a data type that could leave its prefix. Workers on the
// shared S3 queue work the real run and write nothing for the forged
// ones.
func TestForgedStateRecordsIgnored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sfsim.Options{Users: users}, pageSize)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const (
		runA = "01941a7e-4a3b-7c3d-8e4f-0123456789aa" // the key's run
		runB = "01941a7e-4a3b-7c3d-8e4f-0123456789bb" // the body's run
	)
	queued := func(runID, dataType string) []byte {
		rec := runstate.Record{Schema: runstate.Schema, RunID: runID, DataType: dataType,
			Status: runstate.Queued, Created: time.Now().Add(-time.Hour)}
		b, err := rec.Encode()
		if err != nil {
			b = []byte(fmt.Sprintf(`{"schema":1,"runId":%q,"dataType":%q,"status":"queued","attempt":0,`+
				`"created":"2026-01-01T00:00:00Z","pages":0,"records":0,"bytes":0}`, runID, dataType))
		}
		return b
	}
	planted := map[string][]byte{
		basePath + "/users/" + runA + "/state.json":       queued(runB, dataType),
		basePath + "/users/not-a-run-id/state.json":       queued("not-a-run-id", dataType),
		basePath + "/users/" + runB + "x/state.json":      queued(runB+"x", dataType),
		basePath + "/users/" + runB + "/../state.json":    queued(runB, dataType),
		basePath + "/users/" + runA + "/x/state.json":     queued(runA, dataType),
		basePath + "/users/" + runB + "/pages/state.json": queued(runB, "../users"),
	}
	// Planted with a plain S3 client: the store itself refuses such keys.
	raw := e.s3.Client()
	for key, body := range planted {
		if _, err := raw.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		}); err != nil {
			t.Logf("planting %s: %v", key, err)
		}
	}
	before, err := e.direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}

	q := connector.NewS3Queue(e.store, e.layout(), e.cat.Names(), &connector.S3QueueOptions{Poll: 20 * time.Millisecond})
	c := e.connector(t, connector.Options{Queue: q, Workers: 2})
	id, err := c.Submit(ctx, dataType)
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Start(wctx) }()
	rec, err := e.reader().Wait(ctx, dataType, id, 20*time.Millisecond)
	if err != nil || rec.Status != runstate.Done {
		t.Fatalf("the real run: %v, %v", rec, err)
	}
	time.Sleep(200 * time.Millisecond) // several more scans of the queue
	stop()
	<-done

	after, err := e.direct.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	prefix, _ := e.layout().RunPrefix(dataType, id)
	was := map[string]string{}
	for _, o := range before {
		was[o.Key] = o.ETag
	}
	for _, o := range after {
		if strings.HasPrefix(o.Key, prefix) {
			continue
		}
		if etag, ok := was[o.Key]; !ok || etag != o.ETag {
			t.Errorf("%s was written", o.Key)
		}
	}
	for _, r := range e.proxy.Requests() {
		if r.Method != "GET" && !strings.Contains(r.Path, id) {
			t.Errorf("S3 got %s %s", r.Method, r.Path)
		}
	}
	if n := e.odataRequests.Load(); n != 3 {
		t.Errorf("%d OData requests, want the 3 pages of the real run", n)
	}
}

// TestS3NeedsTLS: plain http to S3 is refused unless asked for on a
// loopback address, in the store and in the tenant config alike.
func TestS3NeedsTLS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		endpoint string
		allow    bool
	}{
		{"http://127.0.0.1:9000", false},
		{"http://s3.example.test", true},
		{"http://10.0.0.1:9000", true},
		{"http://169.254.169.254", true},
	} {
		_, err := staging.NewS3Store(ctx, staging.S3Options{Bucket: "staging-test", Region: "eu-west-1",
			Endpoint: tc.endpoint, AllowHTTP: tc.allow, AccessKey: "a", SecretKey: "s"})
		if err == nil {
			t.Errorf("S3 store on %s (loopback http allowed %v) accepted", tc.endpoint, tc.allow)
		}
		cfg := connector.TenantConfig{SFAddress: "https://api.example-sf.test", SFCredentialName: "sf-cred",
			S3Bucket: "staging-test", S3Region: "eu-west-1", S3AccessKeyAlias: "a", S3SecretKeyAlias: "s",
			S3Endpoint: tc.endpoint}
		if err := cfg.Validate(connector.ConfigOptions{AllowInsecureLoopback: tc.allow}); err == nil ||
			!strings.Contains(err.Error(), "S3_endpoint") {
			t.Errorf("S3_endpoint %s (loopback http allowed %v): %v", tc.endpoint, tc.allow, err)
		}
	}
}
