package connector

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodConfig = `{
 "SF_address": "https://api.example-sf.test",
 "SF_credential_name": "sf-cred",
 "S3_bucket": "techwolf-staging.eu",
 "S3_region": "eu-west-1",
 "S3_base_path": "tenants/acme",
 "S3_access_key_alias": "s3-access",
 "S3_secret_key_alias": "s3-secret"
}`

func TestLoadTenantConfig(t *testing.T) {
	cfg, err := LoadTenantConfig(strings.NewReader(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.S3Bucket != "techwolf-staging.eu" || cfg.serviceURL() != "https://api.example-sf.test/odata/v2" {
		t.Errorf("decoded %+v", cfg)
	}
}

func TestLoadTenantConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenant.json")
	writeFile(t, path, []byte(goodConfig))
	if cfg, err := LoadTenantConfigFile(path); err != nil || cfg.SFCredentialName != "sf-cred" {
		t.Errorf("LoadTenantConfigFile = %+v, %v", cfg, err)
	}
	writeFile(t, path, []byte(`{"SF_address":"http://x"}`))
	_, err := LoadTenantConfigFile(path)
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), path+": connector: invalid tenant config") {
		t.Errorf("err = %v", err)
	}
	if _, err := LoadTenantConfigFile(path + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadTenantConfigListsEveryProblem(t *testing.T) {
	const bad = `{
	 "SF_address": "http://api.example-sf.test",
	 "SF_credential_name": "",
	 "S3_bucket": "Bad_Bucket",
	 "S3_region": "eu-west-1",
	 "S3_base_path": "/tenants/../acme",
	 "S3_access_key_alias": "../etc/passwd",
	 "S3_secret_key_alias": 42,
	 "S3_endpiont": "https://s3.example.test"
	}`
	_, err := LoadTenantConfig(strings.NewReader(bad))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConfigError", err)
	}
	for _, want := range []string{
		`unknown field "S3_endpiont"`,
		"SF_address: must use https",
		"SF_credential_name: missing",
		`S3_bucket: "Bad_Bucket": only lower-case letters`,
		`S3_base_path: "/tenants/../acme": leading slash`,
		`S3_access_key_alias: secret name "../etc/passwd"`,
		"S3_secret_key_alias: want a string",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// A mistyped field is reported once, not also as missing.
	if len(ce.Problems) != 7 {
		t.Errorf("%d problems, want 7: %q", len(ce.Problems), ce.Problems)
	}
}

func TestLoadTenantConfigRefusesRepeatedFields(t *testing.T) {
	const twice = `{
	 "SF_address": "https://api.example-sf.test",
	 "SF_credential_name": "sf-cred",
	 "S3_bucket": "techwolf-staging.eu",
	 "S3_region": "eu-west-1",
	 "S3_base_path": "tenants/acme",
	 "S3_access_key_alias": "s3-access",
	 "S3_secret_key_alias": "s3-secret",
	 "SF_address": "https://attacker.example.test",
	 "S3_region": "eu-west-1",
	 "S3_region": "eu-west-1"
	}`
	cfg, err := LoadTenantConfig(strings.NewReader(twice))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("LoadTenantConfig = %+v, %v; want a *ConfigError", cfg, err)
	}
	want := []string{
		"S3_region: given 3 times; give it once",
		"SF_address: given 2 times; give it once",
	}
	if strings.Join(ce.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems %q, want %q", ce.Problems, want)
	}
	if strings.Contains(err.Error(), "attacker") {
		t.Errorf("error quotes a value: %v", err)
	}
}

func TestLoadTenantConfigUnknownFieldWithOtherProblems(t *testing.T) {
	// The unknown field comes first and alone would stop a strict
	// decoder; every other problem must still be listed beside it.
	const in = `{"SF_adress": "https://api.example-sf.test", "S3_bucket": "ab", "S3_region": "EU"}`
	_, err := LoadTenantConfig(strings.NewReader(in))
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *ConfigError", err)
	}
	want := []string{
		`unknown field "SF_adress"`,
		"SF_address: missing",
		"SF_credential_name: missing",
		"S3_access_key_alias: missing",
		"S3_secret_key_alias: missing",
		`S3_bucket: "ab": must be 3 to 63 characters`,
		`S3_region: "EU": want a region name such as eu-west-1`,
	}
	if strings.Join(ce.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(ce.Problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadTenantConfigLocalStaging(t *testing.T) {
	// Staging in a local directory needs only the SF fields (and the
	// base path, which the runs are staged under wherever they go).
	const sfOnly = `{
	 "SF_address": "https://127.0.0.1:8444",
	 "SF_credential_name": "sf-credential",
	 "S3_base_path": "sfsim"
	}`
	local := ConfigOptions{LocalStaging: true}
	cfg, err := LoadTenantConfigOptions(strings.NewReader(sfOnly), local)
	if err != nil {
		t.Fatalf("local staging: %v", err)
	}
	if cfg.S3BasePath != "sfsim" || cfg.SFCredentialName != "sf-credential" {
		t.Errorf("decoded %+v", cfg)
	}

	// Without the option the same file lacks the bucket's fields.
	_, err = LoadTenantConfigOptions(strings.NewReader(sfOnly), ConfigOptions{})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("bucket staging: err = %v, want *ConfigError", err)
	}
	want := []string{
		"S3_access_key_alias: missing",
		"S3_secret_key_alias: missing",
		"S3_bucket: missing",
		"S3_region: missing",
	}
	if strings.Join(ce.Problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems %q, want %q", ce.Problems, want)
	}

	// Invalid S3 values do not matter when the bucket is not used ...
	junk := TenantConfig{
		SFAddress: "https://127.0.0.1:8444", SFCredentialName: "sf-credential",
		S3Bucket: "Not A Bucket", S3Region: "?", S3Endpoint: "ftp://x",
		S3AccessKeyAlias: "../x",
	}
	if err := junk.Validate(local); err != nil {
		t.Errorf("local staging, junk S3 fields: %v", err)
	}
	// ... but the SF fields, the base path and the JSON itself still are.
	junk.SFCredentialName, junk.S3BasePath = "", "/abs"
	err = junk.Validate(local)
	if !errors.As(err, &ce) || len(ce.Problems) != 2 ||
		!strings.HasPrefix(ce.Problems[0], "SF_credential_name: missing") ||
		!strings.HasPrefix(ce.Problems[1], "S3_base_path:") {
		t.Errorf("local staging, bad SF fields: %v", err)
	}
	_, err = LoadTenantConfigOptions(strings.NewReader(`{"SF_address":"https://a.test","SF_credential_name":"c","S3_bucket":"x","S3_bucket":"y"}`), local)
	if err == nil || !strings.Contains(err.Error(), "S3_bucket: given 2 times") {
		t.Errorf("local staging, repeated field: %v", err)
	}
}

func TestTenantConfigChecks(t *testing.T) {
	base := func() TenantConfig {
		cfg, err := LoadTenantConfig(strings.NewReader(goodConfig))
		if err != nil {
			t.Fatal(err)
		}
		return *cfg
	}
	for _, tc := range []struct {
		name string
		edit func(*TenantConfig)
		opts ConfigOptions
		want string // "" means valid
	}{
		{"bucket ip", func(c *TenantConfig) { c.S3Bucket = "192.168.1.1" }, ConfigOptions{}, "IP address"},
		{"bucket dots", func(c *TenantConfig) { c.S3Bucket = "a..b" }, ConfigOptions{}, "adjacent dots"},
		{"bucket short", func(c *TenantConfig) { c.S3Bucket = "ab" }, ConfigOptions{}, "3 to 63"},
		{"bucket prefix", func(c *TenantConfig) { c.S3Bucket = "xn--abc" }, ConfigOptions{}, `start with "xn--"`},
		{"bucket suffix", func(c *TenantConfig) { c.S3Bucket = "abc-s3alias" }, ConfigOptions{}, `end with "-s3alias"`},
		{"base dotdot", func(c *TenantConfig) { c.S3BasePath = "a/../b" }, ConfigOptions{}, "dot segment"},
		{"base empty", func(c *TenantConfig) { c.S3BasePath = "" }, ConfigOptions{}, ""},
		{"sf path", func(c *TenantConfig) { c.SFAddress = "https://api.example-sf.test/odata/v2" }, ConfigOptions{}, "without a path"},
		{"sf userinfo", func(c *TenantConfig) { c.SFAddress = "https://u:p@api.example-sf.test" }, ConfigOptions{}, "user name"},
		{"sf ftp", func(c *TenantConfig) { c.SFAddress = "ftp://api.example-sf.test" }, ConfigOptions{}, `scheme "ftp"`},
		{"http loopback not asked", func(c *TenantConfig) { c.SFAddress = "http://127.0.0.1:8080" }, ConfigOptions{}, "must use https"},
		{"http loopback asked", func(c *TenantConfig) { c.SFAddress = "http://127.0.0.1:8080" }, ConfigOptions{AllowInsecureLoopback: true}, ""},
		{"http remote asked", func(c *TenantConfig) { c.SFAddress = "http://api.example-sf.test" }, ConfigOptions{AllowInsecureLoopback: true}, "must use https"},
		{"endpoint http loopback", func(c *TenantConfig) { c.S3Endpoint = "http://[::1]:9000" }, ConfigOptions{AllowInsecureLoopback: true}, ""},
		{"endpoint http", func(c *TenantConfig) { c.S3Endpoint = "http://[::1]:9000" }, ConfigOptions{}, "S3_endpoint: must use https"},
		{"region", func(c *TenantConfig) { c.S3Region = "EU West" }, ConfigOptions{}, "S3_region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			err := cfg.Validate(tc.opts)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}

	for _, in := range []string{``, `[]`, `"x"`, `{"SF_address":`, `{} {}`, `{}x`, `{"a":1,}`} {
		if _, err := LoadTenantConfig(strings.NewReader(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestEnvKeystore(t *testing.T) {
	if got := EnvVarName("sf-cred.prod_1"); got != "SFCONNECTOR_SECRET_SF_CRED_PROD_1" {
		t.Errorf("EnvVarName = %s", got)
	}
	env := map[string]string{"SFCONNECTOR_SECRET_S3_SECRET": "hunter2"}
	ks := EnvKeystore{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	ctx := context.Background()
	if v, err := ks.Secret(ctx, "s3-secret"); err != nil || string(v) != "hunter2" {
		t.Errorf("Secret = %q, %v", v, err)
	}
	_, err := ks.Secret(ctx, "missing")
	if !errors.Is(err, ErrSecretNotFound) || !strings.Contains(err.Error(), `"missing"`) ||
		!strings.Contains(err.Error(), "SFCONNECTOR_SECRET_MISSING") {
		t.Errorf("missing secret: %v", err)
	}
	if _, err := ks.Secret(ctx, "a/b"); err == nil {
		t.Error("a name with a slash was accepted")
	}
}

func TestDirKeystore(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s3-access"), []byte("AKIAEXAMPLE\n"), 0o600)
	os.WriteFile(filepath.Join(outside, "stolen"), []byte("x"), 0o600)
	os.Symlink(filepath.Join(outside, "stolen"), filepath.Join(dir, "escape"))
	ks := DirKeystore{Dir: dir}
	ctx := context.Background()

	if v, err := ks.Secret(ctx, "s3-access"); err != nil || string(v) != "AKIAEXAMPLE" {
		t.Errorf("Secret = %q, %v", v, err)
	}
	if _, err := ks.Secret(ctx, "nope"); !errors.Is(err, ErrSecretNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing: %v", err)
	}
	if _, err := ks.Secret(ctx, "escape"); err == nil {
		t.Error("a link out of the directory was followed")
	}
	for _, name := range []string{"..", "../x", "a/b", ".hidden", ""} {
		if _, err := ks.Secret(ctx, name); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
}

// testKeyPair makes an RSA key and a self-signed certificate, PEM encoded.
func testKeyPair(t testing.TB) (keyPEM, certPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sfconnector-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k8, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestLoadSFCredential(t *testing.T) {
	keyPEM, certPEM := testKeyPair(t)
	good, _ := json.Marshal(map[string]string{
		"companyId": "ACME", "clientId": "client-1", "userId": "sfapi",
		"privateKey": string(keyPEM), "certificate": string(certPEM),
	})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sf-cred"), good, 0o600)
	os.WriteFile(filepath.Join(dir, "no-user"), []byte(`{"companyId":"A","clientId":"c","privateKey":"`+
		strings.ReplaceAll(string(keyPEM), "\n", `\n`)+`"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "garbage"), []byte(`{"companyId":"A", "privateKey": "-----BEGIN`), 0o600)
	ks := DirKeystore{Dir: dir}
	ctx := context.Background()

	cred, err := LoadSFCredential(ctx, ks, "sf-cred", "https://api.example-sf.test/")
	if err != nil {
		t.Fatal(err)
	}
	if cred.TokenURL != "https://api.example-sf.test/oauth/token" || cred.CompanyID != "ACME" || cred.Key == nil {
		t.Errorf("credential %v", cred)
	}

	_, err = LoadSFCredential(ctx, ks, "no-user", "https://api.example-sf.test")
	if !errors.Is(err, ErrBadCredential) || !strings.Contains(err.Error(), "missing userId, certificate") {
		t.Errorf("no-user: %v", err)
	}
	for _, name := range []string{"no-user", "garbage"} {
		_, err := LoadSFCredential(ctx, ks, name, "https://api.example-sf.test")
		if err == nil || strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "MII") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := LoadSFCredential(ctx, ks, "absent", "https://x.test"); !errors.Is(err, ErrSecretNotFound) {
		t.Errorf("absent: %v", err)
	}
}
