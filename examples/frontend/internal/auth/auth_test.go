package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
	"github.com/techwolf/sfconnector/examples/internal/authtest"
)

const (
	audience = "sfconnector-frontend"
	scope    = "runs.write"
)

func newIssuer(t testing.TB) *authtest.Issuer {
	t.Helper()
	iss, err := authtest.NewIssuer(audience, scope)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	return iss
}

func newValidator(t testing.TB, iss *authtest.Issuer, minGap time.Duration) (*auth.Validator, *auth.KeySet) {
	t.Helper()
	keys, err := auth.NewKeySet(iss.JWKSURL(), &auth.KeySetOptions{
		HTTPClient:         iss.Client(),
		MinRefreshInterval: minGap,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewValidator(auth.Config{
		Issuer: iss.Issuer(), Audience: audience, Scope: scope, Keys: keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v, keys
}

func TestValidate(t *testing.T) {
	iss := newIssuer(t)
	v, _ := newValidator(t, iss, time.Hour)

	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := iss.Claims()
		edit(c)
		return c
	}
	now := time.Now()

	tests := []struct {
		name  string
		token string
		want  error // nil: accepted
	}{
		{"RS256", iss.SignRS256(iss.Claims()), nil},
		{"ES256", iss.SignES256(iss.Claims()), nil},
		{"scp array", iss.SignRS256(with(func(c jwt.MapClaims) {
			delete(c, "scope")
			c["scp"] = []string{"other", scope}
		})), nil},
		{"scope among several", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["scope"] = "read " + scope + " admin"
		})), nil},
		{"audience in a list", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["aud"] = []string{"someone-else", audience}
		})), nil},
		{"expired within leeway", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-10 * time.Second).Unix()
		})), nil},
		{"empty", "", auth.ErrInvalidToken},
		{"garbage", "not.a.jwt", auth.ErrInvalidToken},
		{"oversized", strings.Repeat("a", auth.MaxTokenBytes+1), auth.ErrInvalidToken},
		{"bad signature", iss.SignWith(jwt.SigningMethodRS256, "rsa-1", otherRSA, iss.Claims()), auth.ErrInvalidToken},
		{"EC key of another issuer", iss.SignWith(jwt.SigningMethodES256, "ec-1", otherEC, iss.Claims()), auth.ErrInvalidToken},
		{"alg none", iss.SignWith(jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, iss.Claims()), auth.ErrInvalidToken},
		{"HS256 keyed with the public key", iss.SignWith(jwt.SigningMethodHS256, "rsa-1", iss.RSAPublicKeyPEM(), iss.Claims()), auth.ErrInvalidToken},
		{"RS256 header on EC key id", iss.SignWith(jwt.SigningMethodRS256, "ec-1", otherRSA, iss.Claims()), auth.ErrInvalidToken},
		{"RS512", iss.SignWith(jwt.SigningMethodRS512, "rsa-1", otherRSA, iss.Claims()), auth.ErrInvalidToken},
		{"crit header", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, iss.Claims())
			tok.Header["kid"], tok.Header["crit"] = "rsa-1", []string{"exp"}
			return iss.SignToken(tok)
		}(), auth.ErrInvalidToken},
		{"no kid", iss.SignWith(jwt.SigningMethodRS256, "", otherRSA, iss.Claims()), auth.ErrInvalidToken},
		{"expired", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-2 * time.Minute).Unix()
		})), auth.ErrInvalidToken},
		{"no exp", iss.SignRS256(with(func(c jwt.MapClaims) { delete(c, "exp") })), auth.ErrInvalidToken},
		{"not yet valid", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["nbf"] = now.Add(2 * time.Minute).Unix()
		})), auth.ErrInvalidToken},
		{"issued in the future", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["iat"] = now.Add(2 * time.Minute).Unix()
		})), auth.ErrInvalidToken},
		{"wrong issuer", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["iss"] = "https://issuer.invalid"
		})), auth.ErrInvalidToken},
		{"wrong audience", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["aud"] = "someone-else"
		})), auth.ErrInvalidToken},
		{"no audience", iss.SignRS256(with(func(c jwt.MapClaims) { delete(c, "aud") })), auth.ErrInvalidToken},
		{"scp of wrong type", iss.SignRS256(with(func(c jwt.MapClaims) { c["scp"] = 7 })), auth.ErrInvalidToken},
		{"no scope", iss.SignRS256(with(func(c jwt.MapClaims) { delete(c, "scope") })), auth.ErrInsufficientScope},
		{"scope prefix only", iss.SignRS256(with(func(c jwt.MapClaims) {
			c["scope"] = "runs.write.all runs"
		})), auth.ErrInsufficientScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := v.Validate(context.Background(), tt.token)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused a good token: %v", err)
				}
				if claims.Subject != iss.ClientID {
					t.Errorf("subject %q, want %q", claims.Subject, iss.ClientID)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.token != "" && len(tt.token) > 20 && strings.Contains(err.Error(), tt.token[:20]) {
				t.Errorf("error repeats the token: %v", err)
			}
		})
	}
}

// A token signed with a key the cached set does not hold makes the set be
// fetched again, once; a flood of unknown key ids does not.
func TestKeySetRefreshOnUnknownKid(t *testing.T) {
	iss := newIssuer(t)
	clock := &fakeClock{t: time.Now()}
	keys, err := auth.NewKeySet(iss.JWKSURL(), &auth.KeySetOptions{
		HTTPClient:         iss.Client(),
		MinRefreshInterval: time.Minute,
		Now:                clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewValidator(auth.Config{
		Issuer: iss.Issuer(), Audience: audience, Scope: scope, Keys: keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if _, err := v.Validate(ctx, iss.SignRS256(iss.Claims())); err != nil {
		t.Fatal(err)
	}
	if got := keys.Fetches(); got != 1 {
		t.Fatalf("%d fetches after the first token, want 1", got)
	}

	// The issuer rotates; the next token names a key id not yet cached.
	// Within the minimum interval it is refused without a fetch.
	iss.RotateRSA("rsa-2")
	rotated := iss.SignRS256(iss.Claims())
	clock.Advance(30 * time.Second)
	if _, err := v.Validate(ctx, rotated); !errors.Is(err, auth.ErrInvalidToken) {
		t.Fatalf("token with a fresh kid inside the interval: %v", err)
	}
	if got := keys.Fetches(); got != 1 {
		t.Fatalf("%d fetches inside the interval, want 1", got)
	}

	// Past the interval, twenty concurrent requests share one fetch.
	clock.Advance(31 * time.Second)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Validate(ctx, rotated); err != nil {
				t.Errorf("after rotation: %v", err)
			}
		})
	}
	wg.Wait()
	if got := keys.Fetches(); got != 2 {
		t.Fatalf("%d fetches after rotation, want 2", got)
	}

	// Forged key ids do not fetch again within the interval.
	other := mustRSA(t)
	for i := range 50 {
		forged := iss.SignWith(jwt.SigningMethodRS256, fmt.Sprintf("forged-%d", i), other, iss.Claims())
		if _, err := v.Validate(ctx, forged); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("forged kid accepted: %v", err)
		}
	}
	if got := keys.Fetches(); got != 2 {
		t.Fatalf("%d fetches after forged key ids, want 2", got)
	}
	if int64(keys.Fetches()) != iss.JWKSFetches() {
		t.Fatalf("key set counted %d fetches, issuer saw %d", keys.Fetches(), iss.JWKSFetches())
	}

	// A cached key set older than MaxAge (1h by default) is fetched again.
	clock.Advance(time.Hour)
	if _, err := v.Validate(ctx, rotated); err != nil {
		t.Fatal(err)
	}
	if got := keys.Fetches(); got != 3 {
		t.Fatalf("%d fetches after an hour, want 3", got)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A token from another issuer never makes the key set be fetched.
func TestForeignIssuerDoesNotFetch(t *testing.T) {
	iss := newIssuer(t)
	v, keys := newValidator(t, iss, time.Nanosecond)
	c := iss.Claims()
	c["iss"] = "https://elsewhere.invalid"
	for range 5 {
		if _, err := v.Validate(context.Background(), iss.SignRS256(c)); !errors.Is(err, auth.ErrInvalidToken) {
			t.Fatalf("foreign token: %v", err)
		}
	}
	if keys.Fetches() != 0 {
		t.Fatalf("%d fetches for foreign tokens", keys.Fetches())
	}
}

func TestNewKeySetRefusesPlainHTTP(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1/jwks.json", "jwks.json", "", "https://"} {
		if _, err := auth.NewKeySet(u, nil); err == nil {
			t.Errorf("NewKeySet(%q) accepted", u)
		}
	}
}

func TestParseKeySet(t *testing.T) {
	tests := []struct {
		name, doc string
		keys      int
		ok        bool
	}{
		{"empty", `{"keys":[]}`, 0, true},
		{"skips encryption keys", `{"keys":[{"kty":"RSA","use":"enc","kid":"a","n":"AQ","e":"AQAB"}]}`, 0, true},
		{"skips other types", `{"keys":[{"kty":"OKP","kid":"a","crv":"Ed25519","x":"AA"}]}`, 0, true},
		{"short RSA key", `{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`, 0, false},
		{"EC point off curve", `{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"` +
			strings.Repeat("A", 43) + `","y":"` + strings.Repeat("A", 43) + `"}]}`, 0, false},
		{"not JSON", `keys`, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := auth.ParseKeySet([]byte(tt.doc))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && len(keys) != tt.keys {
				t.Fatalf("%d keys, want %d", len(keys), tt.keys)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	iss := newIssuer(t)
	v, _ := newValidator(t, iss, time.Hour)
	h := v.Middleware("sfconnector", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := auth.FromContext(r.Context())
		if !ok || c.ClientID != iss.ClientID {
			t.Errorf("claims not in context: %+v", c)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	noScope := iss.Claims()
	noScope["scope"] = "other"

	tests := []struct {
		name, header string
		status       int
		challenge    string
	}{
		{"good", "Bearer " + iss.SignRS256(iss.Claims()), 204, ""},
		{"lower-case scheme", "bearer " + iss.SignES256(iss.Claims()), 204, ""},
		{"missing", "", 401, `error="invalid_token"`},
		{"basic", "Basic dXNlcjpwYXNz", 401, `error="invalid_token"`},
		{"no scope", "Bearer " + iss.SignRS256(noScope), 403, `error="insufficient_scope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/datatypes", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			got := w.Header().Get("WWW-Authenticate")
			if tt.challenge == "" {
				if got != "" {
					t.Fatalf("challenge on success: %s", got)
				}
				return
			}
			if !strings.HasPrefix(got, `Bearer realm="sfconnector"`) || !strings.Contains(got, tt.challenge) {
				t.Fatalf("WWW-Authenticate = %s", got)
			}
		})
	}
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func mustRSA(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func TestDiscoverJWKS(t *testing.T) {
	iss := newIssuer(t)
	ctx := context.Background()
	got, err := auth.DiscoverJWKS(ctx, iss.Client(), iss.Issuer())
	if err != nil || got != iss.JWKSURL() {
		t.Fatalf("DiscoverJWKS = %q, %v; want %q", got, err, iss.JWKSURL())
	}
	// The document names its own issuer, which must be the one asked for.
	if _, err := auth.DiscoverJWKS(ctx, iss.Client(), iss.Issuer()+"/"); err == nil {
		t.Fatal("accepted a document for another issuer")
	}
	if _, err := auth.DiscoverJWKS(ctx, iss.Client(), "http://127.0.0.1:1"); err == nil {
		t.Fatal("accepted a plain-HTTP issuer")
	}
}

// A development issuer served under a path, as examples/sfsim serves one:
// discovery under the issuer's path finds its key set, and a token from its
// client-credentials endpoint validates.
func TestDevIssuerUnderPath(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	base := "https://" + srv.Listener.Addr().String()
	iss, err := authtest.NewDevIssuer(base+"/issuer", audience, scope)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/issuer/", http.StripPrefix("/issuer", iss.Handler()))
	srv.Config.Handler = mux
	srv.StartTLS()
	defer srv.Close()
	ctx := context.Background()

	jwksURL, err := auth.DiscoverJWKS(ctx, srv.Client(), iss.Issuer())
	if err != nil || jwksURL != base+"/issuer/jwks.json" {
		t.Fatalf("DiscoverJWKS = %q, %v", jwksURL, err)
	}
	keys, err := auth.NewKeySet(jwksURL, &auth.KeySetOptions{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewValidator(auth.Config{Issuer: iss.Issuer(), Audience: audience, Scope: scope, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}

	req, err := http.NewRequest("POST", iss.TokenURL(), strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(iss.ClientID, iss.ClientSecret)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token response %d: %v", resp.StatusCode, err)
	}
	if _, err := v.Validate(ctx, tok.AccessToken); err != nil {
		t.Fatalf("dev issuer's token refused: %v", err)
	}
}
