package sfauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Defaults of [Options].
const (
	// DefaultRefreshMargin is the longest margin by which a zero
	// [Options].RefreshMargin renews a token ahead of its expiry.
	DefaultRefreshMargin = 5 * time.Minute

	// DefaultHTTPTimeout is the timeout of the client used when
	// [Options].HTTPClient is nil.
	DefaultHTTPTimeout = 30 * time.Second

	// DefaultExchangeTimeout bounds one exchange, retries included,
	// when [Options].ExchangeTimeout is zero.
	DefaultExchangeTimeout = 2 * time.Minute

	// DefaultErrorCacheTTL is how long a permanent failure is reused
	// when [Options].ErrorCacheTTL is zero.
	DefaultErrorCacheTTL = 15 * time.Second

	// DefaultMaxAttempts bounds the requests of one exchange when
	// [Options].MaxAttempts is zero.
	DefaultMaxAttempts = 4

	// DefaultCertWarning: a certificate that expires within this is
	// logged at warning level, when [Options].CertExpiryWarning is zero.
	DefaultCertWarning = 30 * 24 * time.Hour
)

// Options configures a TokenSource. The zero value means the defaults.
type Options struct {
	// HTTPClient posts to the token endpoint. nil means a client with a
	// 30s timeout. A client without a timeout is used as given, but every
	// exchange is still bounded by ExchangeTimeout.
	HTTPClient *http.Client

	// RefreshMargin is how long before expiry a token is renewed. 0 means
	// 5m or half the token's lifetime, whichever is smaller: SF's 24h
	// tokens are renewed 5m early, a 120s token once 60s are left. A
	// margin set here is capped at half the lifetime, so a short-lived
	// token is still reused.
	RefreshMargin time.Duration

	// ExchangeTimeout bounds one exchange, retries included. 0 means 2m.
	ExchangeTimeout time.Duration

	// ErrorCacheTTL is how long a permanent failure (any 4xx) is returned
	// without asking SF again. 0 means 15s; negative disables the cache.
	// Refresh always asks again.
	ErrorCacheTTL time.Duration

	// MaxAttempts bounds requests per exchange for 429 and 5xx answers,
	// the first included. 0 means 4.
	MaxAttempts int

	// RetryBaseDelay scales the jittered exponential backoff between
	// attempts: the range of the random delay starts at it and doubles
	// with each attempt, up to RetryMaxDelay. 0 means 500ms. A
	// Retry-After from the server replaces the backoff.
	RetryBaseDelay time.Duration

	// RetryMaxDelay caps the range of the random backoff. 0 means 10s.
	// A Retry-After longer than 30s, or than RetryMaxDelay if that is
	// longer, ends the retries at once.
	RetryMaxDelay time.Duration

	// AllowExpiredCertificate turns the error for an expired certificate
	// into a warning; SF will still reject the assertion.
	AllowExpiredCertificate bool

	// CertExpiryWarning: a certificate expiring within this is logged at
	// warning level by NewTokenSource. 0 means 30 days.
	CertExpiryWarning time.Duration

	// Logger receives events without secrets. nil means silent.
	Logger *slog.Logger

	// AllowInsecureLoopback permits an http:// token URL on a loopback
	// host (tests only).
	AllowInsecureLoopback bool

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TokenSource trades signed assertions for access tokens and reuses them.
// It implements oauth2.TokenSource and is safe for concurrent use: however
// many goroutines ask, at most one exchange is in flight, and the others
// wait for its result.
type TokenSource struct {
	cred     Credential
	signer   *signer
	tokenURL string
	host     string

	client          *http.Client
	margin          time.Duration
	exchangeTimeout time.Duration
	errTTL          time.Duration
	maxAttempts     int
	baseDelay       time.Duration
	maxDelay        time.Duration
	maxRetryAfter   time.Duration
	logger          *slog.Logger
	now             func() time.Time

	allowInsecureLoopback bool

	exchanges atomic.Int64

	mu       sync.Mutex
	tok      *oauth2.Token
	lifetime time.Duration
	err      error     // last permanent failure
	errUntil time.Time // until when err is returned without asking
	flight   *flight
	forcedAt time.Time // when the last forced exchange succeeded
}

// flight is one exchange in progress; done closes when tok or err is set.
type flight struct {
	forced bool
	done   chan struct{}
	tok    *oauth2.Token
	err    error
}

var _ oauth2.TokenSource = (*TokenSource)(nil)

// NewTokenSource checks the credential and returns a token source. The
// checks make no network call: the key must be RSA of at least 2048 bits
// and match the certificate, the certificate must be within its validity
// (see [Options].AllowExpiredCertificate), the token URL must be https.
func NewTokenSource(cred Credential, opts *Options) (*TokenSource, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	ts := &TokenSource{
		client:          o.HTTPClient,
		margin:          o.RefreshMargin,
		exchangeTimeout: o.ExchangeTimeout,
		errTTL:          o.ErrorCacheTTL,
		maxAttempts:     o.MaxAttempts,
		baseDelay:       o.RetryBaseDelay,
		maxDelay:        o.RetryMaxDelay,
		logger:          o.Logger,
		now:             o.Now,
	}
	if ts.client == nil {
		ts.client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if ts.exchangeTimeout <= 0 {
		ts.exchangeTimeout = DefaultExchangeTimeout
	}
	if ts.errTTL == 0 {
		ts.errTTL = DefaultErrorCacheTTL
	}
	if ts.maxAttempts <= 0 {
		ts.maxAttempts = DefaultMaxAttempts
	}
	if ts.baseDelay <= 0 {
		ts.baseDelay = 500 * time.Millisecond
	}
	if ts.maxDelay <= 0 {
		ts.maxDelay = 10 * time.Second
	}
	ts.maxRetryAfter = max(ts.maxDelay, 30*time.Second)
	if ts.logger == nil {
		ts.logger = slog.New(slog.DiscardHandler)
	}
	if ts.now == nil {
		ts.now = time.Now
	}

	now := ts.now()
	checked, u, err := cred.check(now, o.AllowInsecureLoopback)
	if err != nil {
		return nil, err
	}
	ts.cred = checked
	ts.allowInsecureLoopback = o.AllowInsecureLoopback
	ts.tokenURL = u.String()
	ts.host = u.Host

	notAfter := checked.Certificate.NotAfter
	warnWithin := o.CertExpiryWarning
	if warnWithin <= 0 {
		warnWithin = DefaultCertWarning
	}
	switch {
	case !now.Before(notAfter):
		if !o.AllowExpiredCertificate {
			return nil, fmt.Errorf("%w on %s (CN=%q); register a new certificate with client_id %q",
				ErrCertificateExpired, notAfter.UTC().Format(time.RFC3339), checked.Certificate.Subject.CommonName, checked.ClientID)
		}
		ts.logger.Warn("sfauth: certificate expired", "not_after", notAfter, "client_id", checked.ClientID)
	case notAfter.Sub(now) < warnWithin:
		ts.logger.Warn("sfauth: certificate expires soon", "not_after", notAfter, "client_id", checked.ClientID)
	}

	ts.signer, err = newSigner(checked)
	if err != nil {
		return nil, err
	}
	return ts, nil
}

// Token returns a valid token, exchanging a new assertion when needed. It
// is TokenContext without a deadline of the caller's own; the exchange is
// still bounded by Options.ExchangeTimeout.
func (ts *TokenSource) Token() (*oauth2.Token, error) {
	return ts.TokenContext(context.Background())
}

// TokenContext is Token with a context: a caller whose context ends stops
// waiting, while the exchange it may have started goes on for the others.
func (ts *TokenSource) TokenContext(ctx context.Context) (*oauth2.Token, error) {
	ts.mu.Lock()
	now := ts.now()
	if ts.tok != nil && now.Before(ts.tok.Expiry.Add(-ts.effectiveMargin())) {
		tok := copyToken(ts.tok)
		ts.mu.Unlock()
		return tok, nil
	}
	if ts.err != nil && now.Before(ts.errUntil) {
		err := ts.err
		tok := ts.usableLocked(now)
		ts.mu.Unlock()
		if tok != nil {
			return tok, nil
		}
		return nil, err
	}
	f := ts.flight
	if f == nil {
		f = ts.startLocked(ctx, false)
	}
	ts.mu.Unlock()

	tok, err := ts.wait(ctx, f)
	if err != nil {
		// Renewal ahead of expiry failed; the old token still works.
		ts.mu.Lock()
		old := ts.usableLocked(ts.now())
		ts.mu.Unlock()
		if old != nil {
			return old, nil
		}
	}
	return tok, err
}

// usableLocked returns a copy of the cached token if it has not expired,
// margin or not; ts.mu must be held.
func (ts *TokenSource) usableLocked(now time.Time) *oauth2.Token {
	if ts.tok != nil && now.Before(ts.tok.Expiry) {
		return copyToken(ts.tok)
	}
	return nil
}

// Refresh forces a new token: it drops the cached one and exchanges a new
// assertion with new_token=true, so SF does not hand back the token it
// issued before. Concurrent calls share one forced exchange, and a call
// within a second of a successful forced exchange keeps its token: the
// requests that failed together with the old token need one renewal.
func (ts *TokenSource) Refresh(ctx context.Context) error {
	for {
		ts.mu.Lock()
		f := ts.flight
		if f == nil {
			if now := ts.now(); ts.tok != nil && !ts.forcedAt.IsZero() &&
				now.Sub(ts.forcedAt) < refreshDedupe && now.Before(ts.tok.Expiry) {
				ts.mu.Unlock()
				return nil
			}
			ts.tok = nil
			ts.err = nil
			f = ts.startLocked(ctx, true)
		}
		ts.mu.Unlock()

		_, err := ts.wait(ctx, f)
		if f.forced || ctx.Err() != nil {
			return err
		}
		// That exchange did not ask for a new token; ask for one now.
	}
}

// refreshDedupe is how long a forced token answers further Refresh calls.
const refreshDedupe = time.Second

// CertNotAfter returns when the credential's certificate expires.
func (ts *TokenSource) CertNotAfter() time.Time { return ts.cred.CertNotAfter() }

// Exchanges returns how many exchanges (not HTTP attempts) have started.
func (ts *TokenSource) Exchanges() int64 { return ts.exchanges.Load() }

func (ts *TokenSource) effectiveMargin() time.Duration {
	if ts.margin > 0 {
		if ts.lifetime > 0 {
			return min(ts.margin, ts.lifetime/2)
		}
		return ts.margin
	}
	if ts.lifetime > 0 {
		return min(DefaultRefreshMargin, ts.lifetime/2)
	}
	return DefaultRefreshMargin
}

// startLocked starts an exchange; ts.mu must be held.
func (ts *TokenSource) startLocked(ctx context.Context, forced bool) *flight {
	f := &flight{forced: forced, done: make(chan struct{})}
	ts.flight = f
	ts.exchanges.Add(1)
	// The exchange outlives the caller that started it: others may be
	// waiting for it. Its own deadline bounds it.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ts.exchangeTimeout)
	go func() {
		defer cancel()
		tok, err := ts.exchange(ectx, forced)
		ts.finish(f, tok, err)
	}()
	return f
}

func (ts *TokenSource) finish(f *flight, tok *oauth2.Token, err error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	f.tok, f.err = tok, err
	ts.flight = nil
	if err == nil {
		ts.tok = tok
		ts.lifetime = time.Duration(tok.ExpiresIn) * time.Second
		ts.err = nil
		if f.forced {
			ts.forcedAt = ts.now()
		}
		ts.logger.Debug("sfauth: token obtained", "host", ts.host, "expiry", tok.Expiry, "new_token", f.forced)
	} else {
		var e *Error
		if errors.As(err, &e) && !e.Temporary() && e.StatusCode >= 400 && e.StatusCode < 500 && ts.errTTL > 0 {
			ts.err = err
			ts.errUntil = ts.now().Add(ts.errTTL)
		}
		ts.logger.Warn("sfauth: token exchange failed", "host", ts.host, "error", err.Error())
	}
	close(f.done)
}

func (ts *TokenSource) wait(ctx context.Context, f *flight) (*oauth2.Token, error) {
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return copyToken(f.tok), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sfauth: waiting for token: %w", ctx.Err())
	}
}

func copyToken(t *oauth2.Token) *oauth2.Token {
	c := *t
	return &c
}

// String describes the token source without secrets.
func (ts *TokenSource) String() string {
	return fmt.Sprintf("sfauth.TokenSource{%s}", ts.cred.String())
}

// GoString is String.
func (ts *TokenSource) GoString() string { return ts.String() }

// Format prints String for every verb.
func (ts *TokenSource) Format(f fmt.State, verb rune) { fmt.Fprint(f, ts.String()) }

// LogValue gives slog the token source without secrets.
func (ts *TokenSource) LogValue() slog.Value { return ts.cred.LogValue() }
