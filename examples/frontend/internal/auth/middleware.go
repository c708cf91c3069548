package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

type claimsKey struct{}

// FromContext returns the claims of the request's token, set by
// [Validator.Middleware].
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}

// BearerToken returns the token of an "Authorization: Bearer" header, or
// "" when there is none. The scheme is matched without regard to case.
func BearerToken(r *http.Request) string {
	h := r.Header.Values("Authorization")
	if len(h) != 1 {
		return "" // none, or ambiguous
	}
	scheme, token, ok := strings.Cut(h[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Middleware admits a request to next only with a valid token carrying the
// scope. Other requests get a JSON error and a WWW-Authenticate challenge
// for realm: 401 with error "invalid_token", or 403 with error
// "insufficient_scope".
func (v *Validator) Middleware(realm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := v.Validate(r.Context(), BearerToken(r))
		if err != nil {
			v.refuse(w, realm, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, claims)))
	})
}

func (v *Validator) refuse(w http.ResponseWriter, realm string, err error) {
	status, code := http.StatusUnauthorized, "invalid_token"
	if errors.Is(err, ErrInsufficientScope) {
		status, code = http.StatusForbidden, "insufficient_scope"
	}
	// The description is the check that failed; it holds no token bytes.
	desc := strings.TrimPrefix(err.Error(), ErrInvalidToken.Error()+": ")
	desc = strings.TrimPrefix(desc, ErrInsufficientScope.Error()+": ")
	challenge := fmt.Sprintf("Bearer realm=%s, error=%q, error_description=%s",
		quote(realm), code, quote(desc))
	if status == http.StatusForbidden {
		challenge += ", scope=" + quote(v.cfg.Scope)
	}
	w.Header().Set("WWW-Authenticate", challenge)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "message": desc})
}

// quote makes s an RFC 9110 quoted-string, dropping characters that a
// quoted-string cannot carry.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t' || (r >= 0x20 && r < 0x7f):
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
