// Package tlsutil holds the TLS plumbing the example programs share: a
// self-signed certificate for loopback use, and an HTTP client that trusts
// extra certificate authorities and bounds each request.
package tlsutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// SelfSigned makes a P-256 certificate valid for a week for localhost,
// 127.0.0.1 and ::1, and returns it with its certificate PEM (what a client
// adds to its trusted roots).
func SelfSigned(commonName string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that it can be trusted as its own root
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM, nil
}

// ClientWithCA is [ClientWithCAs] with at most one CA file.
func ClientWithCA(caFile string, timeout time.Duration) (*http.Client, error) {
	var files []string
	if caFile != "" {
		files = []string{caFile}
	}
	return ClientWithCAs(files, timeout)
}

// ClientWithCAs returns an HTTP client that trusts the system roots and the
// certificates in every PEM file of caFiles.
//
// timeout bounds each request, from sending it to the end of its body.
// A request that has no answer (no response headers) within timeout
// fails with a [*NoAnswerError], which is not a network timeout, so the
// OData client does not retry it: SuccessFactors' gateway answers a page
// it cannot serve in time with 504 well within its own limit, so silence
// past timeout means a server that is not going to answer, and waiting
// for it once more would only double the time to fail.
func ClientWithCAs(caFiles []string, timeout time.Duration) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, caFile := range caFiles {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("read CA file: no PEM certificate in " + caFile)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	var rt http.RoundTripper = tr
	if timeout > 0 {
		rt = &deadlineTransport{base: tr, timeout: timeout}
	}
	return &http.Client{Transport: rt}, nil
}

// NoAnswerError says a server sent no response headers within the
// client's per-request timeout.
type NoAnswerError struct {
	Host    string        // host[:port] of the request's URL
	Timeout time.Duration // the per-request timeout that ran out
}

// Error names the host and the timeout.
func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("%s sent no answer within %s (the -timeout flag)", e.Host, e.Timeout)
}

// deadlineTransport bounds each request by timeout, as http.Client.Timeout
// would, but reports a request without an answer as a *NoAnswerError.
type deadlineTransport struct {
	base    http.RoundTripper
	timeout time.Duration
}

func (t *deadlineTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		if req.Context().Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &NoAnswerError{Host: req.URL.Host, Timeout: t.timeout}
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody releases the request's timer when the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// CAFiles is a flag.Value collecting CA certificate files: the flag may
// be given more than once, each time with one file or a comma-separated
// list.
type CAFiles []string

// String returns the files, comma-separated.
func (c *CAFiles) String() string { return strings.Join(*c, ",") }

// Set adds the files in v.
func (c *CAFiles) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			*c = append(*c, f)
		}
	}
	return nil
}

// IsLoopback reports whether addr (host:port) names a loopback address:
// 127.0.0.0/8, ::1 or "localhost".
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
