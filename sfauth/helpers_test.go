package sfauth

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Keys are slow to make; tests share a few.
var (
	keysOnce sync.Once
	keyA     *rsa.PrivateKey
	keyB     *rsa.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if keyA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if keyB, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

// selfSigned makes a certificate for key valid from notBefore to notAfter.
func selfSigned(t testing.TB, key *rsa.PrivateKey, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func validCert(t testing.TB, key *rsa.PrivateKey) *x509.Certificate {
	return selfSigned(t, key, "sfconnector test", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pkcs8PEM(t testing.TB, k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// fakeSF is a token endpoint on real HTTPS that verifies assertions the
// way SF is understood to: signature against the registered certificate,
// time window, audience, recipient, company, client and user.
type fakeSF struct {
	t      testing.TB
	srv    *httptest.Server
	cert   *x509.Certificate // registered for clientID
	now    func() time.Time  // server clock
	users  map[string]bool   // userId or e-mail, per mode below
	expiry int64             // expires_in answered

	// respond, when set, answers instead of the checks.
	respond func(w http.ResponseWriter, r *http.Request, n int) bool

	mu       sync.Mutex
	paths    []string
	forms    []url.Values
	xmls     [][]byte
	hits     atomic.Int64
	block    chan struct{} // when set, each exchange waits on it
	received chan struct{}
}

const (
	testCompany = "ACME123"
	testClient  = "NWQ5ZmFrZUFwaUtleUV4YW1wbGU"
	testUser    = "apiuser01"
)

func newFakeSF(t testing.TB, cert *x509.Certificate) *fakeSF {
	f := &fakeSF{t: t, cert: cert, now: time.Now, users: map[string]bool{testUser: true}, expiry: 86400}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSF) tokenURL() string { return f.srv.URL + "/oauth/token" }

func (f *fakeSF) serve(w http.ResponseWriter, r *http.Request) {
	n := int(f.hits.Add(1))
	_ = r.ParseForm()
	f.mu.Lock()
	f.paths = append(f.paths, r.URL.Path)
	f.forms = append(f.forms, r.PostForm)
	raw, _ := base64.StdEncoding.DecodeString(r.PostForm.Get("assertion"))
	f.xmls = append(f.xmls, raw)
	block, received := f.block, f.received
	f.mu.Unlock()
	if received != nil {
		received <- struct{}{}
	}
	if block != nil {
		<-block
	}
	if f.respond != nil && f.respond(w, r, n) {
		return
	}
	if r.URL.Path != "/oauth/token" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if msg := f.check(r.PostForm, raw); msg != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"errorHttpCode": "401", "errorMessage": msg})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": "tok-" + time.Now().Format("150405.000000000"),
		"token_type":   "Bearer",
		"expires_in":   f.expiry,
	})
}

// check returns SF's error message, or "" when the request is good.
func (f *fakeSF) check(form url.Values, raw []byte) string {
	if form.Get("grant_type") != GrantType {
		return "unsupported grant type"
	}
	if form.Get("company_id") != testCompany {
		return "Authentication failed due to invalid companyId"
	}
	if form.Get("client_id") != testClient {
		return "Invalid API key"
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return "Unable to verify the signature of the SAML assertion"
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{f.cert}})
	vc.Clock = dsig.NewFakeClockAt(f.now())
	a, err := vc.Validate(doc.Root())
	if err != nil {
		return "Unable to verify the signature of the SAML assertion. Please ensure that the assertion has a signature and the key pairs match the client ID"
	}
	now := f.now()
	cond := a.FindElement("./Conditions")
	nb, _ := time.Parse(time.RFC3339, cond.SelectAttrValue("NotBefore", ""))
	na, _ := time.Parse(time.RFC3339, cond.SelectAttrValue("NotOnOrAfter", ""))
	if now.Before(nb) || !now.Before(na) {
		return "SAML assertion expired or not yet valid"
	}
	if aud := a.FindElement("./Conditions/AudienceRestriction/Audience"); aud == nil || aud.Text() != DefaultAudience {
		return "Invalid audience in SAML assertion"
	}
	scd := a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")
	if scd == nil || scd.SelectAttrValue("Recipient", "") != f.tokenURL() {
		return "Invalid recipient in SAML assertion"
	}
	nameID := a.FindElement("./Subject/NameID")
	if nameID == nil || !f.users[nameID.Text()] {
		return "Unable to authenticate the client (Login failed - invalid user)"
	}
	return ""
}

func (f *fakeSF) lastForm() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.forms) == 0 {
		return nil
	}
	return f.forms[len(f.forms)-1]
}

func (f *fakeSF) lastXML() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.xmls) == 0 {
		return nil
	}
	return f.xmls[len(f.xmls)-1]
}

// testCredential is a good credential for f's registered key.
func testCredential(t testing.TB, f *fakeSF, key *rsa.PrivateKey, cert *x509.Certificate) Credential {
	return Credential{
		TokenURL:    f.tokenURL(),
		CompanyID:   testCompany,
		ClientID:    testClient,
		UserID:      testUser,
		Key:         key,
		Certificate: cert,
	}
}

// testOptions trusts f's certificate and keeps retries fast.
func testOptions(f *fakeSF) *Options {
	return &Options{
		HTTPClient:     f.srv.Client(),
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  5 * time.Millisecond,
	}
}

// hsmKey hides the concrete key type, as a key in an HSM or KMS does.
type hsmKey struct{ crypto.Signer }

// fakeClock is a settable clock for Options.Now and the fake server.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
