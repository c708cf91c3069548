package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

// FuzzLoadTenantConfig: a tenant config is accepted only when it is valid
// for production (https, a base path that stays in its prefix, secret
// names that are never paths), survives a round trip, and is refused with
// one *ConfigError otherwise.
func FuzzLoadTenantConfig(f *testing.F) {
	for _, s := range []string{
		`{"SF_address":"https://api.example-sf.test","SF_credential_name":"sf-cred","S3_bucket":"staging-test",` +
			`"S3_region":"eu-west-1","S3_base_path":"tenants/acme","S3_access_key_alias":"s3-access",` +
			`"S3_secret_key_alias":"s3-secret"}`,
		`{"SF_address":"http://127.0.0.1:8080","SF_credential_name":"../etc/passwd","S3_bucket":"a",` +
			`"S3_region":"x","S3_base_path":"../up","S3_access_key_alias":"a%2Fb","S3_secret_key_alias":"x\u0000"}`,
		`{"SF_address":"https://u:p@h/x?y#z","S3_endpoint":"https://127.0.0.1:9000/s3","SF_address":1}`,
		`{"S3_bucket":"192.168.0.1"} {}`,
		`[]`, ``, `{"unknown":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadTenantConfig(bytes.NewReader(data))
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("refusal %v is not a *ConfigError with problems", err)
			}
			if !strings.HasPrefix(err.Error(), "connector: ") {
				t.Fatalf("message %q lacks the package prefix", err)
			}
			return
		}
		if err := cfg.Validate(ConfigOptions{}); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		if !strings.HasPrefix(cfg.SFAddress, "https://") {
			t.Fatalf("accepted SF_address %q", cfg.SFAddress)
		}
		if cfg.S3Endpoint != "" && !strings.HasPrefix(cfg.S3Endpoint, "https://") {
			t.Fatalf("accepted S3_endpoint %q", cfg.S3Endpoint)
		}
		if err := staging.CheckBasePath(cfg.S3BasePath); err != nil {
			t.Fatalf("accepted S3_base_path %q: %v", cfg.S3BasePath, err)
		}
		for _, n := range []string{cfg.SFCredentialName, cfg.S3AccessKeyAlias, cfg.S3SecretKeyAlias} {
			if CheckSecretName(n) != nil || strings.ContainsAny(n, "/\\\x00") || n == "." || n == ".." {
				t.Fatalf("accepted secret name %q", n)
			}
		}
		out, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := LoadTenantConfig(bytes.NewReader(out))
		if err != nil || *again != *cfg {
			t.Fatalf("round trip: %+v, %v; want %+v", again, err, cfg)
		}
	})
}

// FuzzLoadCatalog: a catalog is accepted only when every data type name
// can be part of a key, and what it accepts survives a round trip.
func FuzzLoadCatalog(f *testing.F) {
	def, err := json.Marshal(DefaultCatalog())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	for _, s := range []string{
		`{"schema":1,"dataTypes":[{"name":"users","entitySet":"User","key":["userId"],` +
			`"properties":{"userId":{"type":"Edm.String"}}}]}`,
		`{"schema":1,"dataTypes":[{"name":"../x","entitySet":"User ","key":[],"paging":"sideways"}]}`,
		`{"schema":1,"dataTypes":[{"name":"a%2Fb","entitySet":"U","key":["k"],"pageSize":-1}]}`,
		`{"schema":1,"dataTypes":[null,{"name":"a"},{"name":"a"}]}`,
		`{"schema":2}`, `{"schema":1,"dataTypes":[],"x":1}`, `nope`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cat, err := LoadCatalog(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "connector: ") {
				t.Fatalf("message %q lacks the package prefix", err)
			}
			return
		}
		names := cat.Names()
		for _, n := range names {
			if err := staging.CheckDataType(n); err != nil {
				t.Fatalf("accepted data type %q: %v", n, err)
			}
			d, err := cat.Lookup(n)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", n, err)
			}
			if len(d.Key) == 0 {
				t.Fatalf("accepted data type %q without a key", n)
			}
			_ = d.Query()
		}
		out, err := json.Marshal(cat)
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		again, err := LoadCatalog(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("own encoding refused: %v\n%s", err, out)
		}
		if !slices.Equal(again.Names(), names) {
			t.Fatalf("round trip names %v, want %v", again.Names(), names)
		}
	})
}

// FuzzLoadSFCredential: whatever the credential secret holds, its error
// names fields, never the key material, password or PKCS#12 bytes.
func FuzzLoadSFCredential(f *testing.F) {
	f.Add([]byte(`{"companyId":"ACME","clientId":"c","userId":"u","privateKey":"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n","certificate":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}`))
	f.Add([]byte(`{"companyId":"ACME","clientId":"c","userId":"u","pkcs12":"MIIKSECRETSECRETSECRETSECRET","pkcs12Password":"hunter2hunter2hunter2"}`))
	f.Add([]byte(`{"companyId":"ACME","privateKey":12345678901234567890}`))
	f.Add([]byte(`{"companyId":"ACME","privateKeyX":"SECRETSECRETSECRETSECRET"}`))
	f.Add([]byte(`{"privateKey":"SECRETSECRETSECRETSECRET"`))
	f.Add([]byte(`SECRETSECRETSECRETSECRET`))
	f.Fuzz(func(t *testing.T, secret []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "sf-cred"), secret, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadSFCredential(context.Background(), DirKeystore{Dir: dir}, "sf-cred", "https://api.example-sf.test")
		if err == nil {
			return
		}
		msg := err.Error()
		for _, v := range secretValues(secret) {
			if strings.Contains(msg, v) {
				t.Fatalf("error %q quotes secret value %q", msg, v)
			}
		}
	})
}

// secretValues returns the long runs of base64 or text in the secret's
// key, password and PKCS#12 fields (or in the whole secret when it is not
// JSON): text no error may quote.
func secretValues(secret []byte) []string {
	var doc map[string]any
	var texts []string
	if json.Unmarshal(secret, &doc) == nil {
		for _, k := range []string{"privateKey", "pkcs12", "pkcs12Password"} {
			if s, ok := doc[k].(string); ok {
				texts = append(texts, s)
			}
		}
	} else {
		texts = append(texts, string(secret))
	}
	var out []string
	for _, s := range texts {
		out = append(out, longRun.FindAllString(s, -1)...)
	}
	return out
}

// longRun matches 20 or more base64 characters: key material, not the
// words of an error message.
var longRun = regexp.MustCompile(`[A-Za-z0-9+/=]{20,}`)

// FuzzKeystoreName: a secret name never reaches a file outside the
// keystore directory, and the variable it maps to is always well formed.
func FuzzKeystoreName(f *testing.F) {
	for _, s := range []string{"sf-cred", "../outside", "..", ".", "a/../../outside", "a%2F..%2Foutside",
		"x\x00", strings.Repeat("a", 200), "sf-cred.prod", "/etc/passwd", `..\outside`} {
		f.Add(s)
	}
	root := f.TempDir()
	inner := filepath.Join(root, "keys")
	if err := os.Mkdir(inner, 0o700); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "outside"), []byte("outside-secret"), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(inner, "sf-cred"), []byte("inside"), 0o600); err != nil {
		f.Fatal(err)
	}
	varName := regexp.MustCompile(`^SFCONNECTOR_SECRET_[A-Z0-9_]*$`)
	f.Fuzz(func(t *testing.T, name string) {
		got, err := DirKeystore{Dir: inner}.Secret(context.Background(), name)
		if err == nil && string(got) != "inside" {
			t.Fatalf("name %q read %q", name, got)
		}
		if err == nil && CheckSecretName(name) != nil {
			t.Fatalf("name %q refused by CheckSecretName but read", name)
		}
		if v := EnvVarName(name); !varName.MatchString(v) {
			t.Fatalf("EnvVarName(%q) = %q", name, v)
		}
	})
}
