package sfsim

import (
	"crypto/x509"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a simulator. The zero value means the defaults.
type Options struct {
	Users     int           // number of User records; 0 means 5000
	Seed      int64         // data seed; same seed, same data
	PageSize  int           // default server page size; 0 means 1000 (the maximum)
	Latency   time.Duration // added to every OData response
	TokenTTL  time.Duration // access token lifetime; 0 means 24h
	CompanyID string        // "" means "SFSIM"

	// Now is the simulator's clock: token and assertion expiry, snapshot
	// idle time and "today" for effective-dated sets. nil means time.Now.
	Now func() time.Time

	// Audience is the SAML audience the token endpoint requires; "" means
	// "www.successfactors.com".
	Audience string

	// TokenURL is the Recipient the token endpoint requires; "" means the
	// URL the token request was sent to (scheme, host and /oauth/token).
	TokenURL string

	// ClockSkew is the tolerance on assertion time checks; 0 means 2m.
	ClockSkew time.Duration

	// ExpiredTokenStatus is the status of an OData request with an unknown
	// or expired token: 0 or 401 means 401 with LGN0022; 403 means 403
	// with LGN0006, the other variant SF is known to send.
	ExpiredTokenStatus int

	// EscapedDates writes date values as "\/Date(ms)\/", with the
	// slashes escaped as some SF responses have them; decoded, the value
	// is the same string.
	EscapedDates bool

	// RateLimit, when positive, is how many OData requests per second the
	// simulator accepts (with a burst of as many); beyond it, it answers
	// 429 with a Retry-After in whole seconds, as a throttled tenant does.
	// Time is Options.Now's. 0 means no limit.
	RateLimit float64

	// Gzip compresses collection pages for requests that accept gzip.
	Gzip bool

	// NoAuth serves OData without a bearer token, for tests of the OData
	// layer alone.
	NoAuth bool

	// SnapshotRestartLimit, when positive, is how many first pages of
	// paging=snapshot queries one entity set may serve within 30 minutes
	// before SF's abuse guard answers 400 COE_SNAPSHOT_BAD_REQUEST and
	// blocks further snapshot queries on that set for 30 minutes. 0 means
	// no limit.
	SnapshotRestartLimit int

	// RenderCacheBytes bounds the memory kept for pre-rendered records,
	// which make repeated reads fast; 0 means 64 MiB, negative turns
	// the cache off. Records beyond the bound are rendered per request.
	RenderCacheBytes int64

	// SnapshotIdle is how long a snapshot survives between two page
	// requests; 0 means 15m, as SF documents.
	SnapshotIdle time.Duration
}

func (o Options) withDefaults() Options {
	if o.Users <= 0 {
		o.Users = 5000
	}
	if o.PageSize <= 0 || o.PageSize > maxPageSize {
		o.PageSize = maxPageSize
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 24 * time.Hour
	}
	if o.CompanyID == "" {
		o.CompanyID = "SFSIM"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Audience == "" {
		o.Audience = "www.successfactors.com"
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 2 * time.Minute
	}
	if o.RenderCacheBytes == 0 {
		o.RenderCacheBytes = 64 << 20
	}
	if o.SnapshotIdle <= 0 {
		o.SnapshotIdle = 15 * time.Minute
	}
	return o
}

const maxPageSize = 1000

// Credential is a test client registered with the simulator. All fields are
// PEM or plain text; sfsim does not import sfauth.
type Credential struct {
	TokenURL  string // the simulator's /oauth/token under the base URL given
	CompanyID string // Options.CompanyID
	ClientID  string // a fresh client id, registered with CertPEM
	UserID    string // the first user, who is always active
	KeyPEM    []byte // PKCS#8 RSA private key
	CertPEM   []byte // self-signed certificate of the key
}

// Server is a running simulator. Its methods are safe for concurrent use,
// also while it serves requests.
//
// OData requests need a bearer token from /oauth/token (see
// [Server.NewCredential]) or from [Server.IssueToken], unless
// Options.NoAuth is set.
type Server struct {
	opts Options
	w    *world

	mu      sync.RWMutex // guards the entity sets' mutable state
	sets    map[string]*entitySet
	touches int

	cacheUsed  atomic.Int64
	cacheLimit int64

	authMu  sync.Mutex
	clients map[string]*x509.Certificate
	tokens  map[string]*accessToken
	byUser  map[string]*accessToken
	nextCli int

	pageMu     sync.Mutex
	snapshots  map[string]*snapshot
	results    map[string]*cachedResult
	resultRows int
	// restarts counts first snapshot pages per entity set, for
	// Options.SnapshotRestartLimit.
	restarts map[string][]time.Time
	blocked  map[string]time.Time

	faultMu sync.Mutex
	faults  []*faultState

	rateMu     sync.Mutex
	rateTokens float64
	rateLast   time.Time

	logMu   sync.Mutex
	log     []Request
	baseURL string
}

// New builds a simulator with its data; Handler serves it. Records are
// generated from the seed on demand, so even a million users take little
// memory.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	w := newWorld(opts.Seed, opts.Users)
	s := &Server{
		opts:       opts,
		w:          w,
		sets:       defaultSets(w),
		cacheLimit: opts.RenderCacheBytes,
		clients:    map[string]*x509.Certificate{},
		tokens:     map[string]*accessToken{},
		byUser:     map[string]*accessToken{},
		snapshots:  map[string]*snapshot{},
		results:    map[string]*cachedResult{},
		restarts:   map[string][]time.Time{},
		blocked:    map[string]time.Time{},
		baseURL:    "https://sfsim.invalid",
	}
	return s
}

// Handler serves /oauth/token and /odata/v2/.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) now() time.Time { return s.opts.Now() }

// EntitySets lists the entity sets the simulator serves.
func (s *Server) EntitySets() []string { return setNames(s.sets) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	entry := Request{
		Time:      s.now(),
		Method:    r.Method,
		Path:      r.URL.Path,
		RawQuery:  r.URL.RawQuery,
		RunHeader: r.Header.Get("X-SFConnector-Run"),
	}
	s.rememberBase(r)
	defer func() {
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		entry.Status = rec.status
		s.logMu.Lock()
		if len(s.log) >= maxLogEntries {
			// Keep the newer half; a long-running simulator must not grow
			// without bound.
			s.log = append(s.log[:0], s.log[len(s.log)/2:]...)
		}
		s.log = append(s.log, entry)
		s.logMu.Unlock()
	}()
	switch {
	case r.URL.Path == "/oauth/token":
		entry.FormKeys = s.serveToken(rec, r)
	case strings.HasPrefix(r.URL.Path, "/odata/v2/"):
		entry.EntitySet = s.serveOData(rec, r)
	default:
		writeError(rec, http.StatusNotFound, "LGN0001", "[LGN0001]Invalid endpoint "+r.URL.Path)
	}
}

func baseOf(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) rememberBase(r *http.Request) {
	s.logMu.Lock()
	s.baseURL = baseOf(r)
	s.logMu.Unlock()
}

// statusRecorder keeps the status for the request log and lets fault
// handlers reach the underlying connection.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Request is one request the simulator received. Token and assertion
// values are never kept: of a token request only the form field names are.
type Request struct {
	Time      time.Time // when it arrived, by Options.Now
	Method    string    // the HTTP method
	Path      string    // URL path, unescaped
	RawQuery  string    // encoded query, without "?"
	EntitySet string    // "" for the token endpoint
	Status    int       // the status code sent
	RunHeader string    // X-SFConnector-Run
	FormKeys  []string  // token endpoint form field names, sorted
}

// maxLogEntries bounds the request log.
const maxLogEntries = 1 << 20

// Requests returns a copy of the request log, oldest first. The log keeps
// the last million requests or more.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Request(nil), s.log...)
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	s.log = nil
	s.logMu.Unlock()
}

// writeError writes SF's OData error envelope.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b := []byte(`{"error":{"code":`)
	b = appendJSONString(b, code)
	b = append(b, `,"message":{"lang":"en-US","value":`...)
	b = appendJSONString(b, msg)
	b = append(b, "}}}"...)
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
