package sfauth

// Tests named after the real-world cases in the project's case list for
// SuccessFactors SAML bearer tokens.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"software.sslmate.com/src/go-pkcs12"
)

// Case 1: an e-mail-shaped value sent as userId is "invalid user".
func TestCase1UserNotFoundIncludesMode(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	cred := testCredential(t, sf, key, cert)
	cred.UserID = "jane.doe@acme.example"

	ts, err := NewTokenSource(cred, testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUserNotFound) {
		t.Fatalf("err = %v, want ErrUserNotFound", err)
	}
	if e.Mode != UserID || !strings.Contains(err.Error(), "identifier mode userId") {
		t.Errorf("error does not name the identifier mode: %v", err)
	}
	if e.StatusCode != 401 || e.Code != "401" || !strings.Contains(e.Message, "Login failed - invalid user") {
		t.Errorf("error fields = %d %q %q", e.StatusCode, e.Code, e.Message)
	}
	if e.Temporary() || sf.hits.Load() != 1 {
		t.Errorf("retried a permanent error: hits %d", sf.hits.Load())
	}
}

// Case 1: the generated XML and form per identifier mode.
func TestCase1IdentifierModes(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	cases := []struct {
		mode                 IdentifierMode
		user, format, formUU string
		attrUU               bool
	}{
		{UserID, "apiuser01", nameIDUnspecified, "", false},
		{Username, "jdoe", nameIDUnspecified, "true", true},
		{Email, "jane.doe@acme.example", nameIDEmail, "", false},
	}
	for _, c := range cases {
		t.Run(c.mode.String(), func(t *testing.T) {
			sf := newFakeSF(t, cert)
			sf.users = map[string]bool{c.user: true}
			cred := testCredential(t, sf, key, cert)
			cred.UserID, cred.Mode = c.user, c.mode
			ts, err := NewTokenSource(cred, testOptions(sf))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ts.Token(); err != nil {
				t.Fatal(err)
			}
			if got := sf.lastForm().Get("use_username"); got != c.formUU {
				t.Errorf("form use_username = %q, want %q", got, c.formUU)
			}
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(sf.lastXML()); err != nil {
				t.Fatal(err)
			}
			a := doc.Root()
			if got := value(a, "Subject/NameID"); got != c.user {
				t.Errorf("NameID = %q", got)
			}
			if got := value(a, "Subject/NameID/@Format"); got != c.format {
				t.Errorf("NameID Format = %q, want %q", got, c.format)
			}
			got := value(a, "AttributeStatement/Attribute[@Name='use_username']/AttributeValue")
			if (got == "true") != c.attrUU {
				t.Errorf("use_username attribute = %q, want present=%v", got, c.attrUU)
			}
		})
	}
}

// Case 2: key B with certificate A fails before any HTTP.
func TestCase2KeyMismatchFailsFast(t *testing.T) {
	keyA, keyB := testKeys(t)
	certA := validCert(t, keyA)
	sf := newFakeSF(t, certA)

	if _, _, err := LoadPEM(pkcs8PEM(t, keyB), certPEM(certA)); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("LoadPEM: err = %v, want ErrKeyMismatch", err)
	}
	cred := testCredential(t, sf, keyB, certA)
	if _, err := NewTokenSource(cred, testOptions(sf)); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("NewTokenSource: err = %v, want ErrKeyMismatch", err)
	}
	if n := sf.hits.Load(); n != 0 {
		t.Fatalf("%d requests made before failing", n)
	}
}

// Case 2: a matching pair whose certificate is not the one registered.
func TestCase2SignatureRejected(t *testing.T) {
	keyA, keyB := testKeys(t)
	sf := newFakeSF(t, validCert(t, keyA)) // A is registered
	certB := validCert(t, keyB)
	ts, err := NewTokenSource(testCredential(t, sf, keyB, certB), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if !errors.Is(err, ErrSignatureRejected) {
		t.Fatalf("err = %v, want ErrSignatureRejected", err)
	}
	if !strings.Contains(err.Error(), `registered for client_id "`+testClient+`"`) {
		t.Errorf("error gives no hint at the registered certificate: %v", err)
	}
	if sf.hits.Load() != 1 {
		t.Errorf("signature rejection retried: %d requests", sf.hits.Load())
	}
}

// Case 3: a short-lived token; expiry from expires_in, renewal before it
// runs out, and new_token=true after SF rejects a token (LGN0022).
func TestCase3ExpiryFromExpiresIn(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	clock := newFakeClock(time.Now())
	sf := newFakeSF(t, cert)
	sf.now = clock.Now
	sf.expiry = 120

	opts := testOptions(sf)
	opts.Now = clock.Now
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), opts)
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(120 * time.Second); !tok.Expiry.Equal(want) {
		t.Fatalf("Expiry = %v, want start+120s = %v (not 86400s)", tok.Expiry, want)
	}

	// Default margin for a 120s token: half, 60s. At t+50 it is reused.
	clock.Advance(50 * time.Second)
	if tok2, _ := ts.Token(); tok2.AccessToken != tok.AccessToken || sf.hits.Load() != 1 {
		t.Fatalf("token renewed at t+50s with 70s left (hits %d)", sf.hits.Load())
	}
	// At t+90 only 30s are left: renewed before use.
	clock.Advance(40 * time.Second)
	tok3, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok3.AccessToken == tok.AccessToken || sf.hits.Load() != 2 {
		t.Fatalf("token not renewed at t+90s (hits %d)", sf.hits.Load())
	}
	if want := clock.Now().Add(120 * time.Second); !tok3.Expiry.Equal(want) {
		t.Fatalf("renewed Expiry = %v, want %v", tok3.Expiry, want)
	}
}

// Case 3 as the case list puts it: with default settings, the call at
// t+90s of a 120s token must not go out with the token about to lapse.
func TestCase3RenewBeforeCallAtT90(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	clock := newFakeClock(time.Now())
	sf := newFakeSF(t, cert)
	sf.now = clock.Now
	sf.expiry = 120
	var seen []string
	sf.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.Path != "/odata/v2/User" {
			return false
		}
		seen = append(seen, r.Header.Get("Authorization"))
		w.Write([]byte(`{"d":{"results":[]}}`))
		return true
	}
	opts := testOptions(sf)
	opts.Now = clock.Now
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), opts)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := ts.Token()
	clock.Advance(90 * time.Second)

	resp, err := ts.Client(sf.srv.Client()).Get(sf.srv.URL + "/odata/v2/User")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(seen) != 1 || seen[0] == "Bearer "+first.AccessToken {
		t.Fatalf("OData call at t+90s used the old token")
	}
	if sf.hits.Load() != 3 { // two exchanges and the OData call
		t.Fatalf("hits = %d, want 3", sf.hits.Load())
	}
}

// Case 3: SF rejects the token ([LGN0022]); the caller refreshes once and
// the exchange asks for a new token.
func TestCase3LGN0022RefreshSendsNewToken(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	var rejected string
	sf.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.Path != "/odata/v2/User" {
			return false
		}
		if rejected == "" {
			rejected = r.Header.Get("Authorization")
		}
		if r.Header.Get("Authorization") == rejected {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":{"code":"LGN0022","message":{"value":"[LGN0022]The access token is either rejected or expired"}}}`))
			return true
		}
		w.Write([]byte(`{"d":{"results":[]}}`))
		return true
	}
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	client := ts.Client(sf.srv.Client())

	resp, err := client.Get(sf.srv.URL + "/odata/v2/User")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d; the transport must not retry by itself", resp.StatusCode)
	}
	// What odata does after a 401: Refresh on the transport, one retry.
	if err := client.Transport.(interface{ Refresh(context.Context) error }).Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sf.lastForm().Get("new_token"); got != "true" {
		t.Fatalf("new_token = %q after refresh", got)
	}
	resp, err = client.Get(sf.srv.URL + "/odata/v2/User")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after refresh: status %d", resp.StatusCode)
	}
}

// Case 5: company ids are case-sensitive; only blanks are trimmed.
func TestCase5InvalidCompany(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		r.ParseForm()
		if r.PostForm.Get("company_id") == testCompany {
			return false
		}
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"errorHttpCode":"401","errorMessage":"Authentication failed due to invalid companyId"}`))
		return true
	}

	cred := testCredential(t, sf, key, cert)
	cred.CompanyID = "acme123"
	ts, err := NewTokenSource(cred, testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.Token()
	if !errors.Is(err, ErrInvalidCompany) {
		t.Fatalf("err = %v, want ErrInvalidCompany", err)
	}
	host := strings.TrimPrefix(sf.srv.URL, "https://")
	if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), `"acme123"`) {
		t.Errorf("error does not name host %s and the company id: %v", host, err)
	}
	if got := sf.lastForm().Get("company_id"); got != "acme123" {
		t.Errorf("company_id sent as %q; no case folding", got)
	}
	if sf.hits.Load() != 1 {
		t.Errorf("invalid company retried: %d requests", sf.hits.Load())
	}

	cred.CompanyID = "  " + testCompany + "\t"
	ts, err = NewTokenSource(cred, testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatalf("blanks around the company id: %v", err)
	}
}

// Case 6: no request to /oauth/idp, and no key material in any request.
func TestCase6NoKeyLeavesProcess(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	clock := newFakeClock(time.Now())
	sf.now = clock.Now
	sf.expiry = 60
	opts := testOptions(sf)
	opts.Now = clock.Now
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), opts)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ts.Token(); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute) // each call exchanges again
	}
	if err := ts.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}

	sf.mu.Lock()
	defer sf.mu.Unlock()
	if len(sf.paths) < 4 {
		t.Fatalf("only %d requests recorded", len(sf.paths))
	}
	allowed := map[string]bool{"grant_type": true, "company_id": true, "client_id": true, "assertion": true, "new_token": true}
	for i, p := range sf.paths {
		if p != "/oauth/token" {
			t.Errorf("request %d went to %s", i, p)
		}
		for k, vs := range sf.forms[i] {
			if !allowed[k] {
				t.Errorf("form key %q sent", k)
			}
			for _, v := range vs {
				if strings.Contains(v, "PRIVATE KEY") {
					t.Errorf("PEM text in form field %s", k)
				}
				assertNoSecret(t, v, key)
			}
		}
		assertNoSecret(t, string(sf.xmls[i]), key)
	}
}

// Case 7: the certificate body SF's form wants.
func TestCase7CertBodyForSF(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	want := base64.StdEncoding.EncodeToString(cert.Raw)

	for name, in := range map[string][]byte{
		"PEM CRLF":     crlf(certPEM(cert)),
		"PEM":          certPEM(cert),
		"armour-less":  []byte(wrap(want, 64, "\r\n")),
		"PEM with key": append(crlf(pkcs8PEM(t, key)), crlf(certPEM(cert))...),
		"DER":          cert.Raw,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := CertBodyForSF(in)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("body differs")
			}
			if strings.ContainsAny(got, "\r\n -") {
				t.Fatalf("body not a single base64 line: %q", got[:40])
			}
		})
	}
	if _, err := CertBodyForSF(pkcs8PEM(t, key)); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("key given as certificate: err = %v", err)
	}
}

// Case 7: the loader takes PEM with or without armour, CRLF, PKCS#1/#8.
func TestCase7LoaderVariants(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	der8, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, k := range map[string][]byte{
		"PKCS1 CRLF":           crlf(pkcs1PEM(key)),
		"PKCS8 CRLF":           crlf(pkcs8PEM(t, key)),
		"PKCS8 no armour":      []byte(base64.StdEncoding.EncodeToString(der8)),
		"PKCS1 no armour CRLF": []byte(wrap(base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key)), 64, "\r\n")),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := LoadPEM(k, crlf(certPEM(cert))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Case 8: the issuer's clock is 90s ahead of SF's; NotBefore is
// back-dated by the clock skew, not by a day.
func TestCase8ClockSkewWindow(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	serverNow := time.Now()
	clientClock := newFakeClock(serverNow.Add(90 * time.Second))
	sf := newFakeSF(t, cert)
	sf.now = func() time.Time { return serverNow }

	opts := testOptions(sf)
	opts.Now = clientClock.Now
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); err != nil {
		t.Fatalf("SF 90s behind rejected the assertion: %v", err)
	}

	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(sf.lastXML()); err != nil {
		t.Fatal(err)
	}
	a := doc.Root()
	issued, _ := time.Parse(time.RFC3339, value(a, "@IssueInstant"))
	notBefore, _ := time.Parse(time.RFC3339, value(a, "Conditions/@NotBefore"))
	notAfter, _ := time.Parse(time.RFC3339, value(a, "Conditions/@NotOnOrAfter"))
	if d := issued.Sub(notBefore); d != 5*time.Minute {
		t.Errorf("NotBefore = IssueInstant - %v, want 5m", d)
	}
	if d := notAfter.Sub(issued); d != 10*time.Minute {
		t.Errorf("NotOnOrAfter = IssueInstant + %v, want 10m", d)
	}
	if got := value(a, "Subject/SubjectConfirmation/SubjectConfirmationData/@NotOnOrAfter"); got != samlTime(notAfter) {
		t.Errorf("SubjectConfirmationData NotOnOrAfter = %s", got)
	}

	// Settable: with 1s of skew the same 90s lead is rejected by SF.
	cred := testCredential(t, sf, key, cert)
	cred.ClockSkew = time.Second
	cred.Lifetime = 3 * time.Minute
	ts, err = NewTokenSource(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Token(); !errors.Is(err, ErrAssertionExpired) {
		t.Fatalf("1s skew, 90s ahead: err = %v, want ErrAssertionExpired", err)
	}
	doc = etree.NewDocument()
	doc.ReadFromBytes(sf.lastXML())
	a = doc.Root()
	issued, _ = time.Parse(time.RFC3339, value(a, "@IssueInstant"))
	notBefore, _ = time.Parse(time.RFC3339, value(a, "Conditions/@NotBefore"))
	notAfter, _ = time.Parse(time.RFC3339, value(a, "Conditions/@NotOnOrAfter"))
	if issued.Sub(notBefore) != time.Second || notAfter.Sub(issued) != 3*time.Minute {
		t.Errorf("window %v..%v around %v", notBefore, notAfter, issued)
	}
}

// Case 9: an expired certificate is an error by default, a warning when
// allowed; one expiring within 30 days is a warning.
func TestCase9CertificateExpiry(t *testing.T) {
	key, _ := testKeys(t)
	now := time.Now()
	yesterday := now.Add(-24 * time.Hour).Truncate(time.Second)
	expired := selfSigned(t, key, "old", now.Add(-400*24*time.Hour), yesterday)
	sf := newFakeSF(t, expired)

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))

	cred := testCredential(t, sf, key, expired)
	if !cred.CertNotAfter().Equal(yesterday) {
		t.Fatalf("CertNotAfter = %v, want %v", cred.CertNotAfter(), yesterday)
	}
	_, err := NewTokenSource(cred, testOptions(sf))
	if !errors.Is(err, ErrCertificateExpired) || !strings.Contains(err.Error(), yesterday.UTC().Format(time.RFC3339)) {
		t.Fatalf("err = %v, want ErrCertificateExpired naming %v", err, yesterday)
	}

	opts := testOptions(sf)
	opts.AllowExpiredCertificate = true
	opts.Logger = logger
	ts, err := NewTokenSource(cred, opts)
	if err != nil {
		t.Fatalf("allowed expired certificate: %v", err)
	}
	if !ts.CertNotAfter().Equal(yesterday) {
		t.Errorf("TokenSource.CertNotAfter = %v", ts.CertNotAfter())
	}
	if !strings.Contains(logs.String(), `"level":"WARN","msg":"sfauth: certificate expired"`) {
		t.Errorf("no warning logged: %s", logs.String())
	}

	logs.Reset()
	soon := selfSigned(t, key, "soon", now.Add(-time.Hour), now.Add(10*24*time.Hour))
	if _, err := NewTokenSource(testCredential(t, sf, key, soon), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "sfauth: certificate expires soon") {
		t.Errorf("no warning for a certificate expiring in 10 days: %s", logs.String())
	}

	logs.Reset()
	later := selfSigned(t, key, "later", now.Add(-time.Hour), now.Add(60*24*time.Hour))
	if _, err := NewTokenSource(testCredential(t, sf, key, later), opts); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("warning for a certificate valid 60 more days: %s", logs.String())
	}
}

// Case 10: SF's armour-less base64 PKCS#8 download and a .p12 load; an
// unknown format is named and not quoted.
func TestCase10KeyFormats(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	der8, _ := x509.MarshalPKCS8PrivateKey(key)
	sfDownload := []byte(base64.StdEncoding.EncodeToString(der8) + "\n")
	if _, _, err := LoadPEM(sfDownload, certPEM(cert)); err != nil {
		t.Fatalf("armour-less PKCS#8: %v", err)
	}

	p12, err := pkcs12.Modern.Encode(key, cert, nil, "changeit")
	if err != nil {
		t.Fatal(err)
	}
	k, c, err := LoadPKCS12(p12, "changeit")
	if err != nil || !c.Equal(cert) || k == nil {
		t.Fatalf("PKCS#12: %v", err)
	}

	// A .p12 handed to the PEM loader: named, not quoted.
	_, _, err = LoadPEM(p12, certPEM(cert))
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("err = %v, want *FormatError", err)
	}
	if !strings.Contains(err.Error(), "PKCS#12") {
		t.Errorf("error does not name PKCS#12: %v", err)
	}
	assertNoSecret(t, err.Error(), key)
	if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString(p12[:12])) {
		t.Errorf("error quotes the input")
	}
	// The same bundle base64-encoded, as it might sit in a key file.
	_, _, err = LoadPEM([]byte(base64.StdEncoding.EncodeToString(p12)), certPEM(cert))
	if !strings.Contains(fmtErr(err), "PKCS#12") {
		t.Errorf("base64 bundle: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
