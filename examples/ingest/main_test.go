package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

// stageUsers runs users against the simulator into dir under basePath,
// as examples/run does with the tenant examples/sfsim writes.
func stageUsers(t *testing.T, dir, basePath string) {
	t.Helper()
	sim := sfsim.New(sfsim.Options{Users: 5})
	srv := httptest.NewTLSServer(sim.Handler())
	defer srv.Close()
	cred := sim.NewCredential(srv.URL)
	key, cert, err := sfauth.LoadPEM(cred.KeyPEM, cred.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := sfauth.NewTokenSource(sfauth.Credential{
		TokenURL: cred.TokenURL, CompanyID: cred.CompanyID, ClientID: cred.ClientID,
		UserID: cred.UserID, Key: key, Certificate: cert,
	}, &sfauth.Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := staging.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	conn, err := connector.New(connector.Options{
		Store: store, BasePath: basePath,
		SFServiceURL: srv.URL + "/odata/v2", SFClient: tokens.Client(srv.Client()),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := conn.Run(t.Context(), "users")
	if err != nil || rec.Status != runstate.Done {
		t.Fatalf("staging users: %v, %v", rec, err)
	}
}

// With no run of the data type under the base path, ingest fails at once
// and names the base path where the runs are, instead of waiting -wait.
func TestNoRunsFailsFastWithHint(t *testing.T) {
	dir := t.TempDir()
	stageUsers(t, dir, "sfsim")
	ctx := context.Background()

	start := time.Now()
	err := run(ctx, source{dir: dir}, "users", "", time.Minute, 10*time.Millisecond)
	if err == nil {
		t.Fatal("ingest found users under the wrong base path")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("failed after %v; want at once, not after -wait", took)
	}
	want := `no runs of users under base path "" in ` + dir + `; found: sfsim/users — try -base-path sfsim`
	if err.Error() != want {
		t.Errorf("error\n%s\nwant\n%s", err, want)
	}

	// A data type staged nowhere: the hint lists what there is.
	err = run(ctx, source{dir: dir, basePath: "sfsim"}, "jobs", "", time.Minute, 10*time.Millisecond)
	want = `no runs of jobs under base path "sfsim" in ` + dir + `; found: sfsim/users`
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}

	// The base path from the tenant config, which needs no bucket with
	// -dir, finds the run.
	tenant := filepath.Join(t.TempDir(), "tenant.json")
	if err := os.WriteFile(tenant, []byte(`{"SF_address":"https://127.0.0.1:8444",
		"SF_credential_name":"sf-credential","S3_base_path":"sfsim"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stdout = devnull
	err = run(ctx, source{dir: dir, config: tenant}, "users", "", time.Minute, 10*time.Millisecond)
	os.Stdout = stdout
	if err != nil {
		t.Fatalf("with the tenant's base path: %v", err)
	}
}

// Runs that are queued or running are waited for; only when none can
// become done does ingest give up early.
func TestWaitsForQueuedRun(t *testing.T) {
	dir := t.TempDir()
	store, err := staging.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tracker := runstate.NewTracker(store, staging.Layout{})
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tracker.Create(t.Context(), runstate.Record{RunID: id.String(), DataType: "users"}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = run(t.Context(), source{dir: dir}, "users", "", 300*time.Millisecond, 20*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("err = %v, want the -wait deadline", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("gave up after %v, before -wait", took)
	}
}
