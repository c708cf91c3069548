package sfauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/techwolf/sfconnector/sfauth"
)

// A token endpoint answering as SF does; a real one verifies the signed
// assertion against the certificate registered for the client id.
func exampleEndpoint() *httptest.Server {
	return httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("company_id") != "ACME123" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"errorHttpCode":"401","errorMessage":"Authentication failed due to invalid companyId"}`)
			return
		}
		fmt.Fprint(w, `{"access_token":"opaque","token_type":"Bearer","expires_in":86400}`)
	}))
}

// exampleKeyPair stands in for the key and certificate files: the key as
// SF's download gives it, the certificate as registered with the client.
func exampleKeyPair() (keyPEM, certPEM []byte) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sfconnector"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func Example() {
	srv := exampleEndpoint()
	defer srv.Close()
	keyPEM, certPEM := exampleKeyPair()

	key, cert, err := sfauth.LoadPEM(keyPEM, certPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	cred := sfauth.Credential{
		TokenURL:    srv.URL + "/oauth/token",
		CompanyID:   "ACME123",
		ClientID:    "NWQ5ZmFrZUFwaUtleQ",
		UserID:      "apiuser01",
		Key:         key,
		Certificate: cert,
	}
	// srv.Client trusts the test server; leave HTTPClient nil in production.
	ts, err := sfauth.NewTokenSource(cred, &sfauth.Options{HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}

	tok, err := ts.Token()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok.TokenType, time.Until(tok.Expiry).Round(time.Hour))

	// The client for OData requests adds the token to each request.
	client := ts.Client(srv.Client())
	_ = client

	// A wrong company id is a typed error that names the host.
	cred.CompanyID = "acme123"
	ts, _ = sfauth.NewTokenSource(cred, &sfauth.Options{HTTPClient: srv.Client()})
	_, err = ts.Token()
	fmt.Println(errors.Is(err, sfauth.ErrInvalidCompany))
	// Output:
	// Bearer 24h0m0s
	// true
}

func ExampleCertBodyForSF() {
	_, certPEM := exampleKeyPair()
	body, err := sfauth.CertBodyForSF(certPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	// One line of base64, no armour: what SF's OAuth client form takes.
	fmt.Println(body[:4], len(body) > 700)
	// Output: MIIC true
}
