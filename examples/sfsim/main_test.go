package main

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/internal/authtest"
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

// The development issuer on the simulator's server hands the generated
// client a token the frontend accepts: RS256, signed by a key of its JWKS,
// with this issuer, the audience, the scope and an expiry.
func TestDevIssuer(t *testing.T) {
	sim := sfsim.New(sfsim.Options{Users: 10})
	srv := httptest.NewUnstartedServer(nil)
	base := "https://" + srv.Listener.Addr().String()
	iss, err := authtest.NewDevIssuer(base+issuerPath, "sfconnector", "sfconnector.runs")
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = handler(sim, iss)
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()

	token := func(id, secret string) (*http.Response, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("POST", iss.TokenURL(), strings.NewReader("grant_type=client_credentials"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	if resp, _ := token(iss.ClientID, "wrong-"+iss.ClientSecret); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong secret: status %d, want 401", resp.StatusCode)
	}
	resp, body := token(iss.ClientID, iss.ClientSecret)
	raw, _ := body["access_token"].(string)
	if resp.StatusCode != http.StatusOK || raw == "" {
		t.Fatalf("token: status %d, body %v", resp.StatusCode, body)
	}
	if len(iss.ClientSecret) < 32 {
		t.Errorf("client secret of %d characters", len(iss.ClientSecret))
	}

	// The key set, found through the discovery document under the issuer.
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	getJSON(t, client, iss.Issuer()+"/.well-known/openid-configuration", &disc)
	if disc.Issuer != base+"/issuer" || disc.JWKSURI != iss.JWKSURL() {
		t.Fatalf("discovery %+v", disc)
	}
	var set struct {
		Keys []struct{ Kty, Kid, N, E string } `json:"keys"`
	}
	getJSON(t, client, disc.JWKSURI, &set)
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			t.Fatalf("JWK %s: %v %v", k.Kid, err1, err2)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("no key %q", kid)
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(base+"/issuer"),
		jwt.WithAudience("sfconnector"), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if claims["scope"] != "sfconnector.runs" {
		t.Errorf("scope %v", claims["scope"])
	}

	// The simulator is still served beside it.
	resp, err = client.Get(base + "/odata/v2/User")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("simulator without a token: status %d, want 401", resp.StatusCode)
	}

	// The printed commands name this issuer and the generated client.
	var out strings.Builder
	printUsage(&out, config{out: "sfsim", audience: "sfconnector", scope: "sfconnector.runs",
		s3: s3Settings{basePath: "sfsim"}}, base, iss)
	for _, want := range []string{
		"-issuer " + base + "/issuer -audience sfconnector -scope sfconnector.runs",
		"-jwks-url " + base + "/issuer/jwks.json",
		"-ca sfsim/ca.pem",
		"'" + iss.ClientID + ":" + iss.ClientSecret + "'",
		"-d grant_type=client_credentials " + base + "/issuer/oauth/token",
		"-H 'Content-Type: application/json' -d '{\"dataType\":\"users\"}'",
		"-base-path sfsim -datatype users",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func getJSON(t *testing.T, c *http.Client, url string, v any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}
