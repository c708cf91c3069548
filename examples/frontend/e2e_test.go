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
	"testing"
	"time"

	"github.com/techwolf/sfconnector/examples/frontend/internal/authtest"
	"github.com/techwolf/sfconnector/examples/internal/tlsutil"
)

// TestEndToEnd does what a new user would: build the simulator, the
// frontend and the ingest programs, start the first two, take a token from
// the issuer with the client-credentials grant, ask for a run, poll it to
// done, and read it back with ingest. The records must be exactly the
// simulator's.
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
		"-out", simDir, "-users", fmt.Sprint(users), "-page-size", "50", "-dump", filepath.Join(tmp, "dump"))
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
	front := startProgram(ctx, t, filepath.Join(bin, "frontend"),
		"-addr", "127.0.0.1:0", "-self-signed", "-cert", frontCert,
		"-config", filepath.Join(simDir, "tenant.json"),
		"-keystore", filepath.Join(simDir, "keystore"),
		"-dir", staged, "-ca", trust,
		"-issuer", iss.Issuer(), "-jwks-url", iss.JWKSURL(),
		"-audience", "sfconnector-e2e", "-scope", "sfconnector.runs")
	base := front.waitFor(ctx, t, regexp.MustCompile(`"addr":"(https://127\.0\.0\.1:\d+)"`))

	client := clientTrusting(t, frontCert)
	token := clientCredentialsToken(t, iss)

	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/runs", strings.NewReader(`{"dataType":"users"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	var accepted runAccepted
	if status := sendJSON(t, client, req, &accepted); status != http.StatusAccepted {
		t.Fatalf("POST /v1/runs: %d", status)
	}

	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+accepted.Location, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var rec struct {
			Status  string `json:"status"`
			Records int64  `json:"records"`
		}
		if status := sendJSON(t, client, req, &rec); status != http.StatusOK {
			t.Fatalf("GET %s: %d", accepted.Location, status)
		}
		if rec.Status == "done" {
			break
		}
		if rec.Status == "failed" || ctx.Err() != nil {
			t.Fatalf("run ended %s", rec.Status)
		}
		time.Sleep(100 * time.Millisecond)
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
}

// startProgram starts a built program and stops it with SIGINT at the end
// of the test. Its stdout and stderr are collected together.
func startProgram(ctx context.Context, t *testing.T, path string, args ...string) *output {
	t.Helper()
	cmd := exec.CommandContext(ctx, path, args...)
	out := &output{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), out.String())
		}
	})
	return out
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

func clientTrusting(t *testing.T, certFile string) *http.Client {
	t.Helper()
	c, err := tlsutil.ClientWithCA(certFile, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
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
