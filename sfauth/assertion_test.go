package sfauth

import (
	"bytes"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// testSigner returns a signer for a checked credential built from cred.
func testSigner(t *testing.T, cred Credential) *signer {
	t.Helper()
	c, _, err := cred.check(time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSigner(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func baseCredential(t *testing.T) Credential {
	key, _ := testKeys(t)
	return Credential{
		TokenURL:    "https://api99.sapsf.example/oauth/token",
		CompanyID:   testCompany,
		ClientID:    testClient,
		UserID:      testUser,
		Key:         key,
		Certificate: validCert(t, key),
	}
}

// xmlsecVerify checks a signed assertion with xmlsec1, as an outside
// verifier would.
func xmlsecVerify(t *testing.T, xml []byte, cert *x509.Certificate) {
	t.Helper()
	if out, err := runXmlsec1(t, xml, cert); err != nil {
		t.Fatalf("xmlsec1 rejected the assertion: %v\n%s", err, out)
	} else if !bytes.Contains(out, []byte("OK")) {
		t.Fatalf("xmlsec1 did not say OK:\n%s", out)
	}
}

// xmlsec1Path finds xmlsec1: a missing one fails the test under CI and
// skips it, loudly, elsewhere.
func xmlsec1Path(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("xmlsec1 not installed (apt-get install xmlsec1): %v", err)
		}
		t.Log("SKIPPING xmlsec1 verification: xmlsec1 not installed (apt-get install xmlsec1)")
		t.SkipNow()
	}
	return bin
}

// runXmlsec1 verifies xml against cert with xmlsec1.
func runXmlsec1(t *testing.T, xml []byte, cert *x509.Certificate) ([]byte, error) {
	t.Helper()
	bin := xmlsec1Path(t)
	dir := t.TempDir()
	xmlPath := filepath.Join(dir, "assertion.xml")
	certPath := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(xmlPath, xml, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, certPEM(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return exec.Command(bin, "--verify",
		"--pubkey-cert-pem", certPath,
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
		xmlPath).CombinedOutput()
}

func TestAssertionVerifiesWithXmlsec1(t *testing.T) {
	for _, user := range []string{testUser, `a<b&c"d'e>f`} {
		t.Run(user, func(t *testing.T) {
			cred := baseCredential(t)
			cred.UserID = user
			xml, err := testSigner(t, cred).sign(time.Now())
			if err != nil {
				t.Fatal(err)
			}
			xmlsecVerify(t, xml, cred.Certificate)

			// The user id comes back unchanged from a parse.
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(xml); err != nil {
				t.Fatal(err)
			}
			if got := doc.FindElement("//NameID").Text(); got != user {
				t.Fatalf("NameID = %q, want %q", got, user)
			}
		})
	}
}

func TestAssertionTamperedFailsXmlsec1(t *testing.T) {
	cred := baseCredential(t)
	xml, err := testSigner(t, cred).sign(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	xmlsecVerify(t, xml, cred.Certificate) // the untouched one passes
	bad := bytes.Replace(xml, []byte(">"+testUser+"<"), []byte(">apiuser02<"), 1)
	if bytes.Equal(bad, xml) {
		t.Fatal("tamper did not change the XML")
	}
	if out, err := runXmlsec1(t, bad, cred.Certificate); err == nil {
		t.Fatalf("xmlsec1 accepted a tampered assertion:\n%s", out)
	}
}

func TestAssertionShape(t *testing.T) {
	cred := baseCredential(t)
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	xml, err := testSigner(t, cred).sign(now)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatal(err)
	}
	a := doc.Root()
	if a.Tag != "Assertion" || a.NamespaceURI() != nsAssertion {
		t.Fatalf("root is %s in %s", a.Tag, a.NamespaceURI())
	}
	id := a.SelectAttrValue("ID", "")
	if !strings.HasPrefix(id, "_") || len(id) != 33 {
		t.Errorf("ID = %q, want _ and 32 hex digits", id)
	}
	want := map[string]string{
		"IssueInstant":                        "2025-03-04T10:00:00Z",
		"Version":                             "2.0",
		"Issuer":                              "sfconnector test", // the certificate's CN
		"Subject/NameID":                      testUser,
		"Subject/NameID/@Format":              nameIDUnspecified,
		"Subject/SubjectConfirmation/@Method": "urn:oasis:names:tc:SAML:2.0:cm:bearer",
		"Subject/SubjectConfirmation/SubjectConfirmationData/@Recipient":    cred.TokenURL,
		"Subject/SubjectConfirmation/SubjectConfirmationData/@NotOnOrAfter": "2025-03-04T10:10:00Z",
		"Conditions/@NotBefore":                                        "2025-03-04T09:55:00Z",
		"Conditions/@NotOnOrAfter":                                     "2025-03-04T10:10:00Z",
		"Conditions/AudienceRestriction/Audience":                      "www.successfactors.com",
		"AuthnStatement/@AuthnInstant":                                 "2025-03-04T10:00:00Z",
		"AuthnStatement/AuthnContext/AuthnContextClassRef":             authnContextPPT,
		"AttributeStatement/Attribute[@Name='api_key']/AttributeValue": testClient,
	}
	for path, v := range want {
		if got := value(a, path); got != v {
			t.Errorf("%s = %q, want %q", path, got, v)
		}
	}
	// Signature right after Issuer, with the algorithms SF expects.
	kids := a.ChildElements()
	if kids[0].Tag != "Issuer" || kids[1].Tag != "Signature" {
		t.Fatalf("children start %s, %s; want Issuer, Signature", kids[0].Tag, kids[1].Tag)
	}
	sig := kids[1]
	for path, v := range map[string]string{
		"SignedInfo/CanonicalizationMethod/@Algorithm":            "http://www.w3.org/2001/10/xml-exc-c14n#",
		"SignedInfo/SignatureMethod/@Algorithm":                   "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
		"SignedInfo/Reference/@URI":                               "#" + id,
		"SignedInfo/Reference/DigestMethod/@Algorithm":            "http://www.w3.org/2001/04/xmlenc#sha256",
		"SignedInfo/Reference/Transforms/Transform[1]/@Algorithm": "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
		"SignedInfo/Reference/Transforms/Transform[2]/@Algorithm": "http://www.w3.org/2001/10/xml-exc-c14n#",
	} {
		if got := value(sig, path); got != v {
			t.Errorf("Signature/%s = %q, want %q", path, got, v)
		}
	}
	if got := value(sig, "KeyInfo/X509Data/X509Certificate"); got != mustBody(t, cred) {
		t.Error("KeyInfo does not carry the certificate")
	}
	// No comments and no pretty-printing inside the signed element.
	if bytes.Contains(xml, []byte("<!--")) || bytes.Contains(xml, []byte(">\n")) {
		t.Error("assertion carries comments or indentation")
	}
}

func mustBody(t *testing.T, cred Credential) string {
	b, err := CertBodyForSF(certPEM(cred.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// value reads an element's text, or an attribute with a final /@name.
func value(el *etree.Element, path string) string {
	attr := ""
	if i := strings.LastIndex(path, "/@"); i >= 0 {
		path, attr = path[:i], path[i+2:]
	} else if strings.HasPrefix(path, "@") {
		path, attr = "", path[1:]
	}
	if path == "" && attr != "" {
		return el.SelectAttrValue(attr, "<none>")
	}
	if attr == "" && !strings.Contains(path, "/") && el.SelectElement(path) == nil {
		return el.SelectAttrValue(path, "<none>")
	}
	e := el.FindElement("./" + path)
	if e == nil {
		return "<none>"
	}
	if attr != "" {
		return e.SelectAttrValue(attr, "<none>")
	}
	return e.Text()
}

func TestAssertionIDsUnique(t *testing.T) {
	s := testSigner(t, baseCredential(t))
	seen := map[string]bool{}
	for range 50 {
		a := s.build(time.Now())
		id := a.SelectAttrValue("ID", "")
		if seen[id] {
			t.Fatalf("ID %s repeated", id)
		}
		seen[id] = true
	}
}

func TestAssertionWithCryptoSigner(t *testing.T) {
	cred := baseCredential(t)
	cred.Key = hsmKey{cred.Key}
	xml, err := testSigner(t, cred).sign(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cred.Certificate}})
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("goxmldsig rejects the signature: %v", err)
	}
	xmlsecVerify(t, xml, cred.Certificate)
}
