package tlsutil

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// -ca may be repeated and may hold a comma list; every file is trusted.
func TestClientWithSeveralCAs(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})
	// Two servers with different certificates: httptest's own, and one
	// from SelfSigned.
	a := httptest.NewTLSServer(ok)
	defer a.Close()
	cert, certPEM, err := SelfSigned("b")
	if err != nil {
		t.Fatal(err)
	}
	b := httptest.NewUnstartedServer(ok)
	b.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	b.StartTLS()
	defer b.Close()
	dir := t.TempDir()
	writeCA := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caA := writeCA("a.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate().Raw}))
	caB := writeCA("b.pem", certPEM)

	for _, args := range [][]string{
		{"-ca", caA, "-ca", caB},
		{"-ca", caA + "," + caB},
	} {
		var cas CAFiles
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Var(&cas, "ca", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		if len(cas) != 2 {
			t.Fatalf("%q gave %q", args, cas)
		}
		c, err := ClientWithCAs(cas, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, srv := range []*httptest.Server{a, b} {
			resp, err := c.Get(srv.URL)
			if err != nil {
				t.Fatalf("%q: %v", args, err)
			}
			resp.Body.Close()
		}
	}

	// With only one of them, the other server is not trusted.
	c, err := ClientWithCAs([]string{caA}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := c.Get(b.URL); err == nil {
		resp.Body.Close()
		t.Error("a server signed by an untrusted CA was accepted")
	}
	if _, err := ClientWithCAs([]string{filepath.Join(dir, "missing.pem")}, time.Second); err == nil {
		t.Error("a missing CA file was accepted")
	}
}

// A request without an answer fails with *NoAnswerError after the
// timeout, and that error is not a network timeout (which would be
// retried).
func TestNoAnswer(t *testing.T) {
	// The handler answers only when the test ends, whatever happens to the
	// request's connection meanwhile, so any answer within the timeout is
	// a failure of the client.
	block := make(chan struct{})
	silent := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-block
	}))
	defer silent.Close()
	defer close(block)
	c, err := ClientWithCAs(nil, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c.Transport.(*deadlineTransport).base.(*http.Transport).TLSClientConfig.RootCAs.AddCert(silent.Certificate())

	start := time.Now()
	resp, err := c.Get(silent.URL)
	took := time.Since(start)
	if err == nil {
		resp.Body.Close()
		t.Fatal("no error from a silent server")
	}
	var na *NoAnswerError
	if !errors.As(err, &na) || na.Timeout != 200*time.Millisecond {
		t.Fatalf("err = %v, want *NoAnswerError", err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("err %v is a network timeout", err)
	}
	if took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("failed after %v, want 200ms", took)
	}
	if !strings.Contains(err.Error(), "no answer within 200ms") {
		t.Errorf("err = %v", err)
	}
}
