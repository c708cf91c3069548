package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// A run against the simulator as against a tenant: a tenant config, a
// keystore directory, and its certificate trusted through -ca.
func TestRunAgainstSimulator(t *testing.T) {
	sim := sfsim.New(sfsim.Options{Users: 60})
	srv := httptest.NewTLSServer(sim.Handler())
	defer srv.Close()
	tmp := t.TempDir()

	cred := sim.NewCredential(srv.URL)
	ks := filepath.Join(tmp, "keystore")
	writeJSON(t, filepath.Join(ks, "sf"), map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
	})
	writeFile(t, filepath.Join(ks, "s3-access"), "unused")
	writeFile(t, filepath.Join(ks, "s3-secret"), "unused")
	writeJSON(t, filepath.Join(tmp, "tenant.json"), connector.TenantConfig{
		SFAddress: srv.URL, SFCredentialName: "sf",
		S3Bucket: "unused-bucket", S3Region: "eu-west-1", S3BasePath: "acme/sf",
		S3AccessKeyAlias: "s3-access", S3SecretKeyAlias: "s3-secret",
	})
	ca := filepath.Join(tmp, "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	staged := filepath.Join(tmp, "staged")
	o := options{
		config: filepath.Join(tmp, "tenant.json"), keystore: ks,
		dataType: "users", dir: staged, ca: ca,
	}
	ctx := context.Background()
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}

	store, err := staging.NewDirStore(staged)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec, err := runstate.NewReader(store, staging.Layout{BasePath: "acme/sf"}).LatestDone(ctx, "users")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Records != 60 || rec.Pages < 1 {
		t.Fatalf("run staged %d records in %d pages, want 60", rec.Records, rec.Pages)
	}

	// Without -ca the simulator's certificate is not trusted, and the run
	// fails instead of sending the assertion anywhere unverified.
	o.ca = ""
	if err := run(ctx, o); err == nil {
		t.Fatal("run succeeded against an untrusted certificate")
	}
	// An unknown data type is refused before anything is written.
	o.ca, o.dataType = ca, "salaries"
	if err := run(ctx, o); err == nil {
		t.Fatal("run accepted an unknown data type")
	}
}

// simTenant serves sim through h on a TLS loopback server and writes a
// tenant config that has only the SF fields and a base path, its keystore
// and the server's CA; it returns the options for run.
func simTenant(t *testing.T, sim *sfsim.Server, h http.Handler) options {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	tmp := t.TempDir()
	cred := sim.NewCredential(srv.URL)
	ks := filepath.Join(tmp, "keystore")
	writeJSON(t, filepath.Join(ks, "sf"), map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
	})
	writeFile(t, filepath.Join(tmp, "tenant.json"),
		`{"SF_address":"`+srv.URL+`","SF_credential_name":"sf","S3_base_path":"local"}`)
	ca := filepath.Join(tmp, "ca.pem")
	writeFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	return options{
		config: filepath.Join(tmp, "tenant.json"), keystore: ks,
		dataType: "users", dir: filepath.Join(tmp, "staged"), ca: ca,
	}
}

// Staging in a local directory needs no S3 fields in the tenant config;
// staging in the bucket does.
func TestRunLocalNeedsOnlySFFields(t *testing.T) {
	sim := sfsim.New(sfsim.Options{Users: 10})
	o := simTenant(t, sim, sim.Handler())
	if err := run(t.Context(), o); err != nil {
		t.Fatalf("-dir run with an SF-only tenant config: %v", err)
	}
	o.dir = ""
	err := run(t.Context(), o)
	if err == nil || !strings.Contains(err.Error(), "S3_bucket: missing") {
		t.Fatalf("bucket run with an SF-only tenant config: %v", err)
	}
}

// A page slower than the old fixed client limit but within -timeout is
// served; the same page under a shorter -timeout fails the run without
// retries.
func TestRunSlowPageWithinTimeout(t *testing.T) {
	sim := sfsim.New(sfsim.Options{Users: 10})
	o := simTenant(t, sim, sim.Handler())
	sim.Inject(sfsim.Fault{Kind: sfsim.FaultSlow, Delay: 700 * time.Millisecond, Page: sfsim.AnyPage, Times: 1})
	o.timeout = 5 * time.Second
	if err := run(t.Context(), o); err != nil {
		t.Fatalf("slow page within -timeout: %v", err)
	}
	sim.Inject(sfsim.Fault{Kind: sfsim.FaultSlow, Delay: 1500 * time.Millisecond, Page: sfsim.AnyPage, Times: 1})
	o.timeout = 600 * time.Millisecond
	if err := run(t.Context(), o); err == nil || !strings.Contains(err.Error(), "no answer within 600ms") {
		t.Fatalf("slow page past -timeout: %v", err)
	}
}

// A server that never answers fails the run after one -timeout, not after
// a retry of it.
func TestRunTimeoutWithoutAnswer(t *testing.T) {
	sim := sfsim.New(sfsim.Options{Users: 10})
	silent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/odata/") {
			<-r.Context().Done() // the token endpoint answers, OData never does
			return
		}
		sim.Handler().ServeHTTP(w, r)
	})
	o := simTenant(t, sim, silent)
	o.timeout = 600 * time.Millisecond
	start := time.Now()
	err := run(t.Context(), o)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer within 600ms") {
		t.Fatalf("err = %v, want no answer within 600ms", err)
	}
	// One -timeout, not five (the OData client's attempts).
	if took < 600*time.Millisecond || took > 2400*time.Millisecond {
		t.Errorf("failed after %v; want one -timeout of 600ms, without retries", took)
	}
	if strings.Contains(err.Error(), "attempts") {
		t.Errorf("the silent request was retried: %v", err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b))
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}
