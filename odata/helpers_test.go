package odata

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"
)

// fastRetry keeps tests quick.
var fastRetry = RetryPolicy{
	MaxAttempts:       4,
	BaseDelay:         time.Millisecond,
	MaxDelay:          5 * time.Millisecond,
	MaxElapsed:        5 * time.Second,
	DefaultRetryAfter: 2 * time.Millisecond,
}

// reqLog records the request URIs a test server saw.
type reqLog struct {
	mu   sync.Mutex
	uris []string
	auth []string
}

func (l *reqLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uris = append(l.uris, r.URL.RequestURI())
	l.auth = append(l.auth, r.Header.Get("Authorization"))
}

func (l *reqLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.uris...)
}

func (l *reqLog) count(uri string) int {
	n := 0
	for _, u := range l.all() {
		if u == uri {
			n++
		}
	}
	return n
}

// sfHost is the host the cases use; tests dial it to a local TLS server.
const sfHost = "api.example-sf.test"

// sfServer starts a TLS server for h and returns a client whose root is
// https://api.example-sf.test/odata/v2, with every connection dialled to
// the local server and the bearer token added by a refreshable transport.
func sfServer(t *testing.T, h http.HandlerFunc, opts *Options) (*Client, *reqLog, *tokenTransport) {
	t.Helper()
	log := &reqLog{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		h(w, r)
	}))
	t.Cleanup(srv.Close)

	base := srv.Client().Transport.(*http.Transport).Clone()
	addr := srv.Listener.Addr().String()
	base.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	base.TLSClientConfig = &tls.Config{
		RootCAs:    base.TLSClientConfig.RootCAs,
		ServerName: "example.com", // the name in httptest's certificate
	}
	tt := &tokenTransport{base: base, token: "tok-1"}

	o := Options{Retry: fastRetry}
	if opts != nil {
		o = *opts
	}
	c, err := NewClient("https://"+sfHost+"/odata/v2", &http.Client{Transport: tt}, &o)
	if err != nil {
		t.Fatal(err)
	}
	return c, log, tt
}

// tokenTransport adds a bearer token and implements Refresher.
type tokenTransport struct {
	base      http.RoundTripper
	mu        sync.Mutex
	token     string
	refreshes int
}

func (tt *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tt.mu.Lock()
	tok := tt.token
	tt.mu.Unlock()
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+tok)
	return tt.base.RoundTrip(r)
}

func (tt *tokenTransport) Refresh(context.Context) error {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	tt.refreshes++
	tt.token = "tok-" + string(rune('1'+tt.refreshes))
	return nil
}

func (tt *tokenTransport) refreshCount() int {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.refreshes
}

// fixture answers request URIs from a table; unknown URIs get 404.
type fixture map[string]func(w http.ResponseWriter, r *http.Request)

func (f fixture) handle(w http.ResponseWriter, r *http.Request) {
	if h, ok := f[r.URL.RequestURI()]; ok {
		h(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"error":{"code":"NOT_IN_FIXTURE","message":{"lang":"en-US","value":"` +
		r.URL.RequestURI() + `"}}}`))
}

// jsonBody answers status with a JSON body.
func jsonBody(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// htmlBody answers status with an HTML body.
func htmlBody(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// sequence answers with each handler in turn, repeating the last.
func sequence(hs ...func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request) {
	var mu sync.Mutex
	i := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(i, len(hs)-1)]
		i++
		mu.Unlock()
		h(w, r)
	}
}

// collect runs the iterator and returns the pages and the final error.
func collect(t *testing.T, c *Client, q Query) ([]*Page, error) {
	t.Helper()
	var pages []*Page
	for p, err := range c.Pages(context.Background(), q) {
		if err != nil {
			if p != nil {
				t.Fatal("error yielded with a page")
			}
			return pages, err
		}
		pages = append(pages, p)
	}
	return pages, nil
}

func userIDs(pages []*Page) []string {
	var ids []string
	for _, p := range pages {
		for _, r := range p.Records {
			ids = append(ids, recordField(r, "userId"))
		}
	}
	return ids
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
