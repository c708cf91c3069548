package sfsim

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

func TestTokenAcceptsGoodAssertion(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 100, Now: clock.Now, TokenTTL: time.Hour})
	cred := s.NewCredential(ts.URL)
	status, tr := postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), nil)
	if status != http.StatusOK || tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 {
		t.Fatalf("got %d %+v", status, tr)
	}

	// The token opens the OData API.
	c := &client{t: t, http: ts.Client(), token: tr.AccessToken}
	if st, env := c.page(ts.URL + "/odata/v2/User?$top=1"); st != http.StatusOK || len(env.D.Results) != 1 {
		t.Fatalf("OData with token: %d %+v", st, env.Error)
	}

	// Asking again for the same user returns the same token with the
	// remaining lifetime; new_token=true issues another.
	clock.Add(10 * time.Minute)
	_, again := postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), nil)
	if again.AccessToken != tr.AccessToken || again.ExpiresIn != 3000 {
		t.Fatalf("repeat: got %+v, want the same token with 3000s left", again)
	}
	_, fresh := postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), url.Values{"new_token": {"true"}})
	if fresh.AccessToken == "" || fresh.AccessToken == tr.AccessToken || fresh.ExpiresIn != 3600 {
		t.Fatalf("new_token: got %+v", fresh)
	}

	// The log keeps form field names, never values.
	var keys []string
	for _, r := range s.Requests() {
		if r.Path == "/oauth/token" {
			keys = r.FormKeys
		}
		if strings.Contains(r.RawQuery, tr.AccessToken) {
			t.Fatal("token value in the request log")
		}
	}
	want := []string{"assertion", "client_id", "company_id", "grant_type", "new_token"}
	if !slices.Equal(keys, want) {
		t.Fatalf("form keys %v, want %v", keys, want)
	}
}

func TestTokenRejectsBadAssertions(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 100, Now: clock.Now})
	cred := s.NewCredential(ts.URL)
	other := s.NewCredential(ts.URL)
	now := clock.Now()
	otherSpec := specFor(t, other, now)
	inactive := ""
	for u := 0; u < 100; u++ {
		if s.w.inactive(u) {
			inactive = userID(u)
			break
		}
	}
	if inactive == "" {
		t.Fatal("no inactive user in the data")
	}

	cases := []struct {
		name   string
		edit   func(a *assertionSpec)
		form   url.Values
		status int
		msg    string
	}{
		{"wrong key", func(a *assertionSpec) { a.key = mustKey(t) }, nil, 401, "Unable to verify the signature"},
		{"other client's key and cert", func(a *assertionSpec) { a.key, a.certDER = otherSpec.key, otherSpec.certDER }, nil, 401, "Unable to verify the signature"},
		{"tampered NameID", func(a *assertionSpec) {
			a.tamper = func(r *etree.Element) { r.FindElement("./Subject/NameID").SetText("10000003") }
		}, nil, 401, "Unable to verify the signature"},
		{"tampered api_key", func(a *assertionSpec) {
			a.tamper = func(r *etree.Element) {
				r.FindElement("./AttributeStatement/Attribute/AttributeValue").SetText("someone-else")
			}
		}, nil, 401, "Unable to verify the signature"},
		{"unsigned", func(a *assertionSpec) {
			a.tamper = func(r *etree.Element) {
				// The signer appends the Signature without indexing it, so
				// RemoveChild cannot find it; filter the children instead.
				kept := r.Child[:0]
				for _, c := range r.Child {
					if el, ok := c.(*etree.Element); !ok || el.Tag != "Signature" {
						kept = append(kept, c)
					}
				}
				r.Child = kept
			}
		}, nil, 401, "Unable to verify the signature"},
		{"rsa-sha1", func(a *assertionSpec) { a.sigMethod = dsig.RSASHA1SignatureMethod }, nil, 401, "Unable to verify the signature"},
		{"wrong audience", func(a *assertionSpec) { a.audience = "api.example.com" }, nil, 401, "invalid audience"},
		{"wrong recipient", func(a *assertionSpec) { a.recipient = ts.URL + "/odata/v2" }, nil, 401, "invalid recipient"},
		{"expired", func(a *assertionSpec) {
			a.issued, a.notBefore, a.notAfter, a.scdAfter = now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-50*time.Minute), now.Add(-50*time.Minute)
		}, nil, 401, "has expired"},
		{"confirmation expired", func(a *assertionSpec) { a.scdAfter = now.Add(-10 * time.Minute) }, nil, 401, "has expired"},
		{"not yet valid", func(a *assertionSpec) { a.notBefore = now.Add(10 * time.Minute) }, nil, 401, "not yet valid"},
		{"no issuer", func(a *assertionSpec) { a.issuer = "" }, nil, 401, "missing Issuer"},
		{"api_key mismatch", func(a *assertionSpec) { a.apiKey = other.ClientID }, nil, 401, "api_key attribute"},
		{"unknown user", func(a *assertionSpec) { a.nameID = "jane.doe@acme.example" }, nil, 401, "Login failed - invalid user"},
		{"inactive user", func(a *assertionSpec) { a.nameID = inactive }, nil, 401, "Login failed - invalid user"},
		{"wrong company case", nil, url.Values{"company_id": {strings.ToLower(cred.CompanyID)}}, 401, "invalid companyId"},
		{"unknown client", nil, url.Values{"client_id": {"no-such-client"}}, 401, "client_id"},
		{"wrong grant", nil, url.Values{"grant_type": {"client_credentials"}}, 400, "grant_type"},
		{"not base64", nil, url.Values{"assertion": {"%%%"}}, 400, "decode"},
		{"not xml", nil, url.Values{"assertion": {base64.StdEncoding.EncodeToString([]byte("hello"))}}, 400, "decode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := specFor(t, cred, now)
			if tc.edit != nil {
				tc.edit(&a)
			}
			status, tr := postToken(t, ts.Client(), cred, a.build(t), tc.form)
			if status != tc.status || !strings.Contains(tr.ErrorMessage, tc.msg) || tr.AccessToken != "" {
				t.Fatalf("got %d %+v, want %d with %q", status, tr, tc.status, tc.msg)
			}
			if tr.ErrorCode != strconv.Itoa(tc.status) {
				t.Fatalf("errorHttpCode %q, want %d", tr.ErrorCode, tc.status)
			}
		})
	}
}

func TestTokenSkewAndExpiredCertificate(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 10, Now: clock.Now, ClockSkew: time.Minute})
	cred := s.NewCredential(ts.URL)

	// A client clock 30s ahead is within the skew.
	a := specFor(t, cred, clock.Now().Add(30*time.Second))
	a.notBefore = a.issued
	if st, tr := postToken(t, ts.Client(), cred, a.build(t), nil); st != 200 {
		t.Fatalf("30s skew: %d %+v", st, tr)
	}
	// Two minutes ahead is not.
	a = specFor(t, cred, clock.Now().Add(2*time.Minute))
	a.notBefore = a.issued
	if st, tr := postToken(t, ts.Client(), cred, a.build(t), nil); st != 401 || !strings.Contains(tr.ErrorMessage, "not yet valid") {
		t.Fatalf("2m skew: %d %+v", st, tr)
	}

	// A certificate past its NotAfter is refused even with a good signature.
	key := mustKey(t)
	old := s.newCredential(ts.URL, key, clock.Now().Add(-48*time.Hour), clock.Now().Add(-24*time.Hour))
	if st, tr := postToken(t, ts.Client(), old, specFor(t, old, clock.Now()).build(t), nil); st != 401 || !strings.Contains(tr.ErrorMessage, "certificate has expired") {
		t.Fatalf("expired cert: %d %+v", st, tr)
	}
}

func TestTokenUserIdentifierModes(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 10, Now: clock.Now})
	cred := s.NewCredential(ts.URL)
	u := s.Records("User")[0]
	if u["userId"] != cred.UserID {
		t.Fatalf("credential user %s is not the first user", cred.UserID)
	}
	byName := specFor(t, cred, clock.Now())
	byName.nameID = u["username"].(string)
	byName.attrs = map[string]string{"use_username": "true"}
	if st, tr := postToken(t, ts.Client(), cred, byName.build(t), nil); st != 200 {
		t.Fatalf("username: %d %+v", st, tr)
	}
	// Without use_username, the user name is taken as a userId.
	byName.attrs = nil
	if st, _ := postToken(t, ts.Client(), cred, byName.build(t), nil); st != 401 {
		t.Fatalf("username without use_username: %d", st)
	}
	byMail := specFor(t, cred, clock.Now())
	byMail.nameID = u["email"].(string)
	byMail.format = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	if st, tr := postToken(t, ts.Client(), cred, byMail.build(t), nil); st != 200 {
		t.Fatalf("email: %d %+v", st, tr)
	}
}

func TestRegisterClientExternalCert(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 10, Now: clock.Now})
	gen := s.NewCredential(ts.URL)
	a := specFor(t, gen, clock.Now())
	cert, err := x509.ParseCertificate(a.certDER)
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterClient("external-key", cert)
	ext := gen
	ext.ClientID = "external-key"
	a.apiKey, a.issuer = "external-key", "external-key"
	if st, tr := postToken(t, ts.Client(), ext, a.build(t), nil); st != 200 {
		t.Fatalf("external cert: %d %+v", st, tr)
	}
}

func TestODataTokenExpiry(t *testing.T) {
	for _, status := range []int{0, http.StatusForbidden} {
		clock := newFakeClock()
		s, ts := startTLS(t, Options{Users: 10, Now: clock.Now, TokenTTL: 2 * time.Minute, ExpiredTokenStatus: status})
		cred := s.NewCredential(ts.URL)
		_, tr := postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), nil)
		c := &client{t: t, http: ts.Client(), token: tr.AccessToken}
		u := ts.URL + "/odata/v2/User?$top=1"
		if st, _ := c.page(u); st != 200 {
			t.Fatalf("fresh token: %d", st)
		}
		wantStatus, wantCode := 401, "LGN0022"
		if status == http.StatusForbidden {
			wantStatus, wantCode = 403, "LGN0006"
		}
		clock.Add(2 * time.Minute)
		if st, env := c.page(u); st != wantStatus || env.Error == nil || env.Error.Code != wantCode ||
			!strings.HasPrefix(env.Error.Message.Value, "["+wantCode+"]") {
			t.Fatalf("expired token: %d %+v", st, env.Error)
		}
		// A fresh token works; ExpireTokens ends it at once.
		_, tr = postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), nil)
		c.token = tr.AccessToken
		if st, _ := c.page(u); st != 200 {
			t.Fatalf("new token: %d", st)
		}
		s.ExpireTokens()
		if st, _ := c.page(u); st != wantStatus {
			t.Fatalf("after ExpireTokens: %d", st)
		}
		c.token = ""
		if st, _ := c.page(u); st != wantStatus {
			t.Fatalf("no token: %d", st)
		}
	}
}
