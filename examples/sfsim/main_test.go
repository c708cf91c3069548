package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
)

// The files the program writes are what the library reads: the tenant
// config passes its checks and the credential loads from the keystore.
func TestWriteSetupIsUsable(t *testing.T) {
	dir := t.TempDir()
	cfg := config{out: dir, s3: s3Settings{
		bucket: "b-bucket", region: "eu-west-1", basePath: "sfsim",
		accessKey: "AKIDEXAMPLE", secretKey: "secret-example",
	}}
	sim := sfsim.New(sfsim.Options{Users: 10})
	base := "https://127.0.0.1:8444"
	if err := writeSetup(cfg, base, []byte("-----BEGIN CERTIFICATE-----\n"), sim.NewCredential(base)); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(filepath.Join(dir, "tenant.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tenant, err := connector.LoadTenantConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if tenant.SFAddress != base || tenant.S3BasePath != "sfsim" {
		t.Fatalf("tenant config %+v", tenant)
	}
	ks := connector.DirKeystore{Dir: filepath.Join(dir, "keystore")}
	cred, err := connector.LoadSFCredential(context.Background(), ks, tenant.SFCredentialName, tenant.SFAddress)
	if err != nil {
		t.Fatal(err)
	}
	if cred.TokenURL != base+"/oauth/token" || cred.Key == nil {
		t.Fatalf("credential token URL %q", cred.TokenURL)
	}
	secret, err := ks.Secret(context.Background(), tenant.S3SecretKeyAlias)
	if err != nil || string(secret) != "secret-example" {
		t.Fatalf("S3 secret: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "keystore", tenant.SFCredentialName))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credential file mode %v, %v", info.Mode(), err)
	}
}

func TestParseFaults(t *testing.T) {
	faults, err := parseFaults("503:3, 429,reset:1,maintenance")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind   sfsim.FaultKind
		status int
		times  int
	}{
		{sfsim.FaultStatus, 503, 3},
		{sfsim.FaultStatus, 429, 1},
		{sfsim.FaultReset, 0, 1},
		{sfsim.FaultMaintenance, 0, 1},
	}
	if len(faults) != len(want) {
		t.Fatalf("%d faults, want %d", len(faults), len(want))
	}
	for i, w := range want {
		f := faults[i]
		if f.Kind != w.kind || f.Status != w.status || f.Times != w.times || f.Page != sfsim.AnyPage {
			t.Errorf("fault %d = %+v, want %+v", i, f, w)
		}
	}
	if faults[1].RetryAfter == "" {
		t.Error("429 without Retry-After")
	}
	for _, bad := range []string{"boom", "200", "503:0", "503:x", "reset:-1"} {
		if _, err := parseFaults(bad); err == nil {
			t.Errorf("parseFaults(%q) accepted", bad)
		}
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8444", ":8444", "192.0.2.1:8444", "example.com:8444"} {
		if err := run(config{addr: addr, out: t.TempDir()}, nil); err == nil {
			t.Errorf("run accepted %s", addr)
		}
	}
}
