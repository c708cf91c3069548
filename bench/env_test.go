package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/staging"
)

// dataType is the catalog entry every benchmark runs: the User entity set
// with the default catalog's selected properties.
const dataType = "users"

// envSim, when set in a test binary's environment, makes it serve a
// simulator instead of running tests; see serveSim.
const envSim = "SFCONNECTOR_BENCH_SIM"

func TestMain(m *testing.M) {
	if spec := os.Getenv(envSim); spec != "" {
		serveSim(spec)
		return
	}
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// catalog returns a catalog of the users data type read in pages of
// pageSize records.
func catalog(tb testing.TB, pageSize int) *connector.Catalog {
	tb.Helper()
	d, err := connector.DefaultCatalog().Lookup(dataType)
	if err != nil {
		tb.Fatal(err)
	}
	d.PageSize = pageSize
	c, err := connector.NewCatalog(d)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// simEnv is a simulator served over TLS on loopback, in this process or
// in a child process, with a credential in a directory keystore and a
// tenant config pointing at it.
type simEnv struct {
	sim    *sfsim.Server // nil when the simulator runs in a child process
	url    string
	client *http.Client // trusts the simulator's certificate
	token  string       // a bearer token for plain OData requests
	ks     connector.DirKeystore
	cfg    *connector.TenantConfig
}

// startSim serves a simulator in this process.
func startSim(tb testing.TB, opts sfsim.Options) *simEnv {
	tb.Helper()
	sim := sfsim.New(opts)
	srv := httptest.NewTLSServer(sim.Handler())
	tb.Cleanup(srv.Close)
	e := &simEnv{sim: sim, url: srv.URL, client: srv.Client()}
	e.setup(tb, sim.NewCredential(srv.URL), sim.IssueToken)
	return e
}

// simInfo is what a child process serving a simulator prints: where it
// listens, its TLS certificate and a credential. All are made up for the
// benchmark.
type simInfo struct {
	URL   string
	Cert  []byte // DER
	Cred  sfsim.Credential
	Token string
}

// serveSim serves a simulator of the users in spec ("users=N") until its
// standard input closes, which happens when the parent exits.
func serveSim(spec string) {
	n, err := strconv.Atoi(strings.TrimPrefix(spec, "users="))
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: bad", envSim, spec)
		os.Exit(2)
	}
	sim := sfsim.New(sfsim.Options{Users: n})
	srv := httptest.NewTLSServer(sim.Handler())
	cred := sim.NewCredential(srv.URL)
	json.NewEncoder(os.Stdout).Encode(simInfo{
		URL: srv.URL, Cert: srv.Certificate().Raw, Cred: cred, Token: sim.IssueToken(cred.UserID),
	})
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	os.Exit(0)
}

// startRemoteSim serves a simulator of users users in a child process, so
// that its memory and allocations are not counted in this one's.
func startRemoteSim(tb testing.TB, users int) *simEnv {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSim+"=users="+strconv.Itoa(users))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var info simInfo
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &info)
	}
	if err != nil {
		tb.Fatalf("simulator process: %v", err)
	}
	cert, err := x509.ParseCertificate(info.Cert)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	e := &simEnv{url: info.URL, client: &http.Client{Transport: tr}}
	e.setup(tb, info.Cred, func(string) string { return info.Token })
	return e
}

func (e *simEnv) setup(tb testing.TB, cred sfsim.Credential, issue func(string) string) {
	tb.Helper()
	dir := tb.TempDir()
	doc, _ := json.Marshal(map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
	})
	for name, data := range map[string][]byte{
		"sf-cred": doc, "s3-access": []byte("unused"), "s3-secret": []byte("unused"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	e.ks = connector.DirKeystore{Dir: dir}
	e.cfg = &connector.TenantConfig{
		SFAddress: e.url, SFCredentialName: "sf-cred",
		S3Bucket: "bench", S3Region: "us-east-1", S3BasePath: "bench",
		S3AccessKeyAlias: "s3-access", S3SecretKeyAlias: "s3-secret",
	}
	e.token = issue(cred.UserID)
}

// connector returns a connector on the simulator that stages into store.
func (e *simEnv) connector(tb testing.TB, store staging.Store, cat *connector.Catalog) *connector.Connector {
	tb.Helper()
	c, err := connector.NewFromTenant(context.Background(), e.cfg, e.ks, &connector.Options{
		Store: store, Catalog: cat, HTTPClient: e.client, WorkerID: "bench",
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// firstURL is the URL of the first page the connector asks for.
func (e *simEnv) firstURL(tb testing.TB, cat *connector.Catalog) string {
	tb.Helper()
	d, err := cat.Lookup(dataType)
	if err != nil {
		tb.Fatal(err)
	}
	oc, err := odata.NewClient(e.url+"/odata/v2", e.client, nil)
	if err != nil {
		tb.Fatal(err)
	}
	u, err := oc.URL(d.Query())
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// readAll pages through the entity set from u with a plain HTTP client,
// discarding the bodies, and returns the records served. It is the
// simulator serving alone: no decoding beyond finding the next link.
func (e *simEnv) readAll(tb testing.TB, u string) int {
	tb.Helper()
	var body bytes.Buffer
	n := 0
	for u != "" {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		resp, err := e.client.Do(req)
		if err != nil {
			tb.Fatal(err)
		}
		body.Reset()
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			tb.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
		}
		b := body.Bytes()
		n += bytes.Count(b, []byte(`{"__metadata":`))
		u = ""
		if i := bytes.LastIndex(b, []byte(`"__next":"`)); i >= 0 {
			rest := b[i+len(`"__next":"`):]
			u = string(rest[:bytes.IndexByte(rest, '"')])
		}
	}
	return n
}

// dirStore returns a DirStore in a fresh temporary directory.
func dirStore(tb testing.TB) *staging.DirStore {
	tb.Helper()
	st, err := staging.NewDirStore(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// s3Store returns a store on a fresh bucket of the shared S3 server,
// reached at endpoint ("" means the server itself).
func s3Store(tb testing.TB, endpoint string) *staging.S3Store {
	tb.Helper()
	srv := s3test.Shared(tb)
	o := srv.Options(srv.NewBucket(tb))
	if endpoint != "" {
		o.Endpoint = endpoint
	}
	st, err := staging.NewS3Store(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// run works one run of the users data type and checks that it ended done
// with want records (want < 0: any).
func run(tb testing.TB, c *connector.Connector, want int64) time.Duration {
	tb.Helper()
	start := time.Now()
	rec, err := c.Run(context.Background(), dataType)
	took := time.Since(start)
	if err != nil {
		tb.Fatalf("run: %v", err)
	}
	if want >= 0 && rec.Records != want {
		tb.Fatalf("run staged %d records, want %d", rec.Records, want)
	}
	return took
}

// peakMem samples the heap while a run works.
type peakMem struct {
	stop, done             chan struct{}
	inuse, allocated, live uint64 // peak HeapInuse, HeapAlloc and live heap
}

// watchMem samples the heap every interval until stopped.
func watchMem(interval time.Duration) *peakMem {
	p := &peakMem{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"}, // HeapAlloc
		{Name: "/memory/classes/heap/unused:bytes"},  // HeapInuse - HeapAlloc
		{Name: "/gc/heap/live:bytes"},                // marked by the last GC
	}
	take := func() {
		metrics.Read(samples)
		obj, unused := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		p.allocated = max(p.allocated, obj)
		p.inuse = max(p.inuse, obj+unused)
		p.live = max(p.live, samples[2].Value.Uint64())
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			take()
			select {
			case <-p.stop:
				take()
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *peakMem) Stop() {
	close(p.stop)
	<-p.done
}

// vmHWM returns the peak resident set size of this process, in bytes.
func vmHWM(tb testing.TB) uint64 {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM in /proc/self/status")
	return 0
}

const mib = 1 << 20

// settle collects garbage so a measurement starts from a small heap.
func settle() { runtime.GC() }
