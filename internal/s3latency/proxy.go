package s3latency

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options configures a [Proxy]. The zero value forwards every request at
// once.
type Options struct {
	// Latency is waited before forwarding each request Match selects.
	Latency time.Duration

	// Match selects the requests that wait Latency; nil means every
	// request. [PagePuts] selects the uploads of page objects.
	Match func(*http.Request) bool
}

// PagePuts matches PUT requests of objects with "/pages/" in their key:
// the page objects of the staging layout, not state records or
// manifests.
func PagePuts(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/pages/")
}

// Kind says how a fault answers.
type Kind int

const (
	// InternalError answers 500 with S3's XML error, code InternalError.
	InternalError Kind = iota
	// SlowDown answers 503 with S3's XML error, code SlowDown.
	SlowDown
	// Refuse resets the request's connection without an answer, closes
	// every open connection and refuses new ones for [Fault.For].
	Refuse
)

// String returns the kind's name, as in the proxy's request log.
func (k Kind) String() string {
	switch k {
	case InternalError:
		return "InternalError"
	case SlowDown:
		return "SlowDown"
	case Refuse:
		return "Refuse"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Fault makes matching requests fail. Method, KeyContains and Match must
// all hold for a request to match; their zero values match everything.
// The zero Fault answers the next request with one 500 InternalError.
type Fault struct {
	// Kind says how the fault answers; the zero value is InternalError.
	Kind Kind

	Method      string                   // "" matches every method
	KeyContains string                   // substring of the URL path ("/bucket/key")
	Match       func(*http.Request) bool // nil matches every request

	// After is how many matching requests pass before the fault starts.
	After int

	// Times is how many matching requests fail; 0 means 1, negative
	// means every one.
	Times int

	// Forward, for InternalError and SlowDown, sends the request to the
	// server first and then answers the fault instead of the server's
	// answer: the write happened, but the client does not know it.
	Forward bool

	// For is how long Refuse refuses connections; 0 means 1s.
	For time.Duration
}

func (f *Fault) matches(r *http.Request) bool {
	return (f.Method == "" || strings.EqualFold(f.Method, r.Method)) &&
		(f.KeyContains == "" || strings.Contains(r.URL.Path, f.KeyContains)) &&
		(f.Match == nil || f.Match(r))
}

type faultState struct {
	Fault
	skip int // matching requests still to let through
	left int // failures still to answer; < 0 unlimited
}

// Request is one request that reached the proxy.
type Request struct {
	Time   time.Time     // when the request arrived
	Method string        // the HTTP method
	Path   string        // "/bucket/key"; the query is not kept
	Status int           // status the client got; 0 when the connection was reset
	Waited time.Duration // latency added
	Fault  string        // the fault's kind, "" when forwarded as is
}

// Proxy is a running proxy. Its methods are safe for concurrent use,
// also while it serves.
type Proxy struct {
	url     string
	addr    string
	srv     *http.Server
	rp      *httputil.ReverseProxy
	match   func(*http.Request) bool
	conns   map[net.Conn]struct{}
	refused time.Time // refusing new connections until then
	mu      sync.Mutex
	lis     net.Listener // nil while refusing
	latency time.Duration
	faults  []*faultState
	log     []Request
	closed  bool
	timer   *time.Timer
	serveWG sync.WaitGroup
	lastErr error
}

// Start listens on a free port of 127.0.0.1 and forwards to target, the
// S3 server's endpoint such as "http://127.0.0.1:7070". Close stops it.
func Start(target string, opts *Options) (*Proxy, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("s3latency: target %q is not an http(s) URL", target)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3latency: listen: %w", err)
	}
	p := &Proxy{
		url:     "http://" + l.Addr().String(),
		addr:    l.Addr().String(),
		match:   o.Match,
		latency: o.Latency,
		conns:   map[net.Conn]struct{}{},
		lis:     l,
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// The signature covers the Host the client sent.
			pr.Out.Host = pr.In.Host
		},
		Transport: tr,
		ErrorLog:  discardLogger,
	}
	p.srv = &http.Server{
		Handler:   http.HandlerFunc(p.serve),
		ConnState: p.track,
		ErrorLog:  discardLogger,
	}
	p.startServing(l)
	return p, nil
}

// ForTest starts a proxy for one test and closes it when the test ends.
func ForTest(t testing.TB, target string, opts *Options) *Proxy {
	t.Helper()
	p, err := Start(target, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func (p *Proxy) startServing(l net.Listener) {
	p.serveWG.Add(1)
	go func() {
		defer p.serveWG.Done()
		p.srv.Serve(l)
	}()
}

// URL is the proxy's endpoint, "http://127.0.0.1:PORT": use it as the S3
// endpoint in place of the server's.
func (p *Proxy) URL() string { return p.url }

// SetLatency changes the latency of the requests Options.Match selects.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// Inject adds a fault; faults match in the order they were added.
func (p *Proxy) Inject(f Fault) {
	st := &faultState{Fault: f, skip: f.After, left: f.Times}
	if f.Times == 0 {
		st.left = 1
	}
	p.mu.Lock()
	p.faults = append(p.faults, st)
	p.mu.Unlock()
}

// ClearFaults removes every pending fault.
func (p *Proxy) ClearFaults() {
	p.mu.Lock()
	p.faults = nil
	p.mu.Unlock()
}

// PendingFaults returns how many injected faults have not been used up.
func (p *Proxy) PendingFaults() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.faults)
}

// Requests returns a copy of the request log.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.log...)
}

// ResetRequests empties the request log.
func (p *Proxy) ResetRequests() {
	p.mu.Lock()
	p.log = nil
	p.mu.Unlock()
}

// Refuse closes every open connection and refuses new ones for d, then
// listens again on the same port. A call while refusing extends the
// refusal to at least d from now.
func (p *Proxy) Refuse(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	until := time.Now().Add(d)
	if until.After(p.refused) {
		p.refused = until
	}
	if p.lis != nil {
		p.lis.Close()
		p.lis = nil
	}
	for c := range p.conns {
		resetConn(c)
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.timer = time.AfterFunc(time.Until(p.refused), p.reopen)
}

// Refusing reports whether the proxy refuses connections now.
func (p *Proxy) Refusing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lis == nil && !p.closed
}

// reopen listens again on the proxy's port after a refusal.
func (p *Proxy) reopen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.lis != nil {
		return
	}
	if wait := time.Until(p.refused); wait > 0 {
		p.timer = time.AfterFunc(wait, p.reopen)
		return
	}
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		// Another process took the port; try again shortly.
		p.lastErr = fmt.Errorf("s3latency: listen again on %s: %w", p.addr, err)
		p.timer = time.AfterFunc(20*time.Millisecond, p.reopen)
		return
	}
	p.lastErr = nil
	p.lis = l
	p.startServing(l)
}

// Err reports why the proxy could not listen again after a refusal, if it
// could not.
func (p *Proxy) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	p.lis = nil
	p.mu.Unlock()
	err := p.srv.Close()
	p.serveWG.Wait()
	p.rp.Transport.(*http.Transport).CloseIdleConnections()
	return err
}

func (p *Proxy) track(c net.Conn, state http.ConnState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch state {
	case http.StateNew:
		if p.lis == nil {
			// Accepted just before a refusal began.
			resetConn(c)
			return
		}
		p.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(p.conns, c)
	}
}

// take returns the latency to add and the fault to answer, if any.
func (p *Proxy) take(r *http.Request) (time.Duration, *faultState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var wait time.Duration
	if p.match == nil || p.match(r) {
		wait = p.latency
	}
	for i, f := range p.faults {
		if !f.matches(r) {
			continue
		}
		if f.skip > 0 {
			f.skip--
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			}
		}
		return wait, f
	}
	return wait, nil
}

func (p *Proxy) record(e Request) {
	p.mu.Lock()
	p.log = append(p.log, e)
	p.mu.Unlock()
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	entry := Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path}
	wait, f := p.take(r)
	if wait > 0 {
		entry.Waited = wait
		if err := sleep(r.Context(), wait); err != nil {
			p.record(entry)
			return
		}
	}
	if f == nil {
		rec := &statusWriter{ResponseWriter: w}
		p.rp.ServeHTTP(rec, r)
		entry.Status = rec.status
		p.record(entry)
		return
	}

	entry.Fault = f.Kind.String()
	switch f.Kind {
	case Refuse:
		p.record(entry)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			resetConn(conn)
		}
		p.Refuse(f.For)
		return
	case SlowDown:
		entry.Status = http.StatusServiceUnavailable
	default:
		entry.Status = http.StatusInternalServerError
	}
	if f.Forward {
		// The server acts on the request; its answer is dropped.
		p.rp.ServeHTTP(&discardWriter{header: http.Header{}}, r)
	} else {
		// Read the body so the connection can carry the next request.
		io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	}
	writeS3Error(w, r, f.Kind)
	p.record(entry)
}

// writeS3Error answers as S3 does, with its XML error document.
func writeS3Error(w http.ResponseWriter, r *http.Request, k Kind) {
	status, code, msg := http.StatusInternalServerError, "InternalError",
		"We encountered an internal error. Please try again."
	if k == SlowDown {
		status, code, msg = http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate."
	}
	id := strings.ToUpper(rand.Text()[:16])
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", id)
	h.Set("Connection", "keep-alive")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"+
		"<Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource><RequestId>%s</RequestId></Error>",
		code, msg, xmlEscape(r.URL.Path), id)
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// resetConn closes c so that its peer sees a reset, not an orderly end.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// statusWriter keeps the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// discardWriter takes the server's answer to a forwarded faulty request.
type discardWriter struct{ header http.Header }

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

var discardLogger = log.New(io.Discard, "", 0)
