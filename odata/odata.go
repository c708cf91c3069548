package odata

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PagingMode selects how a query walks through an entity set.
type PagingMode string

const (
	// PagingServer follows the server's __next links ($skiptoken). Default.
	PagingServer PagingMode = ""
	// PagingCursor asks SF for cursor-based paging (paging=cursor).
	PagingCursor PagingMode = "cursor"
	// PagingSnapshot asks SF for snapshot-based paging (paging=snapshot).
	PagingSnapshot PagingMode = "snapshot"
	// PagingSkip pages on the client with $top and $skip; needs OrderBy.
	PagingSkip PagingMode = "skip"
)

// Query describes one read of an entity set. Filter is an OData
// expression before URL encoding; build it with [Eq], [And] and the
// literal constructors such as [String] and [DateTimeOffset] rather than
// by hand.
type Query struct {
	// EntitySet is the entity set read, e.g. "User"; surrounding spaces
	// are trimmed and the rest must be an OData identifier.
	EntitySet string
	// Select lists the properties to return ($select); nil means all.
	Select []string
	// Filter is an OData expression ($filter) before URL encoding; ""
	// means none.
	Filter string
	// Expand lists navigation properties to inline ($expand).
	Expand []string
	// OrderBy lists sort keys ($orderby), each "prop" or "prop desc";
	// required by PagingSkip, refused by SF with PagingCursor.
	OrderBy []string

	PageSize    int        // customPageSize for server modes, $top for PagingSkip
	Paging      PagingMode // zero value: server-side paging
	AsOfDate    time.Time  // zero: not sent
	FromDate    time.Time  // zero: not sent
	ToDate      time.Time  // zero: not sent
	InlineCount bool       // $inlinecount=allpages; the row count is checked at the end
}

// Page is one response of a paged read.
type Page struct {
	Index   int               // 0-based
	Records []json.RawMessage // each record as SF sent it
	URL     string            // the link that produced this page (no secrets)
	Next    string            // the next link, "" on the last page
	Count   int64             // __count, when asked for and sent
	// HasCount says the response carried __count, so Count is meaningful
	// even when it is zero.
	HasCount bool
}

// Refresher is implemented by an http.RoundTripper that can renew its
// credentials. After a 401, or a 403 naming an expired or rejected token
// (LGN0022, LGN0006, LGN0007), the client calls Refresh once and retries
// the same URL once; a second auth failure is returned as
// [KindAuthExpired]. Refresh should force a new token (SF returns the same
// nearly expired token for the same assertion unless asked for a new one).
type Refresher interface {
	// Refresh obtains new credentials for the requests that follow.
	Refresh(ctx context.Context) error
}

// RetryPolicy bounds retries of transient failures. The zero value means
// the defaults given with each field.
type RetryPolicy struct {
	// MaxAttempts is per request, first try included; 0 means 5. The
	// retry after a credential refresh is not counted.
	MaxAttempts int

	// BaseDelay is the first backoff ceiling, doubled per attempt; each
	// wait is drawn uniformly from zero to the ceiling (full jitter).
	// 0 means 500ms.
	BaseDelay time.Duration

	// MaxDelay caps one wait, including one asked for by Retry-After;
	// 0 means 5m.
	MaxDelay time.Duration

	// MaxElapsed caps the time spent on one request, attempts and waits
	// together: a retry whose wait would pass it is not made. 0 means 15m.
	MaxElapsed time.Duration

	// DefaultRetryAfter is the wait after a 429 without a Retry-After
	// header; 0 means 300s, as SAP recommends.
	DefaultRetryAfter time.Duration
}

// RetryEvent describes one retry, for observers.
type RetryEvent struct {
	URL     string        // the request URL, without user information
	Attempt int           // the attempt that failed, from 1
	Status  int           // 0 for transport errors
	Wait    time.Duration // before the retry; 0 after a credential refresh
	Err     error         // the failure, an [*Error]
}

// Options configures a Client. The zero value means the documented defaults.
type Options struct {
	// MaxResponseBytes bounds one response body after decompression; a
	// longer body ends the read with [ErrTooLarge]. 0 means 256 MiB.
	MaxResponseBytes int64

	// Retry bounds retries of transient failures.
	Retry RetryPolicy

	// Logger receives warnings ($top/$skip paging, a __next link that
	// carries $skip, a lowered page size, a restart) and one record per
	// retry. nil: silent.
	Logger *slog.Logger

	// OnRetry is called before each retry. nil: none.
	OnRetry func(RetryEvent)

	// AllowInsecureLoopback permits an http:// service root on 127.0.0.1,
	// ::1 or localhost, for tests. Other http roots are always refused.
	AllowInsecureLoopback bool

	// MaxEmptyPages bounds a run of empty pages that each carry a __next
	// link; 0 means 10.
	MaxEmptyPages int

	// Refresher renews credentials after an auth failure. nil means the
	// client's transport, when it implements Refresher.
	Refresher Refresher

	// MinPageSize is the smallest page size asked for when later pages
	// keep failing with 502 or 504 and the read must restart with a
	// smaller one ([RestartError]), or $top/$skip paging lowers $top;
	// below it the failure is returned as it is. 0 means 50.
	MinPageSize int
}

// Defaults.
const (
	defaultMaxResponseBytes  = 256 << 20
	defaultMaxAttempts       = 5
	defaultBaseDelay         = 500 * time.Millisecond
	defaultMaxDelay          = 5 * time.Minute
	defaultMaxElapsed        = 15 * time.Minute
	defaultDefaultRetryAfter = 300 * time.Second
	defaultMaxEmptyPages     = 10
	defaultMinPageSize       = 50

	// snapshotGap is how long SF keeps a snapshot or cursor between two
	// page requests.
	snapshotGap = 15 * time.Minute
)

// Client reads an OData V2 service. Safe for concurrent use.
type Client struct {
	root      *url.URL
	rootS     string
	hc        *http.Client
	opts      Options
	refresher Refresher

	// Replaced by tests.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewClient returns a client for the service root, e.g.
// https://api.example.com/odata/v2. hc carries the credentials, typically
// as its Transport; nil means [http.DefaultClient]. The client follows
// redirects only within the service root's scheme, host and port. opts
// may be nil.
func NewClient(serviceRoot string, hc *http.Client, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	root, err := checkRoot(serviceRoot, o.AllowInsecureLoopback)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	o.fill()

	c := &Client{root: root, rootS: root.String(), opts: o, now: time.Now, sleep: sleepCtx}
	c.refresher = o.Refresher
	if r, ok := hc.Transport.(Refresher); ok && c.refresher == nil {
		c.refresher = r
	}
	guarded := *hc
	next := hc.CheckRedirect
	guarded.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := sameOrigin(root, req.URL); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	c.hc = &guarded
	return c, nil
}

func (o *Options) fill() {
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = defaultMaxResponseBytes
	}
	if o.MaxEmptyPages <= 0 {
		o.MaxEmptyPages = defaultMaxEmptyPages
	}
	if o.MinPageSize <= 0 {
		o.MinPageSize = defaultMinPageSize
	}
	r := &o.Retry
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = defaultMaxAttempts
	}
	if r.BaseDelay <= 0 {
		r.BaseDelay = defaultBaseDelay
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = defaultMaxDelay
	}
	if r.MaxElapsed <= 0 {
		r.MaxElapsed = defaultMaxElapsed
	}
	if r.DefaultRetryAfter <= 0 {
		r.DefaultRetryAfter = defaultDefaultRetryAfter
	}
}

// URL returns the absolute URL of the first request of q.
func (c *Client) URL(q Query) (string, error) {
	rel, err := q.Encode()
	if err != nil {
		return "", err
	}
	return c.rootS + "/" + rel, nil
}

// Pages iterates over the pages of q in order. Iteration stops at the first
// error, which is yielded with a nil page. Each page is yielded once and
// not kept by the client; a caller that breaks out of the loop stops the
// read.
//
// In the server, cursor and snapshot modes the iteration follows __next
// links until a page has none; a link must stay on the query's own entity
// set. In [PagingSkip] mode it requests $top/$skip pages until one is
// short. In every mode, when q.InlineCount is set, the iteration ends with
// an [*IncompleteError] when the rows received differ from the __count of
// the first page. A later page that keeps failing with 502 or 504 ends the
// iteration with a [*RestartError] naming a smaller page size.
func (c *Client) Pages(ctx context.Context, q Query) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		if q.Paging == PagingSkip {
			c.skipPages(ctx, q, 0, 0, q.PageSize, yield)
			return
		}
		first, err := c.queryURL(q, q.PageSize, 0, q.InlineCount)
		if err != nil {
			yield(nil, err)
			return
		}
		c.linkPages(ctx, q, first, 0, true, yield)
	}
}

// PagesFrom continues a read of q at a page's Next link, as a checkpoint
// saved it, numbering pages from index. The link must belong to the
// service root and name q's entity set. In [PagingSkip] mode the link's
// $skip is where reading resumes, and a $top below q.PageSize is kept;
// the row-count check of the first page is not repeated. A
// snapshot or cursor expires 15 minutes after its last request: resuming
// one later ends with [ErrSnapshotLost].
func (c *Client) PagesFrom(ctx context.Context, q Query, next string, index int) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		_, err := q.encode(q.PageSize, 0, false)
		var link string
		if err == nil {
			link, err = c.resolveNext(q, c.rootS+"/", next)
		}
		if err != nil {
			yield(nil, err)
			return
		}
		if q.Paging != PagingSkip {
			c.linkPages(ctx, q, link, index, false, yield)
			return
		}
		u, _ := url.Parse(link)
		skip, err := strconv.Atoi(u.Query().Get("$skip"))
		if err != nil || skip < 0 {
			yield(nil, fmt.Errorf("%w: link has no $skip", ErrInvalidQuery))
			return
		}
		// A $top lowered after gateway timeouts holds for the rest.
		size := q.PageSize
		if top, err := strconv.Atoi(u.Query().Get("$top")); err == nil && top > 0 && top < size {
			size = top
		}
		c.skipPages(ctx, q, index, skip, size, yield)
	}
}

// linkPages follows __next links from link, whose page has index first.
// fresh says link is the query's first request: its page size may be
// lowered in place, and its __count is what the rows are checked against.
func (c *Client) linkPages(ctx context.Context, q Query, link string, first int, fresh bool,
	yield func(*Page, error) bool) {
	size := q.PageSize
	// Links seen so far, as hashes: a link can be a few hundred bytes,
	// and a long run has thousands of pages.
	seen := map[[sha256.Size]byte]bool{sha256.Sum256([]byte(link)): true}
	empty := 0
	warned := false
	expected, received := int64(-1), int64(0)
	var deadline time.Time
	for idx := first; ; idx++ {
		r := request{url: link, deadline: deadline}
		if fresh && idx == first {
			r.resize = func() (string, bool) { return c.halve(q, &size) }
		} else {
			// SF fixed the page size with the first request: a smaller one
			// means reading again from the first page.
			r.shrink = func() (int, bool) {
				n, ok := c.half(size)
				if ok {
					c.log(slog.LevelWarn, "odata: gateway timeouts on a later page; "+
						"restart from the first page with a smaller customPageSize",
						"entitySet", strings.TrimSpace(q.EntitySet), "customPageSize", n)
				}
				return n, ok
			}
		}
		p, err := c.page(ctx, &r)
		if err != nil {
			yield(nil, err)
			return
		}
		if q.Paging == PagingSnapshot || q.Paging == PagingCursor {
			deadline = c.now().Add(snapshotGap)
		}
		p.Index = idx
		if fresh && idx == first && q.InlineCount && p.HasCount {
			expected = p.Count
		}
		received += int64(len(p.Records))

		var next string
		var linkErr error
		if p.Next != "" {
			next, linkErr = c.resolveNext(q, r.url, p.Next)
			p.Next = redactURL(next)
		}
		if !yield(p, nil) {
			return
		}

		switch {
		case linkErr != nil:
			yield(nil, linkErr)
			return
		case next == "":
			if expected >= 0 && expected != received {
				yield(nil, &IncompleteError{Expected: expected, Received: received, Paging: q.Paging})
			}
			return
		case seen[sha256.Sum256([]byte(next))]:
			yield(nil, fmt.Errorf("%w: %s", ErrLinkLoop, redactURL(next)))
			return
		}
		seen[sha256.Sum256([]byte(next))] = true
		if !warned && offsetLink(next) {
			warned = true
			c.log(slog.LevelWarn, "odata: the server's __next link pages with $top/$skip, "+
				"which can miss or repeat rows when the set changes during the read",
				"entitySet", strings.TrimSpace(q.EntitySet), "next", redactURL(next))
		}
		if len(p.Records) == 0 {
			if empty++; empty > c.opts.MaxEmptyPages {
				yield(nil, fmt.Errorf("%w: %d in a row, last at %s", ErrEmptyPages, empty,
					redactURL(next)))
				return
			}
		} else {
			empty = 0
		}
		link = next
	}
}

// offsetLink reports a link that pages by offset ($skip).
func offsetLink(link string) bool {
	u, err := url.Parse(link)
	if err != nil {
		return false
	}
	_, ok := u.Query()["$skip"]
	return ok
}

// half returns half the page size for a restart, or false when that
// would go below Options.MinPageSize. A size of 0 stands for SF's default
// page of 1000.
func (c *Client) half(size int) (int, bool) {
	if size <= 0 {
		size = maxCustomPageSize
	}
	if size/2 < c.opts.MinPageSize {
		return 0, false
	}
	return size / 2, true
}

// halve lowers the page size after a 502 or 504 on the first page and
// returns the new first URL. Retrying the first page costs no pages
// read, so it halves down to 1, each retry of the policy once.
func (c *Client) halve(q Query, size *int) (string, bool) {
	n := *size
	if n <= 0 {
		n = maxCustomPageSize
	}
	if n /= 2; n < 1 {
		return "", false
	}
	u, err := c.queryURL(q, n, 0, q.InlineCount)
	if err != nil {
		return "", false
	}
	*size = n
	c.log(slog.LevelWarn, "odata: gateway timeout; halving customPageSize",
		"entitySet", strings.TrimSpace(q.EntitySet), "customPageSize", n)
	return u, true
}

// skipPages pages with $top and $skip, from the given page index, offset
// and page size. A full page's Next is the URL of the following offset.
func (c *Client) skipPages(ctx context.Context, q Query, idx, skip, size int,
	yield func(*Page, error) bool) {
	c.log(slog.LevelWarn, "odata: $top/$skip paging can miss or repeat rows when the "+
		"set changes during the read; prefer paging=snapshot",
		"entitySet", strings.TrimSpace(q.EntitySet))

	expected, received := int64(-1), int64(0)
	for ; ; idx, skip = idx+1, skip+size {
		link, err := c.queryURL(q, size, skip, q.InlineCount || skip == 0)
		if err != nil {
			yield(nil, err)
			return
		}
		// $skip is absolute, so a smaller $top after a 502 or 504 holds
		// from this page on without starting over.
		at := skip
		r := &request{url: link, resize: func() (string, bool) {
			n, ok := c.half(size)
			if !ok {
				return "", false
			}
			u, err := c.queryURL(q, n, at, q.InlineCount || at == 0)
			if err != nil {
				return "", false
			}
			size = n
			c.log(slog.LevelWarn, "odata: gateway timeout; halving $top",
				"entitySet", strings.TrimSpace(q.EntitySet), "top", n)
			return u, true
		}}
		p, err := c.page(ctx, r)
		if err != nil {
			yield(nil, err)
			return
		}
		p.Index = idx
		if skip == 0 && p.HasCount {
			expected = p.Count
		}
		received += int64(len(p.Records))
		short := len(p.Records) < size
		if !short {
			if p.Next, err = c.queryURL(q, size, skip+size, q.InlineCount); err != nil {
				yield(nil, err)
				return
			}
		} else {
			p.Next = ""
		}
		if !yield(p, nil) {
			return
		}
		if short {
			break
		}
	}
	if expected >= 0 && expected != received {
		yield(nil, &IncompleteError{Expected: expected, Received: received, Paging: q.Paging})
	}
}

func (c *Client) queryURL(q Query, size, skip int, inlineCount bool) (string, error) {
	rel, err := q.encode(size, skip, inlineCount)
	if err != nil {
		return "", err
	}
	return c.rootS + "/" + rel, nil
}

// page fetches and decodes one collection page.
func (c *Client) page(ctx context.Context, r *request) (*Page, error) {
	var p *Page
	r.decode = func(body io.Reader) error {
		p = &Page{}
		return decodePageFast(body, p)
	}
	if err := c.do(ctx, r); err != nil {
		return nil, err
	}
	p.URL = redactURL(r.url)
	return p, nil
}

// KeyPart is one property of an entity key. A key of one part with an
// empty Name is written as Set('x'); named parts as
// Set(seqNumber=1L,userId='x').
type KeyPart struct {
	Name  string // the key property, e.g. "userId"; "" for a one-part key
	Value Lit    // the key value as a literal, e.g. [String]("x")
}

// Entity reads one entity: GET EntitySet(key) answering {"d":{...}}. It
// returns the entity object as sent. Select, Expand and the effective
// dates of q apply; its paging, filter and order are ignored.
func (c *Client) Entity(ctx context.Context, q Query, key ...KeyPart) (json.RawMessage, error) {
	link, err := c.entityURL(q, key)
	if err != nil {
		return nil, err
	}
	var rec json.RawMessage
	r := &request{url: link, decode: func(body io.Reader) (err error) {
		rec, err = decodeEntity(body)
		return err
	}}
	if err := c.do(ctx, r); err != nil {
		return nil, err
	}
	return rec, nil
}

func (c *Client) entityURL(q Query, key []KeyPart) (string, error) {
	set, err := entitySetName(q.EntitySet)
	if err != nil {
		return "", err
	}
	if len(key) == 0 {
		return "", fmt.Errorf("%w: entity key is empty", ErrInvalidQuery)
	}
	parts := make([]string, len(key))
	for i, k := range key {
		v := escapePath(k.Value.String())
		switch {
		case k.Name == "" && len(key) == 1:
			parts[i] = v
		case isIdentifier(k.Name):
			parts[i] = k.Name + "=" + v
		default:
			return "", fmt.Errorf("%w: key property name %q", ErrInvalidQuery, k.Name)
		}
	}
	var b strings.Builder
	b.WriteString(c.rootS + "/" + set + "(" + strings.Join(parts, ",") + ")?$format=json")
	q.writeCommon(&b)
	q.writeDates(&b)
	return b.String(), nil
}

// escapePath encodes a key literal for a path segment: as a query value,
// and '/' too.
func escapePath(s string) string {
	return strings.ReplaceAll(escapeValue(s), "/", "%2F")
}

type headerKey struct{}

// WithHeader returns a context whose requests carry the given headers in
// addition to those of ctx, for example a run id for the server's request
// log. The headers are not included in errors or logs.
func WithHeader(ctx context.Context, h http.Header) context.Context {
	merged := http.Header{}
	if prev, ok := ctx.Value(headerKey{}).(http.Header); ok {
		for k, v := range prev {
			merged[k] = v
		}
	}
	for k, v := range h {
		merged[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
	}
	return context.WithValue(ctx, headerKey{}, merged)
}

func (c *Client) log(level slog.Level, msg string, args ...any) {
	if c.opts.Logger != nil {
		c.opts.Logger.Log(context.Background(), level, msg, args...)
	}
}
