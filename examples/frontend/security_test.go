package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestBadTokensRefusedEverywhere sends tokens a frontend must refuse to
// every /v1 endpoint over HTTPS: each gets 401 (403 for a missing scope),
// no state is written and SF is never asked.
func TestBadTokensRefusedEverywhere(t *testing.T) {
	f := newFixture(t)
	iss := f.iss
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := iss.Claims()
		edit(c)
		return c
	}
	now := time.Now()
	tokens := []struct {
		name, token string
		status      int
	}{
		{"alg none", iss.SignWith(jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, iss.Claims()), 401},
		{"alg none, no signature part", strings.TrimSuffix(
			iss.SignWith(jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, iss.Claims()), "."), 401},
		{"another key under the issuer's key id", iss.SignWith(jwt.SigningMethodRS256, "rsa-1", otherKey, iss.Claims()), 401},
		{"another key under a new key id", iss.SignWith(jwt.SigningMethodRS256, "rsa-new", otherKey, iss.Claims()), 401},
		{"HS256 keyed with the public key", iss.SignWith(jwt.SigningMethodHS256, "rsa-1", iss.RSAPublicKeyPEM(), iss.Claims()), 401},
		{"wrong issuer", iss.SignRS256(with(func(c jwt.MapClaims) { c["iss"] = "https://issuer.invalid" })), 401},
		{"issuer with a trailing slash", iss.SignRS256(with(func(c jwt.MapClaims) { c["iss"] = iss.Issuer() + "/" })), 401},
		{"wrong audience", iss.SignRS256(with(func(c jwt.MapClaims) { c["aud"] = "another-service" })), 401},
		{"audience missing", iss.SignRS256(with(func(c jwt.MapClaims) { delete(c, "aud") })), 401},
		{"expired", iss.SignRS256(with(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Minute).Unix() })), 401},
		{"no expiry", iss.SignRS256(with(func(c jwt.MapClaims) { delete(c, "exp") })), 401},
		{"not yet valid", iss.SignRS256(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), 401},
		{"wrong scope", iss.SignRS256(with(func(c jwt.MapClaims) { c["scope"] = "sfconnector.read" })), 403},
		{"scope missing", iss.SignRS256(with(func(c jwt.MapClaims) { delete(c, "scope") })), 403},
		{"truncated", f.token()[:40], 401},
		{"oversized", strings.Repeat("a", 9<<10), 401},
	}
	endpoints := []struct{ method, path, body string }{
		{"POST", "/v1/runs", `{"dataType":"users"}`},
		{"GET", "/v1/runs/0190f5c4-5e2a-7c3b-9d4e-0123456789ab", ""},
		{"GET", "/v1/datatypes", ""},
	}
	for _, tok := range tokens {
		for _, ep := range endpoints {
			var body *strings.Reader
			ctype := ""
			if ep.body != "" {
				body, ctype = strings.NewReader(ep.body), "application/json"
			} else {
				body = strings.NewReader("")
			}
			resp, m := f.do(t, ep.method, ep.path, tok.token, ctype, body)
			if resp.StatusCode != tok.status {
				t.Errorf("%s: %s %s: %d %v, want %d", tok.name, ep.method, ep.path, resp.StatusCode, m, tok.status)
			}
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("%s: %s %s: no bearer challenge", tok.name, ep.method, ep.path)
			}
		}
	}
	if got := f.stateObjects(t); len(got) != 0 {
		t.Errorf("refused requests wrote state: %v", got)
	}
	if n := len(f.sim.Requests()); n != 0 {
		t.Errorf("refused requests reached SF %d times", n)
	}
	if logs := f.logs.String(); strings.Contains(logs, tokens[2].token[len(tokens[2].token)-30:]) {
		t.Error("a token reached the log")
	}
}

// TestBadNamesRefusedAtTheFrontend: a data type or run id that could
// leave its place in a key (../, an encoded slash, NUL, over-long text)
// is refused with 400 before anything is written.
func TestBadNamesRefusedAtTheFrontend(t *testing.T) {
	f := newFixture(t)
	tok := f.token()
	for _, dt := range []string{
		"../users", "users/../../x", "users%2F..%2Fx", "users%2fx", "users\x00", "a\x00b",
		strings.Repeat("a", 65), strings.Repeat("a", 5000), "Users", " users", "users/", ".", "..",
	} {
		body, _ := json.Marshal(map[string]string{"dataType": dt})
		resp, m := f.do(t, "POST", "/v1/runs", tok, "application/json", strings.NewReader(string(body)))
		if resp.StatusCode != http.StatusBadRequest || m["error"] != "unknown_data_type" {
			t.Errorf("dataType %.40q: %d %v, want 400 unknown_data_type", dt, resp.StatusCode, m)
		}
	}
	for _, id := range []string{
		"..%2F..%2Fusers", "..%2f..%2fstate.json", "%2e%2e", "0190f5c4-5e2a-7c3b-9d4e-0123456789ab%00",
		"0190f5c4-5e2a-7c3b-9d4e-0123456789ab%2F..", "0190f5c4-5e2a-7c3b-9d4e-0123456789ab..",
		strings.Repeat("a", 5000), "0190F5C4-5E2A-7C3B-9D4E-0123456789AB", "{0190f5c4-5e2a-7c3b-9d4e-0123456789ab}",
		"urn:uuid:0190f5c4-5e2a-7c3b-9d4e-0123456789ab",
	} {
		resp, m := f.do(t, "GET", "/v1/runs/"+id, tok, "", nil)
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusNotFound {
			t.Errorf("run id %.40q: %d %v, want 400 or 404", id, resp.StatusCode, m)
		}
		if resp.StatusCode == http.StatusNotFound && m["error"] == "run_not_found" {
			t.Errorf("run id %.40q reached the store", id)
		}
	}
	if got := f.stateObjects(t); len(got) != 0 {
		t.Errorf("refused requests wrote state: %v", got)
	}
}
