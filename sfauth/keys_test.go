package sfauth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

func crlf(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }

func TestLoadPEMFormats(t *testing.T) {
	key, other := testKeys(t)
	cert := validCert(t, key)
	der8, _ := x509.MarshalPKCS8PrivateKey(key)
	bare8 := base64.StdEncoding.EncodeToString(der8)
	bareCert := base64.StdEncoding.EncodeToString(cert.Raw)

	cases := []struct {
		name      string
		key, cert []byte
	}{
		{"PKCS8 PEM", pkcs8PEM(t, key), certPEM(cert)},
		{"PKCS1 PEM", pkcs1PEM(key), certPEM(cert)},
		{"CRLF", crlf(pkcs1PEM(key)), crlf(certPEM(cert))},
		{"armour-less PKCS8", []byte(bare8), []byte(bareCert)},
		{"armour-less wrapped CRLF", []byte(wrap(bare8, 64, "\r\n")), []byte(wrap(bareCert, 76, "\r\n"))},
		{"DER", der8, cert.Raw},
		{"BOM and blanks", append([]byte("\xef\xbb\xbf\n  "), pkcs8PEM(t, key)...), append(certPEM(cert), "\n\n"...)},
		{"key and cert in one file", append(certPEM(cert), pkcs8PEM(t, key)...), append(pkcs8PEM(t, key), certPEM(cert)...)},
		{"chain with another certificate first", pkcs8PEM(t, key), append(certPEM(validCert(t, other)), certPEM(cert)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, got, err := LoadPEM(c.key, c.cert)
			if err != nil {
				t.Fatalf("LoadPEM: %v", err)
			}
			if !k.Public().(*rsa.PublicKey).Equal(&key.PublicKey) {
				t.Error("wrong key loaded")
			}
			if !got.Equal(cert) {
				t.Error("wrong certificate loaded")
			}
		})
	}
}

func wrap(s string, n int, nl string) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + nl)
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestLoadPEMErrors(t *testing.T) {
	key, other := testKeys(t)
	cert := validCert(t, key)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallCert := validCert(t, small)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)

	secret := pkcs8PEM(t, key)
	cases := []struct {
		name      string
		key, cert []byte
		want      error
		detected  string
	}{
		{"mismatch", pkcs8PEM(t, other), certPEM(cert), ErrKeyMismatch, ""},
		{"too small", pkcs1PEM(small), certPEM(smallCert), ErrKeyTooSmall, ""},
		{"EC PEM", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), certPEM(cert), ErrUnsupportedKey, "EC key"},
		{"EC PKCS8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ec8}), certPEM(cert), ErrUnsupportedKey, "ECDSA"},
		{"encrypted PKCS8", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{0x30, 0}}), certPEM(cert), ErrUnsupportedKey, "encrypted"},
		{"cert as key", certPEM(cert), certPEM(cert), ErrUnknownFormat, `"CERTIFICATE" but no private key`},
		{"key as cert", secret, secret, ErrUnknownFormat, "no certificate"},
		{"JSON", []byte(`{"privateKey":"x"}`), certPEM(cert), ErrUnknownFormat, "JSON"},
		{"OpenSSH", []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), certPEM(cert), ErrUnknownFormat, "OPENSSH"},
		{"garbage text", []byte("hello world, not a key"), certPEM(cert), ErrUnknownFormat, "neither PEM nor base64"},
		{"empty", nil, certPEM(cert), ErrUnknownFormat, "empty"},
		{"base64 not DER", []byte(base64.StdEncoding.EncodeToString([]byte("plain words here"))), certPEM(cert), ErrUnknownFormat, "base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := LoadPEM(c.key, c.cert)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.detected != "" && !strings.Contains(err.Error(), c.detected) {
				t.Errorf("error %q does not name %q", err, c.detected)
			}
			assertNoSecret(t, err.Error(), key)
		})
	}
}

// assertNoSecret fails if s carries the private parts of key (D, P or Q)
// in binary, base64 (at any alignment), hex or decimal form, or a PEM
// private key header.
func assertNoSecret(t *testing.T, s string, key *rsa.PrivateKey) {
	t.Helper()
	if where := leak(s, key); where != "" {
		t.Fatalf("output carries key material (%s)", where)
	}
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_\-]{16,}`)

func leak(s string, key *rsa.PrivateKey) string {
	if strings.Contains(s, "PRIVATE KEY-----") {
		return "PEM armour"
	}
	hay := [][]byte{[]byte(s)}
	for _, run := range base64Run.FindAllString(s, -1) {
		for shift := 0; shift < 4 && shift < len(run); shift++ {
			r := run[shift:]
			r = r[:len(r)/4*4]
			for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
				if b, err := enc.DecodeString(r); err == nil {
					hay = append(hay, b)
				}
			}
		}
	}
	lower := strings.ToLower(s)
	for _, x := range append([]*big.Int{key.D}, key.Primes...) {
		b := x.Bytes()
		for i := 0; i+16 <= len(b); i += 8 {
			for _, h := range hay {
				if bytes.Contains(h, b[i:i+16]) {
					return "binary or base64"
				}
			}
		}
		if strings.Contains(lower, x.Text(16)[:32]) {
			return "hex"
		}
		if strings.Contains(s, x.String()[:32]) {
			return "decimal"
		}
	}
	return ""
}

func TestLeakDetector(t *testing.T) {
	key, _ := testKeys(t)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	b64 := base64.StdEncoding.EncodeToString(der)
	for name, s := range map[string]string{
		"pem":       string(pkcs8PEM(t, key)),
		"body":      b64,
		"body tail": b64[len(b64)/2+1:],
		"url tail":  base64.URLEncoding.EncodeToString(der)[len(b64)/3+2:],
		"hex":       "x " + key.D.Text(16),
		"decimal":   fmt.Sprintf("%v", key.D),
		"gostruct":  fmt.Sprintf("%+v", *key),
	} {
		if leak(s, key) == "" {
			t.Errorf("%s: leak not detected", name)
		}
	}
	if w := leak(string(certPEM(validCert(t, key))), key); w != "" {
		t.Errorf("certificate reported as a leak (%s)", w)
	}
}

func TestLoadPKCS12(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	k, c, err := LoadPKCS12(p12, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if !k.Public().(*rsa.PublicKey).Equal(&key.PublicKey) || !c.Equal(cert) {
		t.Fatal("wrong key or certificate from PKCS#12")
	}
	// As base64 text, the way the credential JSON carries it.
	if _, _, err := LoadPKCS12([]byte(base64.StdEncoding.EncodeToString(p12)), "s3cret"); err != nil {
		t.Fatalf("base64 bundle: %v", err)
	}
	if _, _, err := LoadPKCS12(p12, "wrong"); !errors.Is(err, pkcs12.ErrIncorrectPassword) {
		t.Fatalf("wrong password: err = %v", err)
	}
	_, _, err = LoadPKCS12(pkcs8PEM(t, key), "")
	if !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), "PEM text") {
		t.Fatalf("PEM given as PKCS#12: err = %v", err)
	}
	assertNoSecret(t, err.Error(), key)
}

func TestCertNotAfter(t *testing.T) {
	key, _ := testKeys(t)
	end := time.Now().Add(40 * 24 * time.Hour).Truncate(time.Second)
	cert := selfSigned(t, key, "x", time.Now().Add(-time.Hour), end)
	c := Credential{Certificate: cert}
	if !c.CertNotAfter().Equal(end) {
		t.Fatalf("CertNotAfter = %v, want %v", c.CertNotAfter(), end)
	}
	if !(Credential{}).CertNotAfter().IsZero() {
		t.Fatal("CertNotAfter without certificate should be zero")
	}
}
