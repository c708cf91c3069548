package auth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
)

// staticKeys serves keys from memory, so fuzzing needs no network.
type staticKeys map[string]crypto.PublicKey

func (k staticKeys) Key(_ context.Context, kid string) (crypto.PublicKey, error) {
	if key, ok := k[kid]; ok {
		return key, nil
	}
	return nil, auth.ErrUnknownKey
}

// FuzzValidate feeds arbitrary strings to the token check. Whatever comes
// in, it must not panic, must fail with one of its two sentinels, and may
// accept only a token carrying the scope.
func FuzzValidate(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	const issuer = "https://issuer.test"
	v, err := auth.NewValidator(auth.Config{
		Issuer: issuer, Audience: audience, Scope: scope,
		Keys: staticKeys{"k1": &key.PublicKey},
	})
	if err != nil {
		f.Fatal(err)
	}

	now := time.Now()
	sign := func(m jwt.SigningMethod, k any, claims jwt.MapClaims) string {
		t := jwt.NewWithClaims(m, claims)
		t.Header["kid"] = "k1"
		s, err := t.SignedString(k)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	good := jwt.MapClaims{
		"iss": issuer, "aud": audience, "scope": scope,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	f.Add(sign(jwt.SigningMethodES256, key, good))
	f.Add(sign(jwt.SigningMethodHS256, []byte("secret"), good))
	f.Add(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good))
	f.Add("eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.e30.")
	f.Add("..")
	f.Add("")
	f.Add(strings.Repeat(".", 3000))

	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Validate(context.Background(), token)
		if err != nil {
			if !errors.Is(err, auth.ErrInvalidToken) && !errors.Is(err, auth.ErrInsufficientScope) {
				t.Fatalf("error wraps neither sentinel: %v", err)
			}
			if len(token) >= 16 && strings.Contains(err.Error(), token) {
				t.Fatalf("error repeats the token: %v", err)
			}
			return
		}
		if !slices.Contains(claims.Scopes, scope) {
			t.Fatalf("accepted a token without the scope: %+v", claims)
		}
		if claims.Expiry.Before(time.Now().Add(-time.Minute)) {
			t.Fatalf("accepted an expired token: %+v", claims)
		}
	})
}

// FuzzParseKeySet feeds arbitrary documents to the JWKS parser: it must
// not panic, and every key it returns must be one this package verifies
// with.
func FuzzParseKeySet(f *testing.F) {
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"b","crv":"P-256","x":"` +
		"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4" + `","y":"` +
		"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM" + `"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","use":"enc"}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := auth.ParseKeySet(doc)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" {
				t.Fatal("key without kid")
			}
			switch k := k.(type) {
			case *ecdsa.PublicKey:
				if k.Curve != elliptic.P256() {
					t.Fatalf("curve %v", k.Curve.Params().Name)
				}
			default:
				if _, ok := k.(interface{ Size() int }); !ok {
					t.Fatalf("unexpected key type %T", k)
				}
			}
		}
	})
}
