package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/examples/internal/authtest"
	"github.com/techwolf/sfconnector/examples/internal/tlsutil"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// TestEndToEnd does what a new user would: build the simulator, the
// frontend and the ingest programs, start the first two, take a token from
// the issuer with the client-credentials grant, ask for a run, poll it to
// done, and read it back with ingest. The records must be exactly the
// simulator's. Then it stops the frontend right after accepting more runs
// and starts it again: every accepted run must still end done.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts programs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tmp := t.TempDir()

	bin := filepath.Join(tmp, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/",
		"github.com/techwolf/sfconnector/examples/sfsim",
		"github.com/techwolf/sfconnector/examples/frontend",
		"github.com/techwolf/sfconnector/examples/ingest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The simulator writes tenant.json, the keystore and its certificate
	// into its directory once it listens.
	const users = 120
	simDir := filepath.Join(tmp, "sfsim")
	startProgram(ctx, t, filepath.Join(bin, "sfsim"), "-addr", "127.0.0.1:0",
		"-out", simDir, "-users", fmt.Sprint(users), "-page-size", "50", "-latency", "150ms",
		"-dump", filepath.Join(tmp, "dump"))
	waitForFile(ctx, t, filepath.Join(simDir, "tenant.json"))

	iss, err := authtest.NewIssuer("sfconnector-e2e", "sfconnector.runs")
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	simCA, err := os.ReadFile(filepath.Join(simDir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	issCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: iss.Certificate().Raw})
	trust := filepath.Join(tmp, "trust.pem")
	if err := os.WriteFile(trust, append(simCA, issCA...), 0o600); err != nil {
		t.Fatal(err)
	}

	staged := filepath.Join(tmp, "staged")
	frontCert := filepath.Join(tmp, "frontend.pem")
	frontArgs := []string{
		"-addr", "127.0.0.1:0", "-self-signed", "-cert", frontCert,
		"-config", filepath.Join(simDir, "tenant.json"),
		"-keystore", filepath.Join(simDir, "keystore"),
		"-dir", staged, "-ca", trust, "-workers", "1", "-lease", "2s",
		"-issuer", iss.Issuer(), // the key set is found by OpenID discovery
		"-audience", "sfconnector-e2e", "-scope", "sfconnector.runs",
	}
	front := startProgram(ctx, t, filepath.Join(bin, "frontend"), frontArgs...)
	api := newAPIClient(ctx, t, front, frontCert, clientCredentialsToken(t, iss))

	accepted := api.submit("users")
	if rec := api.waitDone(accepted.Location); rec.Records != users {
		t.Fatalf("run staged %d records, the simulator holds %d", rec.Records, users)
	}

	ingest := exec.CommandContext(ctx, filepath.Join(bin, "ingest"),
		"-dir", staged, "-config", filepath.Join(simDir, "tenant.json"),
		"-datatype", "users", "-run", accepted.RunID, "-wait", "20s")
	var out, errOut bytes.Buffer
	ingest.Stdout, ingest.Stderr = &out, &errOut
	if err := ingest.Run(); err != nil {
		t.Fatalf("ingest: %v\n%s", err, errOut.String())
	}
	got := userIDs(t, &out)
	want := userIDs(t, mustOpen(t, filepath.Join(tmp, "dump", "User.ndjson")))
	if len(got) != users || !slices.Equal(got, want) {
		t.Fatalf("ingest printed %d users, the simulator holds %d (%d in its dump); first %v, want %v",
			len(got), users, len(want), head(got), head(want))
	}

	// Shutdown loses no accepted run: runs accepted just before SIGTERM,
	// queued or cut off mid-way, are finished by the next start.
	var runs []runAccepted
	for _, dt := range []string{"employment", "positions", "education", "job_codes"} {
		runs = append(runs, api.submit(dt))
	}
	api.client.CloseIdleConnections() // so that the drain does not wait for this client
	if err := front.stop(); err != nil {
		t.Fatalf("frontend did not stop cleanly: %v", err)
	}
	if !strings.Contains(front.out.String(), `"msg":"stopped"`) {
		t.Fatal("frontend did not log its shutdown")
	}
	store, err := staging.NewDirStore(staged)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reader := runstate.NewReader(store, staging.Layout{BasePath: "sfsim"})
	unfinished := 0
	for _, r := range runs {
		rec, err := reader.Get(ctx, r.DataType, r.RunID)
		if err != nil {
			t.Fatalf("accepted run %s of %s lost at shutdown: %v", r.RunID, r.DataType, err)
		}
		if rec.Status != runstate.Done {
			unfinished++
		}
		t.Logf("at shutdown %s was %s", r.DataType, rec.Status)
	}
	if unfinished == 0 {
		t.Log("every run ended before the shutdown; the restart had nothing to resume")
	}

	// The second start uses the queued state records as its queue.
	front = startProgram(ctx, t, filepath.Join(bin, "frontend"), append(frontArgs, "-s3-queue")...)
	api = newAPIClient(ctx, t, front, frontCert, api.token)
	for _, r := range runs {
		rec := api.waitDone(r.Location)
		t.Logf("after restart %s is done, attempt %d", r.DataType, rec.Attempt)
	}
}

// apiClient calls a running frontend with a token.
type apiClient struct {
	ctx    context.Context
	t      *testing.T
	base   string
	token  string
	client *http.Client
}

func newAPIClient(ctx context.Context, t *testing.T, front *program, certFile, token string) *apiClient {
	t.Helper()
	base := front.out.waitFor(ctx, t, regexp.MustCompile(`"addr":"(https://127\.0\.0\.1:\d+)"`))
	client, err := tlsutil.ClientWithCA(certFile, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{ctx: ctx, t: t, base: base, token: token, client: client}
}

func (a *apiClient) submit(dataType string) runAccepted {
	a.t.Helper()
	body := strings.NewReader(`{"dataType":"` + dataType + `"}`)
	req, _ := http.NewRequestWithContext(a.ctx, "POST", a.base+"/v1/runs", body)
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	var accepted runAccepted
	if status := sendJSON(a.t, a.client, req, &accepted); status != http.StatusAccepted {
		a.t.Fatalf("POST /v1/runs %s: %d", dataType, status)
	}
	return accepted
}

// waitDone polls a run until it is done and returns its record.
func (a *apiClient) waitDone(location string) *runstate.Record {
	a.t.Helper()
	for {
		req, _ := http.NewRequestWithContext(a.ctx, "GET", a.base+location, nil)
		req.Header.Set("Authorization", "Bearer "+a.token)
		var rec runstate.Record
		if status := sendJSON(a.t, a.client, req, &rec); status != http.StatusOK {
			a.t.Fatalf("GET %s: %d", location, status)
		}
		if rec.Status == runstate.Done {
			return &rec
		}
		if rec.Status == runstate.Failed || a.ctx.Err() != nil {
			a.t.Fatalf("run %s of %s ended %s: %+v", rec.RunID, rec.DataType, rec.Status, rec.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// program is a started example program.
type program struct {
	cmd  *exec.Cmd
	out  *output
	done chan error
}

// startProgram starts a built program and stops it with SIGINT at the end
// of the test. Its stdout and stderr are collected together.
func startProgram(ctx context.Context, t *testing.T, path string, args ...string) *program {
	t.Helper()
	cmd := exec.CommandContext(ctx, path, args...)
	p := &program{cmd: cmd, out: &output{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for the program to exit; it returns the
// exit error, nil for status 0. Later calls return nil.
func (p *program) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	err, ok := <-p.done
	if ok {
		close(p.done)
	}
	return err
}

// output collects what a program writes; it never blocks the program.
type output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// waitFor waits until the output matches re and returns the first group.
func (o *output) waitFor(ctx context.Context, t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(o.String()); m != nil {
			return m[1]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no output matching %s", re)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func waitForFile(ctx context.Context, t *testing.T, path string) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s did not appear", path)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// clientCredentialsToken asks the issuer for a token as an OAuth 2 client.
func clientCredentialsToken(t *testing.T, iss *authtest.Issuer) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {iss.Scope}}
	req, _ := http.NewRequest("POST", iss.TokenURL(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(iss.ClientID, iss.ClientSecret)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if status := sendJSON(t, iss.Client(), req, &tok); status != http.StatusOK || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", status)
	}
	return tok.AccessToken
}

func sendJSON(t *testing.T, c *http.Client, req *http.Request, v any) int {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode
}

func mustOpen(t *testing.T, path string) io.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// userIDs reads NDJSON user records and returns their ids, sorted.
func userIDs(t *testing.T, r io.Reader) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var u struct {
			UserID string `json:"userId"`
		}
		if err := json.Unmarshal(sc.Bytes(), &u); err != nil || u.UserID == "" {
			t.Fatalf("line %q: not a user record (%v)", sc.Text(), err)
		}
		ids = append(ids, u.UserID)
	}
	slices.Sort(ids)
	return ids
}

func head(s []string) []string { return s[:min(3, len(s))] }
