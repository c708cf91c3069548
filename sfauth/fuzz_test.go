package sfauth

import (
	"crypto/x509"
	"encoding/base64"
	"flag"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"abc","token_type":"Bearer","expires_in":85949}`))
	f.Add([]byte(`{"access_token":"abc","expires_in":"120"}`))
	f.Add([]byte(`{"access_token":"abc","expires_in":1e400}`))
	f.Add([]byte(`{"access_token":"","expires_in":-1}`))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := ParseTokenResponse(body, start)
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("error too long: %d", len(err.Error()))
			}
			return
		}
		if tok.AccessToken == "" || tok.TokenType != "Bearer" {
			t.Fatalf("accepted %+v", tok)
		}
		if tok.ExpiresIn <= 0 || !tok.Expiry.After(start) ||
			!tok.Expiry.Equal(start.Add(time.Duration(tok.ExpiresIn)*time.Second)) {
			t.Fatalf("expiry %v for expires_in %d", tok.Expiry, tok.ExpiresIn)
		}
	})
}

func FuzzParseErrorResponse(f *testing.F) {
	f.Add(401, []byte(`{"errorHttpCode":"401","errorMessage":"Unable to authenticate the client (Login failed - invalid user)"}`))
	f.Add(401, []byte(`{"error":"invalid_client","error_description":"SAML assertion validation failed"}`))
	f.Add(503, []byte(`<html>down</html>`))
	f.Add(400, []byte(`{"errorHttpCode":{"x":1},"errorMessage":null}`))
	f.Add(401, []byte(`{"errorMessage":"echo PHNhbWwyOkFzc2VydGlvbiB4bWxuczpzYW1sMj0idXJuOm9hc2lzOm5hbWVzOnRjOlNBTUw6Mi4wOmFzc2VydGlvbiI+"}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := ParseErrorResponse(status, body)
		msg := e.Error()
		if !strings.HasPrefix(msg, "sfauth: ") {
			t.Fatalf("no prefix: %q", msg)
		}
		if longOpaque.MatchString(e.Message) || longOpaque.MatchString(e.Code) {
			t.Fatalf("opaque run kept: %q %q", e.Code, e.Message)
		}
		if utf8.RuneCountInString(e.Message) > 301 || utf8.RuneCountInString(e.Code) > 41 {
			t.Fatalf("message not clipped: %d", len(e.Message))
		}
		if (status == 429 || status >= 500) != e.Temporary() {
			t.Fatalf("status %d temporary=%v", status, e.Temporary())
		}
	})
}

func FuzzLoadPEM(f *testing.F) {
	// Under -fuzz, crypto/rsa is instrumented and key generation crawls;
	// the committed corpus in testdata/fuzz carries certificates instead.
	if fz := flag.Lookup("test.fuzz"); fz == nil || fz.Value.String() == "" {
		key, _ := testKeys(f)
		cert := validCert(f, key)
		der8, _ := x509.MarshalPKCS8PrivateKey(key)
		f.Add(pkcs8PEM(f, key), certPEM(cert))
		f.Add(crlf(pkcs1PEM(key)), crlf(certPEM(cert)))
		f.Add([]byte(base64.StdEncoding.EncodeToString(der8)), []byte(base64.StdEncoding.EncodeToString(cert.Raw)))
		f.Add(der8, cert.Raw)
	}
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"), []byte("MIIC"))
	f.Fuzz(func(t *testing.T, keyData, certData []byte) {
		k, c, err := LoadPEM(keyData, certData)
		if err == nil {
			if k == nil || c == nil {
				t.Fatal("nil key or certificate without error")
			}
			if err := checkPair(k, c); err != nil {
				t.Fatalf("accepted a bad pair: %v", err)
			}
			return
		}
		assertNotQuoted(t, err.Error(), keyData)
		assertNotQuoted(t, err.Error(), certData)
		if _, err := CertBodyForSF(certData); err != nil {
			assertNotQuoted(t, err.Error(), certData)
		}
	})
}

func FuzzLoadPKCS12(f *testing.F) {
	f.Add([]byte{0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03}, "pw")
	f.Add([]byte("MIIKBgIBAzCCCcwGCSqGSIb3DQEHAaCCCb0Egg"), "")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		_, _, err := LoadPKCS12(data, password)
		if err != nil {
			assertNotQuoted(t, err.Error(), data)
		}
	})
}

// assertNotQuoted fails if msg contains a 24-byte stretch of in.
func assertNotQuoted(t *testing.T, msg string, in []byte) {
	t.Helper()
	const n = 24
	for i := 0; i+n <= len(in); i += 4 {
		chunk := string(in[i : i+n])
		if strings.TrimSpace(chunk) == "" || strings.Trim(chunk, "-") == "" {
			continue
		}
		if strings.Contains(msg, chunk) {
			t.Fatalf("error quotes the input: %q", msg)
		}
	}
}
