package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DiscoverJWKS reads the issuer's OpenID Connect discovery document
// ({issuer}/.well-known/openid-configuration) and returns its jwks_uri.
// The document must name the same issuer, and the key set URL must be
// https, so that a tampered document cannot point the validator at keys
// of someone else's choosing over plain HTTP.
func DiscoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("auth: issuer must be an absolute https URL")
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	doc := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, doc, nil)
	if err != nil {
		return "", fmt.Errorf("auth: discovery: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("auth: discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("auth: discovery: %s answered status %d", doc, resp.StatusCode)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&meta); err != nil {
		return "", fmt.Errorf("auth: discovery: %w", err)
	}
	if meta.Issuer != issuer {
		return "", fmt.Errorf("auth: discovery: document names issuer %q, not %q", meta.Issuer, issuer)
	}
	ju, err := url.Parse(meta.JWKSURI)
	if err != nil || ju.Scheme != "https" || ju.Host == "" {
		return "", fmt.Errorf("auth: discovery: jwks_uri is not an absolute https URL")
	}
	return meta.JWKSURI, nil
}
