package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrUnknownKey is returned by [KeySet.Key] when the key set, even after a
// refetch, holds no usable key with the asked-for id.
var ErrUnknownKey = errors.New("auth: unknown key id")

// maxJWKSBytes bounds a key set document; real ones are a few KiB.
const maxJWKSBytes = 1 << 20

// KeySetOptions configures a [KeySet]. The zero value means the defaults.
type KeySetOptions struct {
	// HTTPClient fetches the key set. nil means a client with a 10 s
	// timeout that trusts the system roots.
	HTTPClient *http.Client

	// MaxAge is how long a fetched key set is used before it is fetched
	// again. 0 means 1 hour.
	MaxAge time.Duration

	// MinRefreshInterval is the least time between two fetches. A token
	// naming an unknown key id within it is refused without a fetch.
	// 0 means 30 s.
	MinRefreshInterval time.Duration

	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// KeySet is an issuer's JSON Web Key Set, fetched over HTTPS and cached.
// It is safe for concurrent use.
type KeySet struct {
	url    string
	client *http.Client
	maxAge time.Duration
	minGap time.Duration
	now    func() time.Time
	group  singleflight.Group

	mu        sync.Mutex
	keys      map[string]crypto.PublicKey
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch, successful or not
	fetches   int
}

// NewKeySet returns a key set served at rawURL, which must be an https URL.
// Nothing is fetched until the first [KeySet.Key].
func NewKeySet(rawURL string, opts *KeySetOptions) (*KeySet, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("auth: JWKS URL must be an absolute https URL")
	}
	var o KeySetOptions
	if opts != nil {
		o = *opts
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxAge <= 0 {
		o.MaxAge = time.Hour
	}
	if o.MinRefreshInterval <= 0 {
		o.MinRefreshInterval = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &KeySet{
		url:    u.String(),
		client: o.HTTPClient,
		maxAge: o.MaxAge,
		minGap: o.MinRefreshInterval,
		now:    o.Now,
	}, nil
}

// Key returns the public key with id kid. It fetches the key set when none
// is cached, when the cached one is older than MaxAge, or when kid is not
// in it, each time only if MinRefreshInterval has passed since the last
// fetch. When a fetch fails the cached keys stay in use.
func (s *KeySet) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	s.mu.Lock()
	key, ok := s.keys[kid]
	fresh := s.keys != nil && s.now().Sub(s.fetched) < s.maxAge
	s.mu.Unlock()

	if ok && fresh {
		return key, nil
	}
	// refresh joins a fetch in flight, and fetches only when the minimum
	// interval has passed.
	fetchErr := s.refresh(ctx)

	s.mu.Lock()
	key, ok = s.keys[kid]
	s.mu.Unlock()
	if ok {
		return key, nil
	}
	if fetchErr != nil {
		return nil, fetchErr
	}
	return nil, ErrUnknownKey
}

// Fetches reports how many times the key set has been fetched.
func (s *KeySet) Fetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches
}

// refresh fetches the key set once, however many callers ask at a time.
func (s *KeySet) refresh(ctx context.Context) error {
	_, err, _ := s.group.Do("", func() (any, error) {
		s.mu.Lock()
		if !s.attempted.IsZero() && s.now().Sub(s.attempted) < s.minGap {
			s.mu.Unlock()
			return nil, nil // another caller fetched while we waited
		}
		s.attempted = s.now()
		s.fetches++
		s.mu.Unlock()

		keys, err := s.fetch(ctx)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.keys, s.fetched = keys, s.now()
		s.mu.Unlock()
		return nil, nil
	})
	return err
}

func (s *KeySet) fetch(ctx context.Context) (map[string]crypto.PublicKey, error) {
	// The fetch outlives a cancelled request so that the other callers
	// sharing it are not failed by one impatient client.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("auth: fetch JWKS: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: fetch JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("auth: fetch JWKS: document over %d bytes", maxJWKSBytes)
	}
	return ParseKeySet(body)
}

// jwk holds the members of a JSON Web Key that this package reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseKeySet decodes a JSON Web Key Set (RFC 7517) into public keys by key
// id. It keeps RSA keys of at least 2048 bits and P-256 EC keys meant for
// signatures, and skips any other key, so that an issuer publishing a key
// type this package does not use still works. A key without a kid, or two
// keys with the same kid, make the document an error.
func ParseKeySet(data []byte) (map[string]crypto.PublicKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("auth: parse JWKS: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(doc.Keys))
	for i, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		var (
			key crypto.PublicKey
			err error
		)
		switch {
		case k.Kty == "RSA" && (k.Alg == "" || k.Alg == "RS256"):
			key, err = rsaKey(k)
		case k.Kty == "EC" && (k.Alg == "" || k.Alg == "ES256"):
			key, err = ecKey(k)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("auth: parse JWKS: key %d: %w", i, err)
		}
		if k.Kid == "" {
			return nil, fmt.Errorf("auth: parse JWKS: key %d has no kid", i)
		}
		if _, dup := keys[k.Kid]; dup {
			return nil, fmt.Errorf("auth: parse JWKS: kid %q appears twice", k.Kid)
		}
		keys[k.Kid] = key
	}
	return keys, nil
}

func rsaKey(k jwk) (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.DecodeString(k.N)
	if err != nil {
		return nil, fmt.Errorf("bad modulus: %w", err)
	}
	e, err := base64.RawURLEncoding.DecodeString(k.E)
	if err != nil {
		return nil, fmt.Errorf("bad exponent: %w", err)
	}
	mod := new(big.Int).SetBytes(n)
	if mod.BitLen() < 2048 || mod.BitLen() > 8192 {
		return nil, fmt.Errorf("RSA modulus of %d bits", mod.BitLen())
	}
	exp := new(big.Int).SetBytes(e)
	if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
		return nil, errors.New("bad RSA exponent")
	}
	return &rsa.PublicKey{N: mod, E: int(exp.Int64())}, nil
}

func ecKey(k jwk) (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("curve %q is not P-256", k.Crv)
	}
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	if err != nil || len(x) != 32 {
		return nil, errors.New("bad x coordinate")
	}
	y, err := base64.RawURLEncoding.DecodeString(k.Y)
	if err != nil || len(y) != 32 {
		return nil, errors.New("bad y coordinate")
	}
	point := append(append([]byte{4}, x...), y...)
	key, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, errors.New("point not on P-256")
	}
	return key, nil
}
