package sfauth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// LoadPEM reads an RSA private key and its X.509 certificate.
//
// The key may be PKCS#1 ("RSA PRIVATE KEY"), PKCS#8 ("PRIVATE KEY"), the
// armour-less base64 PKCS#8 that SF offers for download, or raw DER; the
// certificate may be PEM (a chain file too: the certificate of the key
// is picked), armour-less base64 or DER. CRLF line ends and
// surrounding blanks are fine. The key must be RSA of at least 2048 bits
// and must match the certificate. Errors name the format found but never
// quote the input.
func LoadPEM(keyPEM, certPEM []byte) (crypto.Signer, *x509.Certificate, error) {
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, nil, err
	}
	certs, err := parseCerts(certPEM)
	if err != nil {
		return nil, nil, err
	}
	// A chain file may put the CA first; take the certificate of the key.
	for _, c := range certs[1:] {
		if checkPair(key, c) == nil {
			return key, c, nil
		}
	}
	if err := checkPair(key, certs[0]); err != nil {
		return nil, nil, err
	}
	return key, certs[0], nil
}

// LoadPKCS12 reads a key and certificate from a PKCS#12 (.p12, .pfx)
// bundle. The same checks as for [LoadPEM] apply.
func LoadPKCS12(data []byte, password string) (crypto.Signer, *x509.Certificate, error) {
	if b, ok := unarmouredBase64(data); ok {
		data = b // a bundle stored as base64 text, as in the credential JSON
	}
	k, cert, _, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return nil, nil, fmt.Errorf("sfauth: PKCS#12 password incorrect: %w", err)
		}
		return nil, nil, &FormatError{What: "PKCS#12", Detected: detect(data) + " (" + err.Error() + ")", Err: ErrUnknownFormat}
	}
	key, err := asSigner(k)
	if err != nil {
		return nil, nil, err
	}
	if err := checkPair(key, cert); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// CertBodyForSF returns a certificate as SF's OAuth client form wants it:
// the base64 body of the first certificate on one line, without armour.
// It accepts PEM (CRLF or LF), armour-less base64 and DER.
func CertBodyForSF(certPEM []byte) (string, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(cert.Raw), nil
}

// normalize drops a byte-order mark and CR characters.
func normalize(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.ReplaceAll(b, []byte("\r"), nil)
	return bytes.TrimSpace(b)
}

func parseKey(data []byte) (crypto.Signer, error) {
	if len(data) > 0 && data[0] == 0x30 {
		return keyFromDER(data, "DER") // binary: CR bytes are data here
	}
	data = normalize(data)
	if len(data) == 0 {
		return nil, &FormatError{What: "private key", Detected: "empty input", Err: ErrUnknownFormat}
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		var seen []string
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			seen = append(seen, block.Type)
			switch block.Type {
			case "RSA PRIVATE KEY", "PRIVATE KEY":
				if _, enc := block.Headers["DEK-Info"]; enc {
					return nil, &FormatError{What: "private key", Detected: "an encrypted PEM block; decrypt it first", Err: ErrUnsupportedKey}
				}
				return keyFromDER(block.Bytes, fmt.Sprintf("PEM block %q", block.Type))
			case "ENCRYPTED PRIVATE KEY":
				return nil, &FormatError{What: "private key", Detected: "an encrypted PKCS#8 key; decrypt it first", Err: ErrUnsupportedKey}
			case "EC PRIVATE KEY":
				return nil, &FormatError{What: "private key", Detected: "an EC key; SuccessFactors needs RSA", Err: ErrUnsupportedKey}
			}
		}
		if len(seen) == 0 {
			return nil, &FormatError{What: "private key", Detected: "PEM armour without a readable block", Err: ErrUnknownFormat}
		}
		return nil, &FormatError{What: "private key", Detected: "PEM blocks " + quoteAll(seen) + " but no private key", Err: ErrUnknownFormat}
	}
	if der, ok := unarmouredBase64(data); ok {
		return keyFromDER(der, "armour-less base64")
	}
	return nil, &FormatError{What: "private key", Detected: detect(data), Err: ErrUnknownFormat}
}

// keyFromDER reads PKCS#8 or PKCS#1; how names the outer format for errors.
func keyFromDER(der []byte, how string) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return asSigner(k)
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if _, err := x509.ParseECPrivateKey(der); err == nil {
		return nil, &FormatError{What: "private key", Detected: how + " holding an EC key; SuccessFactors needs RSA", Err: ErrUnsupportedKey}
	}
	if _, err := x509.ParseCertificate(der); err == nil {
		return nil, &FormatError{What: "private key", Detected: how + " holding a certificate, not a key", Err: ErrUnknownFormat}
	}
	if looksPKCS12(der) {
		return nil, &FormatError{What: "private key", Detected: how + " holding what looks like a PKCS#12 bundle; use LoadPKCS12", Err: ErrUnknownFormat}
	}
	return nil, &FormatError{What: "private key", Detected: how + " that is neither PKCS#8 nor PKCS#1", Err: ErrUnknownFormat}
}

func asSigner(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *ed25519.PrivateKey:
		return nil, &FormatError{What: "private key", Detected: fmt.Sprintf("a %s key; SuccessFactors needs RSA", keyKind(k)), Err: ErrUnsupportedKey}
	}
	return nil, &FormatError{What: "private key", Detected: fmt.Sprintf("an unsupported key type %T", k), Err: ErrUnsupportedKey}
}

func keyKind(k any) string {
	switch k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA"
	default:
		return "Ed25519"
	}
}

// parseCert returns the first certificate in data.
func parseCert(data []byte) (*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// parseCerts returns the certificates in data, at least one: every
// CERTIFICATE block of PEM, or the one certificate of base64 or DER.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if len(data) > 0 && data[0] == 0x30 {
		return one(certFromDER(data, "DER"))
	}
	data = normalize(data)
	if len(data) == 0 {
		return nil, &FormatError{What: "certificate", Detected: "empty input", Err: ErrUnknownFormat}
	}
	if bytes.Contains(data, []byte("-----BEGIN")) {
		rest := data
		var seen []string
		var certs []*x509.Certificate
		for {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			seen = append(seen, block.Type)
			if block.Type == "CERTIFICATE" {
				c, err := certFromDER(block.Bytes, "PEM block \"CERTIFICATE\"")
				if err != nil {
					return nil, err
				}
				certs = append(certs, c)
			}
		}
		if len(certs) > 0 {
			return certs, nil
		}
		if len(seen) == 0 {
			return nil, &FormatError{What: "certificate", Detected: "PEM armour without a readable block", Err: ErrUnknownFormat}
		}
		return nil, &FormatError{What: "certificate", Detected: "PEM blocks " + quoteAll(seen) + " but no certificate", Err: ErrUnknownFormat}
	}
	if der, ok := unarmouredBase64(data); ok {
		return one(certFromDER(der, "armour-less base64"))
	}
	return nil, &FormatError{What: "certificate", Detected: detect(data), Err: ErrUnknownFormat}
}

func one(c *x509.Certificate, err error) ([]*x509.Certificate, error) {
	if err != nil {
		return nil, err
	}
	return []*x509.Certificate{c}, nil
}

func certFromDER(der []byte, how string) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	if _, kerr := x509.ParsePKCS8PrivateKey(der); kerr == nil {
		return nil, &FormatError{What: "certificate", Detected: how + " holding a private key, not a certificate", Err: ErrUnknownFormat}
	}
	if _, kerr := x509.ParsePKCS1PrivateKey(der); kerr == nil {
		return nil, &FormatError{What: "certificate", Detected: how + " holding a private key, not a certificate", Err: ErrUnknownFormat}
	}
	return nil, &FormatError{What: "certificate", Detected: how + " that is not an X.509 certificate", Err: ErrUnknownFormat}
}

// unarmouredBase64 decodes text that is base64 and nothing else, with or
// without line breaks.
func unarmouredBase64(data []byte) ([]byte, bool) {
	var compact []byte
	for _, c := range data {
		switch {
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '=', c == '-', c == '_':
			compact = append(compact, c)
		default:
			return nil, false
		}
	}
	if len(compact) == 0 {
		return nil, false
	}
	s := string(compact)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 && b[0] == 0x30 {
			return b, true
		}
	}
	return nil, false
}

// looksPKCS12 checks the outer shape of a PFX (version 3, then PKCS#7
// data) without decrypting anything.
func looksPKCS12(der []byte) bool {
	var pfx struct {
		Version  int
		AuthSafe struct {
			ContentType asn1.ObjectIdentifier
			Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
		}
		MacData asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(der, &pfx); err != nil {
		return false
	}
	return pfx.Version == 3 && pfx.AuthSafe.ContentType.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})
}

// detect names what unreadable input looks like, without quoting it.
func detect(data []byte) string {
	if len(data) > 0 && data[0] == 0x30 {
		return fmt.Sprintf("binary DER-like data (%d bytes)", len(data))
	}
	data = normalize(data)
	switch {
	case len(data) == 0:
		return "empty input"
	case bytes.HasPrefix(data, []byte("{")):
		return "JSON text"
	case bytes.HasPrefix(data, []byte("<")):
		return "XML or HTML text"
	case bytes.HasPrefix(data, []byte("ssh-")), bytes.Contains(data, []byte("OPENSSH PRIVATE KEY")):
		return "an OpenSSH key"
	case bytes.Contains(data, []byte("-----BEGIN")):
		return "PEM text"
	}
	if _, ok := unarmouredBase64(data); ok {
		return "base64 text"
	}
	for _, c := range data {
		if c < 0x09 || (c > 0x0d && c < 0x20) || c == 0x7f {
			return fmt.Sprintf("binary data (%d bytes)", len(data))
		}
	}
	return fmt.Sprintf("text that is neither PEM nor base64 (%d bytes)", len(data))
}

func quoteAll(ss []string) string {
	if len(ss) > 5 {
		ss = append(ss[:5:5], "…")
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", clip(s, 40))
	}
	return strings.Join(q, ", ")
}
