package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	// ErrInvalidToken means the token is missing, malformed, badly signed,
	// from another issuer or audience, or outside its lifetime. Errors
	// returned by [Validator.Validate] for such tokens wrap it.
	ErrInvalidToken = errors.New("auth: invalid token")

	// ErrInsufficientScope means the token is valid but lacks the
	// required scope.
	ErrInsufficientScope = errors.New("auth: insufficient scope")
)

// MaxTokenBytes bounds the size of a token; larger ones are refused
// before any parsing.
const MaxTokenBytes = 8 << 10

// Keys looks up an issuer's public key by key id. [*KeySet] implements it.
type Keys interface {
	// Key returns the public key with id kid, or an error when the issuer
	// has none by that id.
	Key(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// Config says which tokens a [Validator] accepts. Issuer, Audience, Scope
// and Keys are required.
type Config struct {
	Issuer   string // the exact "iss" value
	Audience string // must appear in "aud"
	Scope    string // must appear in "scope" (space-separated) or "scp"
	Keys     Keys   // resolves the "kid" of the token's header

	// Leeway allows for clock skew when checking exp, nbf and iat.
	// 0 means 30 s; it is capped at 5 minutes.
	Leeway time.Duration

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Claims is what a valid token says about its bearer.
type Claims struct {
	Subject  string    // the "sub" claim
	ClientID string    // "client_id", "azp" or "cid", whichever is present
	Scopes   []string  // from "scope" (space-separated) or "scp"
	Expiry   time.Time // the "exp" claim
}

// Validator checks bearer tokens. It is safe for concurrent use.
type Validator struct {
	cfg    Config
	parser *jwt.Parser
}

// algorithms lists the signature algorithms accepted. "none" and the HMAC
// family are absent on purpose: a shared-secret signature would let anyone
// holding the public key, or nothing at all, mint tokens.
var algorithms = []string{"RS256", "ES256"}

// NewValidator checks cfg and returns a validator.
func NewValidator(cfg Config) (*Validator, error) {
	var missing []string
	if cfg.Issuer == "" {
		missing = append(missing, "issuer")
	}
	if cfg.Audience == "" {
		missing = append(missing, "audience")
	}
	if cfg.Scope == "" || strings.ContainsAny(cfg.Scope, " \t") {
		missing = append(missing, "scope (one scope, no spaces)")
	}
	if cfg.Keys == nil {
		missing = append(missing, "keys")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("auth: config needs %s", strings.Join(missing, ", "))
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = 30 * time.Second
	}
	cfg.Leeway = min(cfg.Leeway, 5*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return &Validator{cfg: cfg, parser: parser}, nil
}

// tokenClaims is the claim set as it arrives.
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope    string          `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID string          `json:"client_id"`
	Azp      string          `json:"azp"`
	Cid      string          `json:"cid"`
}

// Validate checks a compact-serialised JWT. Errors wrap [ErrInvalidToken]
// or [ErrInsufficientScope]; their text says which check failed and never
// repeats the token.
func (v *Validator) Validate(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no token", ErrInvalidToken)
	}
	if len(token) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: token over %d bytes", ErrInvalidToken, MaxTokenBytes)
	}
	var tc tokenClaims
	_, err := v.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err))
	}

	scopes, err := scopesOf(tc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if !slices.Contains(scopes, v.cfg.Scope) {
		return nil, fmt.Errorf("%w: scope %q not granted", ErrInsufficientScope, v.cfg.Scope)
	}
	c := &Claims{Subject: tc.Subject, Scopes: scopes, Expiry: tc.ExpiresAt.Time}
	for _, id := range []string{tc.ClientID, tc.Azp, tc.Cid} {
		if id != "" {
			c.ClientID = id
			break
		}
	}
	return c, nil
}

// key finds the verification key for t. The issuer is checked here, before
// the signature, so that tokens from elsewhere cannot make the key set be
// refetched.
func (v *Validator) key(ctx context.Context, t *jwt.Token) (any, error) {
	if c, ok := t.Claims.(*tokenClaims); !ok || c.Issuer != v.cfg.Issuer {
		return nil, jwt.ErrTokenInvalidIssuer
	}
	// RFC 7515 says a token whose "crit" header names extensions the
	// recipient does not understand must be refused; this one knows none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New(`"crit" header not supported`)
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("no kid in header")
	}
	key, err := v.cfg.Keys.Key(ctx, kid)
	if err != nil {
		return nil, err
	}
	return key, nil
}

// reason names the failed check without echoing any part of the token.
func reason(err error) string {
	checks := []struct {
		err  error
		text string
	}{
		{jwt.ErrTokenMalformed, "malformed token"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenExpired, "token expired"},
		{jwt.ErrTokenNotValidYet, "token not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "token issued in the future"},
		{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
		{ErrUnknownKey, "unknown signing key"},
		{jwt.ErrTokenSignatureInvalid, "signature or algorithm not accepted"},
		{jwt.ErrTokenUnverifiable, "no key to verify the token"},
	}
	for _, c := range checks {
		if errors.Is(err, c.err) {
			return c.text
		}
	}
	return "token not accepted"
}

// scopesOf reads "scope" (a space-separated string, RFC 8693) and "scp"
// (an array of strings, or a single string, as some issuers send it).
func scopesOf(tc tokenClaims) ([]string, error) {
	scopes := strings.Fields(tc.Scope)
	if len(tc.Scp) == 0 || string(tc.Scp) == "null" {
		return scopes, nil
	}
	var list []string
	if err := json.Unmarshal(tc.Scp, &list); err == nil {
		return append(scopes, list...), nil
	}
	var one string
	if err := json.Unmarshal(tc.Scp, &one); err != nil {
		return nil, errors.New(`"scp" is neither a string nor a list of strings`)
	}
	return append(scopes, strings.Fields(one)...), nil
}
