package connector

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// storeIsEmpty fails the test if anything was written to store.
func storeIsEmpty(t *testing.T, store staging.Store) {
	t.Helper()
	objs, err := store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		t.Errorf("left behind: %s", o.Key)
	}
}

func TestUnknownDataTypeLeavesNoState(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 10})
	c, store := env.connector(t, Options{})
	ctx := context.Background()

	for _, name := range []string{"payroll", "../users", "Users", ""} {
		_, err := c.Submit(ctx, name)
		if !errors.Is(err, ErrUnknownDataType) || !strings.Contains(err.Error(), "unknown data type") {
			t.Errorf("Submit(%q) = %v, want ErrUnknownDataType", name, err)
		}
		if _, err := c.Run(ctx, name); !errors.Is(err, ErrUnknownDataType) {
			t.Errorf("Run(%q) = %v, want ErrUnknownDataType", name, err)
		}
	}
	storeIsEmpty(t, store)
	for _, r := range env.sim.Requests() {
		t.Errorf("SF was called: %s", r.Path)
	}
}

func TestMalformedConfigLeavesNoState(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tenant.json")
	writeFile(t, cfgPath, []byte(`{"SF_address":"http://api.example-sf.test","S3_bucket":"x",
	 "S3_region":"eu-west-1","S3_base_path":"../up","SF_credential_name":"c",
	 "S3_access_key_alias":"a","S3_secret_key_alias":"s","extra":true}`))
	t.Setenv(EnvTenantConfig, cfgPath)
	t.Setenv(EnvKeystoreDir, dir)
	store, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	_, err = FromEnv(context.Background(), &Options{Store: store})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConfigError", err)
	}
	for _, want := range []string{cfgPath, "SF_address", "S3_bucket", "S3_base_path", `unknown field "extra"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := Run(context.Background(), "users"); !errors.As(err, &ce) {
		t.Errorf("package Run: %v, want a *ConfigError", err)
	}
	storeIsEmpty(t, store)
}

func TestMissingSecretLeavesNoState(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 10})
	store, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// The SF credential is missing.
	os.Remove(filepath.Join(env.keystore.Dir, "sf-cred"))
	_, err = NewFromTenant(context.Background(), env.cfg, env.keystore, &Options{Store: store, HTTPClient: env.srv.Client()})
	var se *SecretError
	if !errors.Is(err, ErrSecretNotFound) || !errors.As(err, &se) || se.Name != "sf-cred" {
		t.Fatalf("err = %v, want a SecretError for sf-cred", err)
	}
	if !strings.Contains(err.Error(), `"sf-cred"`) {
		t.Errorf("error does not name the secret: %v", err)
	}

	// The S3 secret key is missing, from the environment keystore: the
	// error names the alias and the variable, never a value.
	t.Setenv(EnvVarName("sf-cred"), `{"companyId":"x","clientId":"y","userId":"z","privateKey":"k","certificate":"c"}`)
	_, err = NewFromTenant(context.Background(), env.cfg, EnvKeystore{}, &Options{HTTPClient: env.srv.Client()})
	if err == nil || strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, ErrBadCredential) {
		t.Errorf("a credential with a bad key: %v, want ErrBadCredential", err)
	}

	keyPEM, certPEM := testKeyPair(t)
	t.Setenv(EnvVarName("sf-cred"), `{"companyId":"x","clientId":"y","userId":"z","privateKey":`+
		quoteJSON(keyPEM)+`,"certificate":`+quoteJSON(certPEM)+`}`)
	t.Setenv(EnvVarName("s3-access"), "AKIAEXAMPLE")
	_, err = NewFromTenant(context.Background(), env.cfg, EnvKeystore{}, &Options{HTTPClient: env.srv.Client()})
	if !errors.As(err, &se) || se.Name != "s3-secret" || !strings.Contains(err.Error(), "SFCONNECTOR_SECRET_S3_SECRET") {
		t.Fatalf("err = %v, want a SecretError for s3-secret", err)
	}
	storeIsEmpty(t, store)
	for _, r := range env.sim.Requests() {
		t.Errorf("SF was called: %s", r.Path)
	}
}

func quoteJSON(b []byte) string {
	s := strings.ReplaceAll(string(b), "\n", `\n`)
	return `"` + s + `"`
}

// A host that brings its own store needs no bucket in the tenant config.
func TestNewFromTenantWithStoreNeedsNoS3Fields(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 10})
	store, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := *env.cfg
	cfg.S3Bucket, cfg.S3Region, cfg.S3AccessKeyAlias, cfg.S3SecretKeyAlias = "", "", "", ""

	c, err := NewFromTenant(context.Background(), &cfg, env.keystore, &Options{Store: store, HTTPClient: env.srv.Client()})
	if err != nil {
		t.Fatalf("NewFromTenant with a store: %v", err)
	}
	rec, err := c.Run(context.Background(), "users")
	if err != nil || rec.Status != runstate.Done || rec.Records != 10 {
		t.Fatalf("run = %+v, %v; want done with 10 records", rec, err)
	}

	// Without a store the bucket is needed, and its absence is named.
	_, err = NewFromTenant(context.Background(), &cfg, env.keystore, &Options{HTTPClient: env.srv.Client()})
	if err == nil || !strings.Contains(err.Error(), "S3_bucket") {
		t.Fatalf("err = %v, want a config error naming S3_bucket", err)
	}
}
