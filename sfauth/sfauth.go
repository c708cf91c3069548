package sfauth

import (
	"context"
	"crypto"
	"crypto/x509"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/oauth2"
)

// Credential is what an OAuth2 SAML Bearer Assertion credential holds.
type Credential struct {
	TokenURL    string // https://{SF_address}/oauth/token
	CompanyID   string
	ClientID    string        // the API key
	UserID      string        // the user the token acts for (NameID)
	Audience    string        // "" means "www.successfactors.com"
	Issuer      string        // "" means the certificate's common name
	Lifetime    time.Duration // assertion lifetime; 0 means 10m
	ClockSkew   time.Duration // NotBefore back-dating; 0 means 5m
	Key         crypto.Signer // RSA, at least 2048 bits
	Certificate *x509.Certificate
}

// LoadPEM reads an RSA key (PKCS#1, PKCS#8, or armour-less base64 PKCS#8)
// and an X.509 certificate.
func LoadPEM(keyPEM, certPEM []byte) (crypto.Signer, *x509.Certificate, error) {
	panic("unimplemented")
}

// LoadPKCS12 reads a key and certificate from a PKCS#12 bundle.
func LoadPKCS12(data []byte, password string) (crypto.Signer, *x509.Certificate, error) {
	panic("unimplemented")
}

// Options configures a TokenSource. The zero value means the defaults.
type Options struct {
	HTTPClient            *http.Client  // for the token endpoint; nil: 30s timeout client
	RefreshMargin         time.Duration // 0 means 5m
	Logger                *slog.Logger
	AllowInsecureLoopback bool // permit http:// token URL on loopback
}

// TokenSource trades signed assertions for access tokens and reuses them.
// It implements oauth2.TokenSource and is safe for concurrent use.
type TokenSource struct{}

var _ oauth2.TokenSource = (*TokenSource)(nil)

// NewTokenSource checks the credential and returns a token source.
func NewTokenSource(cred Credential, opts *Options) (*TokenSource, error) {
	panic("unimplemented")
}

// Token returns a valid token, exchanging a new assertion when needed.
func (ts *TokenSource) Token() (*oauth2.Token, error) { panic("unimplemented") }

// Refresh forces a new token (new_token=true) on the next exchange.
func (ts *TokenSource) Refresh(ctx context.Context) error { panic("unimplemented") }

// Client returns an HTTP client whose transport adds the bearer token and
// implements odata's Refresher contract: Refresh(ctx) error.
func (ts *TokenSource) Client(base *http.Client) *http.Client { panic("unimplemented") }
