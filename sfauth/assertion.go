package sfauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// SAML names used in the assertion.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsXS        = "http://www.w3.org/2001/XMLSchema"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"

	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	nameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	bearerMethod      = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	authnContextPPT   = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
)

// samlTime is the timestamp form SAML uses: UTC, second precision.
func samlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// newID returns an xsd:ID value: it must not start with a digit, hence "_".
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sfauth: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return "_" + hex.EncodeToString(b[:])
}

// signer signs assertions for one checked credential. It is safe for
// concurrent use.
type signer struct {
	cred Credential // checked, defaults filled
	ctx  *dsig.SigningContext
}

func newSigner(cred Credential) (*signer, error) {
	var ctx *dsig.SigningContext
	if k, ok := cred.Key.(*rsa.PrivateKey); ok {
		ctx = dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
			PrivateKey:  k,
			Certificate: [][]byte{cred.Certificate.Raw},
		}))
	} else {
		// A crypto.Signer such as an HSM or KMS key.
		var err error
		ctx, err = dsig.NewSigningContext(cred.Key, [][]byte{cred.Certificate.Raw})
		if err != nil {
			return nil, fmt.Errorf("sfauth: signing context: %w", err)
		}
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return nil, fmt.Errorf("sfauth: signature method: %w", err)
	}
	return &signer{cred: cred, ctx: ctx}, nil
}

// build returns the unsigned assertion issued at now.
func (s *signer) build(now time.Time) *etree.Element {
	c := s.cred
	notOnOrAfter := samlTime(now.Add(c.Lifetime))

	a := etree.NewElement("saml2:Assertion")
	a.CreateAttr("xmlns:saml2", nsAssertion)
	a.CreateAttr("xmlns:xs", nsXS)
	a.CreateAttr("xmlns:xsi", nsXSI)
	a.CreateAttr("ID", newID())
	a.CreateAttr("IssueInstant", samlTime(now))
	a.CreateAttr("Version", "2.0")

	a.CreateElement("saml2:Issuer").SetText(c.Issuer)

	subj := a.CreateElement("saml2:Subject")
	nameID := subj.CreateElement("saml2:NameID")
	if c.Mode == Email {
		nameID.CreateAttr("Format", nameIDEmail)
	} else {
		nameID.CreateAttr("Format", nameIDUnspecified)
	}
	nameID.SetText(c.UserID)
	sc := subj.CreateElement("saml2:SubjectConfirmation")
	sc.CreateAttr("Method", bearerMethod)
	scd := sc.CreateElement("saml2:SubjectConfirmationData")
	scd.CreateAttr("NotOnOrAfter", notOnOrAfter)
	scd.CreateAttr("Recipient", c.Recipient)

	cond := a.CreateElement("saml2:Conditions")
	cond.CreateAttr("NotBefore", samlTime(now.Add(-c.ClockSkew)))
	cond.CreateAttr("NotOnOrAfter", notOnOrAfter)
	cond.CreateElement("saml2:AudienceRestriction").
		CreateElement("saml2:Audience").SetText(c.Audience)

	authn := a.CreateElement("saml2:AuthnStatement")
	authn.CreateAttr("AuthnInstant", samlTime(now))
	authn.CreateAttr("SessionIndex", newID())
	authn.CreateElement("saml2:AuthnContext").
		CreateElement("saml2:AuthnContextClassRef").SetText(authnContextPPT)

	attrs := a.CreateElement("saml2:AttributeStatement")
	addAttribute(attrs, "api_key", c.ClientID)
	if c.Mode == Username {
		addAttribute(attrs, "use_username", "true")
	}
	return a
}

func addAttribute(parent *etree.Element, name, value string) {
	attr := parent.CreateElement("saml2:Attribute")
	attr.CreateAttr("Name", name)
	v := attr.CreateElement("saml2:AttributeValue")
	v.CreateAttr("xsi:type", "xs:string")
	v.SetText(value)
}

// sign returns the serialized signed assertion issued at now, with the
// Signature right after Issuer where the SAML schema puts it.
func (s *signer) sign(now time.Time) ([]byte, error) {
	signed, err := s.ctx.SignEnveloped(s.build(now))
	if err != nil {
		return nil, fmt.Errorf("sfauth: signing assertion: %w", err)
	}
	// SignEnveloped appends the Signature to the Child slice without
	// adopting it; the enveloped transform drops it from the digest, so
	// moving it after Issuer does not change what was signed.
	last := len(signed.Child) - 1
	sig, ok := signed.Child[last].(*etree.Element)
	if !ok || sig.Tag != "Signature" {
		return nil, fmt.Errorf("sfauth: signing assertion: no signature appended")
	}
	signed.Child = signed.Child[:last]
	signed.InsertChildAt(signed.SelectElement("Issuer").Index()+1, sig)

	doc := etree.NewDocument()
	doc.SetRoot(signed)
	out, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("sfauth: serializing assertion: %w", err)
	}
	return out, nil
}
