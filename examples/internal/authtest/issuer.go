// Package authtest runs an OAuth 2 authorization server for tests and local
// use of the frontend: it serves a JSON Web Key Set, signs tokens with RSA
// and EC keys, answers the client-credentials grant at /oauth/token, and
// publishes an OpenID Connect discovery document.
//
// [NewIssuer] starts one on its own HTTPS test server. [NewDevIssuer] makes
// one with a random client secret whose [Issuer.Handler] the caller serves
// at a URL of its choosing, as examples/sfsim does beside the simulator.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is a test authorization server. One from [NewIssuer] runs on its
// embedded test server, which Close stops; one from [NewDevIssuer] has no
// server of its own.
type Issuer struct {
	*httptest.Server

	url     string // the "iss" value and base of the endpoints
	handler http.Handler

	// Audience and Scope go into tokens from the token endpoint.
	Audience, Scope string
	// ClientID and ClientSecret are the one client the token endpoint knows.
	ClientID, ClientSecret string

	rsaKey *rsa.PrivateKey
	ecKey  *ecdsa.PrivateKey

	mu        sync.Mutex
	published []string // key ids in the JWKS
	rsaKid    string
	jwksHits  atomic.Int64
}

// NewIssuer starts an issuer publishing one RSA and one EC key, on its own
// HTTPS test server, with a fixed client for tests.
func NewIssuer(audience, scope string) (*Issuer, error) {
	iss, err := newIssuer(audience, scope)
	if err != nil {
		return nil, err
	}
	iss.ClientID, iss.ClientSecret = "ingest-client", "s3cret-for-tests"
	iss.Server = httptest.NewTLSServer(iss.handler)
	iss.url = iss.Server.URL
	return iss, nil
}

// NewDevIssuer makes an issuer whose URL (its "iss" value) is url, with
// the client "dev-client" and a random client secret, for trying the
// frontend on one's own machine. The caller serves [Issuer.Handler] so
// that its paths (/jwks.json, /oauth/token,
// /.well-known/openid-configuration) are found under url, for example
// with http.StripPrefix.
func NewDevIssuer(url, audience, scope string) (*Issuer, error) {
	iss, err := newIssuer(audience, scope)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	iss.ClientID, iss.ClientSecret = "dev-client", b64(secret)
	iss.url = strings.TrimSuffix(url, "/")
	return iss, nil
}

func newIssuer(audience, scope string) (*Issuer, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	iss := &Issuer{
		Audience: audience, Scope: scope,
		rsaKey: rk, ecKey: ek,
		rsaKid: "rsa-1", published: []string{"rsa-1", "ec-1"},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks.json", iss.serveJWKS)
	mux.HandleFunc("POST /oauth/token", iss.serveToken)
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.serveDiscovery)
	iss.handler = mux
	return iss, nil
}

// Handler serves the issuer's endpoints, with paths relative to its URL.
func (i *Issuer) Handler() http.Handler { return i.handler }

// Issuer returns the issuer's URL, which is also the "iss" claim of its
// tokens.
func (i *Issuer) Issuer() string { return i.url }

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.url + "/jwks.json" }

// TokenURL is the client-credentials endpoint.
func (i *Issuer) TokenURL() string { return i.url + "/oauth/token" }

// JWKSFetches counts requests for the key set.
func (i *Issuer) JWKSFetches() int64 { return i.jwksHits.Load() }

// RotateRSA publishes the RSA key under the new key id kid, as an issuer
// does when it rotates keys; later RS256 tokens carry kid.
func (i *Issuer) RotateRSA(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rsaKid = kid
	i.published = []string{kid, "ec-1"}
}

// Claims returns valid claims for a token: this issuer, the audience, the
// scope, issued now and valid for five minutes.
func (i *Issuer) Claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss":       i.Issuer(),
		"sub":       i.ClientID,
		"aud":       i.Audience,
		"scope":     i.Scope,
		"client_id": i.ClientID,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(5 * time.Minute).Unix(),
	}
}

// SignRS256 signs claims with the RSA key under its current key id.
func (i *Issuer) SignRS256(claims jwt.Claims) string {
	i.mu.Lock()
	kid := i.rsaKid
	i.mu.Unlock()
	return i.sign(jwt.SigningMethodRS256, kid, i.rsaKey, claims)
}

// SignES256 signs claims with the EC key.
func (i *Issuer) SignES256(claims jwt.Claims) string {
	return i.sign(jwt.SigningMethodES256, "ec-1", i.ecKey, claims)
}

// SignWith signs claims with any method and key under key id kid, for
// tokens a validator must refuse.
func (i *Issuer) SignWith(m jwt.SigningMethod, kid string, key any, claims jwt.Claims) string {
	return i.sign(m, kid, key, claims)
}

// SignToken signs a token built by the caller, headers and all, with the
// issuer's EC key for ES256 and its RSA key otherwise.
func (i *Issuer) SignToken(t *jwt.Token) string {
	var key any = i.rsaKey
	if t.Method == jwt.SigningMethodES256 {
		key = i.ecKey
	}
	s, err := t.SignedString(key)
	if err != nil {
		panic(fmt.Sprintf("authtest: sign: %v", err))
	}
	return s
}

func (i *Issuer) sign(m jwt.SigningMethod, kid string, key any, claims jwt.Claims) string {
	t := jwt.NewWithClaims(m, claims)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		panic(fmt.Sprintf("authtest: sign: %v", err))
	}
	return s
}

// RSAPublicKeyPEM returns the RSA public key in PEM, the secret an
// attacker would use for an HS256 token in a key-confusion attack.
func (i *Issuer) RSAPublicKeyPEM() []byte {
	der, err := x509.MarshalPKIXPublicKey(&i.rsaKey.PublicKey)
	if err != nil {
		panic(fmt.Sprintf("authtest: marshal key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.jwksHits.Add(1)
	i.mu.Lock()
	kids := i.published
	i.mu.Unlock()
	keys := []map[string]string{
		rsaJWK(kids[0], &i.rsaKey.PublicKey),
		ecJWK(kids[1], &i.ecKey.PublicKey),
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                i.Issuer(),
		"jwks_uri":                              i.JWKSURL(),
		"token_endpoint":                        i.TokenURL(),
		"grant_types_supported":                 []string{"client_credentials"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
	})
}

// serveToken answers the client-credentials grant with an RS256 token.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if r.PostFormValue("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(i.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(i.ClientSecret)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": i.SignRS256(i.Claims()),
		"token_type":   "Bearer",
		"expires_in":   300,
		"scope":        i.Scope,
	})
}

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	raw, err := k.Bytes() // 0x04 || X || Y
	if err != nil {
		panic(fmt.Sprintf("authtest: EC key: %v", err))
	}
	return map[string]string{
		"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
		"x": b64(raw[1:33]), "y": b64(raw[33:]),
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
