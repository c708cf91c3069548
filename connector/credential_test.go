package connector

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/techwolf/sfconnector/internal/sfsim"
)

func TestTokenURLMustBeOnSFHost(t *testing.T) {
	keyPEM, certPEM := testKeyPair(t)
	dir := t.TempDir()
	ks := DirKeystore{Dir: dir}
	const sfAddress = "https://api.example-sf.test"
	load := func(tokenURL string) error {
		doc, _ := json.Marshal(map[string]string{"companyId": "ACME", "clientId": "c", "userId": "u",
			"privateKey": string(keyPEM), "certificate": string(certPEM), "tokenUrl": tokenURL})
		writeFile(t, filepath.Join(dir, "sf-cred"), doc)
		cred, err := LoadSFCredential(context.Background(), ks, "sf-cred", sfAddress)
		if err == nil && cred.TokenURL != tokenURL {
			t.Errorf("%s: token URL %q", tokenURL, cred.TokenURL)
		}
		return err
	}

	for _, ok := range []string{
		"https://api.example-sf.test/oauth/token",
		"https://api.example-sf.test:443/oauth/token",
		"https://API.Example-SF.test/oauth/token",
	} {
		if err := load(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}

	for _, tc := range []struct{ tokenURL, want string }{
		{"https://evil.example/oauth/token", `tokenUrl host "evil.example" differs from SF_address host "api.example-sf.test"`},
		{"https://api.example-sf.test.evil.example/oauth/token", `host "api.example-sf.test.evil.example"`},
		{"https://api.example-sf.test:8443/oauth/token", `host "api.example-sf.test:8443"`},
		{"http://api.example-sf.test/oauth/token", `scheme "http" differs from SF_address scheme "https"`},
		{"https://someone:hunter2@api.example-sf.test/oauth/token", "user name or password"},
		{"/oauth/token", "not an absolute URL"},
	} {
		err := load(tc.tokenURL)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want a *ConfigError", tc.tokenURL, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, tc.want) || !strings.Contains(msg, `"sf-cred"`) ||
			strings.Contains(msg, "hunter2") || strings.Contains(msg, "PRIVATE") {
			t.Errorf("%s: error %q, want it to name the entry and say %q, and quote no secret", tc.tokenURL, msg, tc.want)
		}
	}
}

func TestTokenURLOnAnotherServerGetsNoAssertion(t *testing.T) {
	var hits atomic.Int64
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer other.Close()

	env := startSim(t, sfsim.Options{Users: 10})
	cred := env.sim.NewCredential(env.srv.URL)
	doc, _ := json.Marshal(map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
		"tokenUrl": other.URL + "/oauth/token", // same loopback address, another port
	})
	writeFile(t, filepath.Join(env.keystore.Dir, "sf-cred"), doc)
	_, err := NewFromTenant(context.Background(), env.cfg, env.keystore, &Options{HTTPClient: env.srv.Client()})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "tokenUrl host") {
		t.Fatalf("err = %v, want a *ConfigError about the tokenUrl host", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the other server got %d requests", n)
	}
	if n := len(env.sim.Requests()); n != 0 {
		t.Errorf("SF got %d requests", n)
	}
}
