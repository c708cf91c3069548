package sfsim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// fakeClock is a settable Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// startTLS serves a simulator over HTTPS on loopback.
func startTLS(t testing.TB, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewTLSServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// assertionSpec describes a SAML assertion to build; tests change one
// field from the valid defaults.
type assertionSpec struct {
	key       *rsa.PrivateKey
	certDER   []byte
	issuer    string
	nameID    string
	format    string
	recipient string
	audience  string
	issued    time.Time
	notBefore time.Time
	notAfter  time.Time
	scdAfter  time.Time
	apiKey    string
	attrs     map[string]string
	sigMethod string
	// tamper edits the signed document before it is serialised.
	tamper func(root *etree.Element)
}

func specFor(t testing.TB, cred Credential, now time.Time) assertionSpec {
	t.Helper()
	kb, _ := pem.Decode(cred.KeyPEM)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(cred.CertPEM)
	return assertionSpec{
		key:       k.(*rsa.PrivateKey),
		certDER:   cb.Bytes,
		issuer:    cred.ClientID,
		nameID:    cred.UserID,
		format:    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
		recipient: cred.TokenURL,
		audience:  "www.successfactors.com",
		issued:    now,
		notBefore: now.Add(-5 * time.Minute),
		notAfter:  now.Add(10 * time.Minute),
		scdAfter:  now.Add(10 * time.Minute),
		apiKey:    cred.ClientID,
		sigMethod: dsig.RSASHA256SignatureMethod,
	}
}

// build returns the Base64 of the signed assertion XML.
func (a assertionSpec) build(t testing.TB) string {
	t.Helper()
	ts := func(x time.Time) string { return x.UTC().Format("2006-01-02T15:04:05Z") }
	root := etree.NewElement("saml2:Assertion")
	root.CreateAttr("xmlns:saml2", "urn:oasis:names:tc:SAML:2.0:assertion")
	root.CreateAttr("ID", "_"+randomHex(16))
	root.CreateAttr("IssueInstant", ts(a.issued))
	root.CreateAttr("Version", "2.0")
	if a.issuer != "" {
		root.CreateElement("saml2:Issuer").SetText(a.issuer)
	}
	subj := root.CreateElement("saml2:Subject")
	nid := subj.CreateElement("saml2:NameID")
	nid.CreateAttr("Format", a.format)
	nid.SetText(a.nameID)
	sc := subj.CreateElement("saml2:SubjectConfirmation")
	sc.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	scd := sc.CreateElement("saml2:SubjectConfirmationData")
	scd.CreateAttr("NotOnOrAfter", ts(a.scdAfter))
	scd.CreateAttr("Recipient", a.recipient)
	cond := root.CreateElement("saml2:Conditions")
	cond.CreateAttr("NotBefore", ts(a.notBefore))
	cond.CreateAttr("NotOnOrAfter", ts(a.notAfter))
	cond.CreateElement("saml2:AudienceRestriction").CreateElement("saml2:Audience").SetText(a.audience)
	as := root.CreateElement("saml2:AuthnStatement")
	as.CreateAttr("AuthnInstant", ts(a.issued))
	as.CreateAttr("SessionIndex", "_"+randomHex(8))
	as.CreateElement("saml2:AuthnContext").CreateElement("saml2:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
	attrs := root.CreateElement("saml2:AttributeStatement")
	add := func(name, value string) {
		at := attrs.CreateElement("saml2:Attribute")
		at.CreateAttr("Name", name)
		at.CreateElement("saml2:AttributeValue").SetText(value)
	}
	if a.apiKey != "" {
		add("api_key", a.apiKey)
	}
	for k, v := range a.attrs {
		add(k, v)
	}
	ks := dsig.TLSCertKeyStore(tls.Certificate{PrivateKey: a.key, Certificate: [][]byte{a.certDER}})
	ctx := dsig.NewDefaultSigningContext(ks)
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(a.sigMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(root)
	if err != nil {
		t.Fatal(err)
	}
	if a.tamper != nil {
		a.tamper(signed)
	}
	doc := etree.NewDocument()
	doc.SetRoot(signed)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// tokenResponse is either shape the token endpoint answers with.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ErrorCode    string `json:"errorHttpCode"`
	ErrorMessage string `json:"errorMessage"`
}

func postToken(t testing.TB, c *http.Client, cred Credential, assertion string, extra url.Values) (int, tokenResponse) {
	t.Helper()
	form := url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:saml2-bearer"},
		"company_id": {cred.CompanyID},
		"client_id":  {cred.ClientID},
		"assertion":  {assertion},
	}
	for k, v := range extra {
		form[k] = v
	}
	resp, err := c.PostForm(cred.TokenURL, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("token response %d is not JSON: %q", resp.StatusCode, b)
	}
	return resp.StatusCode, tr
}

// client is an HTTPS client for a test server with a bearer token.
type client struct {
	t     testing.TB
	http  *http.Client
	token string
}

func (c *client) get(u string) (*http.Response, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("X-SFConnector-Run", "run-1/1/w1")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("GET %s: reading body: %v", u, err)
	}
	return resp, b
}

// envelope is the OData V2 JSON collection page.
type envelope struct {
	D struct {
		Count   string           `json:"__count"`
		Results []map[string]any `json:"results"`
		Next    string           `json:"__next"`
	} `json:"d"`
	Error *struct {
		Code    string `json:"code"`
		Message struct {
			Lang  string `json:"lang"`
			Value string `json:"value"`
		} `json:"message"`
	} `json:"error"`
}

func (c *client) page(u string) (int, envelope) {
	c.t.Helper()
	resp, b := c.get(u)
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		c.t.Fatalf("GET %s: %d body is not JSON: %.200q", u, resp.StatusCode, b)
	}
	return resp.StatusCode, env
}

// all follows __next from u to the end and returns every record.
func (c *client) all(u string) ([]map[string]any, int) {
	c.t.Helper()
	var out []map[string]any
	pages := 0
	for u != "" {
		status, env := c.page(u)
		if status != http.StatusOK {
			c.t.Fatalf("GET %s: status %d: %+v", u, status, env.Error)
		}
		out = append(out, env.D.Results...)
		pages++
		u = env.D.Next
		if pages > 100000 {
			c.t.Fatal("paging does not end")
		}
	}
	return out, pages
}

func newClient(t testing.TB, s *Server, ts *httptest.Server) *client {
	return &client{t: t, http: ts.Client(), token: s.IssueToken("10000001")}
}

func uri(rec map[string]any) string {
	return rec["__metadata"].(map[string]any)["uri"].(string)
}

func keyOf(rec map[string]any) string {
	u := uri(rec)
	return u[strings.Index(u, "/odata/v2/")+len("/odata/v2/"):]
}

func mustKey(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func xmlUnmarshal(b []byte, v any) error { return xml.Unmarshal(b, v) }
