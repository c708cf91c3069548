package odata

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// request is one logical GET, retried as the policy allows.
type request struct {
	url string

	// decode reads a 2xx body; it is called afresh on every attempt.
	decode func(io.Reader) error

	// resize, when set, returns the URL to retry with after a 502 or 504.
	resize func() (string, bool)

	// shrink, when set, returns the page size to restart the read with
	// once this request has failed with 502 or 504 more often than
	// sameURLGatewayRetries allows; false when the size cannot shrink.
	shrink func() (int, bool)

	// deadline, when set, is when SF drops the snapshot this request
	// continues; waiting past it is pointless.
	deadline time.Time
}

// sameURLGatewayRetries is how often a later page that failed with 502 or
// 504 is retried on the same URL before the read restarts with a smaller
// page: a page too heavy to serve in time stays too heavy.
const sameURLGatewayRetries = 2

// do runs r until it succeeds, fails for good, or the policy gives up.
// On success r.url holds the URL that succeeded.
func (c *Client) do(ctx context.Context, r *request) error {
	pol := c.opts.Retry
	start := c.now()
	refreshed := false
	gateway := 0 // 502 and 504 answers so far
	for attempt := 1; ; attempt++ {
		e := c.once(ctx, r)
		if e == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("odata: GET %s: %w", redactURL(r.url), err)
		}
		e.Attempts = attempt

		switch e.Kind {
		case KindAuthExpired:
			if refreshed || c.refresher == nil {
				return e
			}
			refreshed = true
			c.retried(r, attempt, e, 0)
			if err := c.refresher.Refresh(ctx); err != nil {
				e.Err = fmt.Errorf("refreshing credentials: %w", err)
				return e
			}
			attempt-- // the retry after a refresh is not a transient failure
			continue
		case KindRetryable:
		default:
			return e
		}

		isGateway := e.StatusCode == http.StatusBadGateway || e.StatusCode == http.StatusGatewayTimeout
		if isGateway {
			gateway++
		}
		wait := c.backoff(attempt, e)
		now := c.now()
		giveUp := attempt >= pol.MaxAttempts || now.Sub(start)+wait > pol.MaxElapsed
		if isGateway && r.shrink != nil && (giveUp || gateway > sameURLGatewayRetries) {
			if size, ok := r.shrink(); ok {
				return &RestartError{PageSize: size, Err: e}
			}
		}
		if giveUp {
			return e
		}
		if !r.deadline.IsZero() && now.Add(wait).After(r.deadline) {
			e.Kind = KindSnapshotLost
			e.Err = errors.Join(e.Err, errors.New("waiting to retry would outlast SF's "+
				"15-minute snapshot"))
			return e
		}
		if r.resize != nil && (e.StatusCode == http.StatusBadGateway ||
			e.StatusCode == http.StatusGatewayTimeout) {
			if u, ok := r.resize(); ok {
				r.url = u
			}
		}
		c.retried(r, attempt, e, wait)
		if err := c.sleep(ctx, wait); err != nil {
			return fmt.Errorf("odata: GET %s: %w", redactURL(r.url), err)
		}
	}
}

// retried tells the observer and the logger about a retry.
func (c *Client) retried(r *request, attempt int, e *Error, wait time.Duration) {
	ev := RetryEvent{URL: redactURL(r.url), Attempt: attempt, Status: e.StatusCode,
		Wait: wait, Err: e}
	if c.opts.OnRetry != nil {
		c.opts.OnRetry(ev)
	}
	c.log(slog.LevelInfo, "odata: retrying", "url", ev.URL, "attempt", attempt,
		"status", e.StatusCode, "wait", wait, "err", e.Error())
}

// backoff is the wait before the retry after the given attempt: the
// server's Retry-After (or the 429 default) when given, else exponential
// backoff with full jitter, each capped at MaxDelay.
func (c *Client) backoff(attempt int, e *Error) time.Duration {
	pol := c.opts.Retry
	var wait time.Duration
	switch {
	case e.hasRetryAfter:
		wait = e.retryAfter + rand.N(pol.BaseDelay)
	case e.StatusCode == http.StatusTooManyRequests:
		wait = pol.DefaultRetryAfter + rand.N(pol.BaseDelay)
	default:
		ceiling := pol.BaseDelay << min(attempt-1, 30)
		if ceiling <= 0 || ceiling > pol.MaxDelay {
			ceiling = pol.MaxDelay
		}
		wait = rand.N(ceiling + 1)
	}
	return min(wait, pol.MaxDelay)
}

// once sends one GET and decodes the answer.
func (c *Client) once(ctx context.Context, r *request) *Error {
	safeURL := redactURL(r.url)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return &Error{Kind: KindFatal, URL: safeURL, Err: err}
	}
	if err := sameOrigin(c.root, req.URL); err != nil {
		return &Error{Kind: KindFatal, URL: safeURL, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if h, ok := ctx.Value(headerKey{}).(http.Header); ok {
		for k, v := range h {
			req.Header[k] = v
		}
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return &Error{Kind: transportKind(err), URL: safeURL, Err: unwrapURLError(err)}
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
	}()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := responseError(resp, safeURL)
		e.retryAfter, e.hasRetryAfter = retryAfter(resp.Header.Get("Retry-After"), c.now())
		return e
	}

	var body io.Reader = &limitReader{r: resp.Body, n: c.opts.MaxResponseBytes}
	ct := resp.Header.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); ct != "" && !isJSONType(mt) {
		// Gateways and some SF endpoints mislabel JSON (text/plain, for
		// one); what decides is the body. One that opens an object is
		// decoded; anything else, such as an HTML page, is not JSON.
		br := bufio.NewReaderSize(body, 512)
		if !opensObject(br) {
			e := &Error{Kind: KindRetryable, StatusCode: resp.StatusCode, URL: safeURL,
				CorrelationID: correlationID(resp.Header), Err: ErrMalformedBody}
			start, _ := io.ReadAll(io.LimitReader(br, snippetLen))
			parseErrorBody(e, ct, start)
			if e.Message == "" {
				e.Message = "unexpected " + mt + " body"
			}
			return e
		}
		body = br
	}

	if err := r.decode(body); err != nil {
		kind := KindRetryable
		if errors.Is(err, errShape) {
			kind = KindFatal
		}
		if errors.Is(err, ErrTooLarge) {
			kind = KindFatal
			err = fmt.Errorf("%w: more than %d bytes (Options.MaxResponseBytes)", err,
				c.opts.MaxResponseBytes)
		}
		return &Error{Kind: kind, StatusCode: resp.StatusCode, URL: safeURL,
			CorrelationID: correlationID(resp.Header), Err: err}
	}
	return nil
}

// opensObject skips leading JSON whitespace and reports whether the next
// byte is '{', leaving it unread.
func opensObject(br *bufio.Reader) bool {
	for {
		b, err := br.ReadByte()
		if err != nil {
			return false
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		br.UnreadByte()
		return b == '{'
	}
}

// unwrapURLError drops the *url.Error layer, whose message repeats the URL.
func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// transportKind classifies an error from http.Client.Do.
func transportKind(err error) Kind {
	var (
		ne      net.Error
		certErr *tls.CertificateVerificationError
		uaErr   x509.UnknownAuthorityError
		hostErr x509.HostnameError
		opErr   *net.OpError
	)
	switch {
	case errors.Is(err, ErrUnsafeLink), errors.As(err, &certErr), errors.As(err, &uaErr),
		errors.As(err, &hostErr):
		return KindFatal
	case errors.As(err, &ne) && ne.Timeout():
		return KindRetryable
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindRetryable
	case errors.As(err, &opErr):
		return KindRetryable
	}
	return KindFatal
}

// retryAfter reads a Retry-After header: delta-seconds or an HTTP date.
// ok is false when the header is absent or unreadable; a date in the past
// means no wait.
func retryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(max(0, min(secs, 1<<31))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
