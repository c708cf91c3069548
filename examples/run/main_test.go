package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

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
