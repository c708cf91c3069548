package odata

import (
	"context"
	"encoding/json"
	"iter"
	"log/slog"
	"net/http"
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

// Query describes one read of an entity set.
type Query struct {
	EntitySet   string
	Select      []string
	Filter      string
	Expand      []string
	OrderBy     []string
	PageSize    int        // customPageSize for server modes, $top for PagingSkip
	Paging      PagingMode // zero value: server-side paging
	AsOfDate    time.Time  // zero: not sent
	FromDate    time.Time  // zero: not sent
	ToDate      time.Time  // zero: not sent
	InlineCount bool       // $inlinecount=allpages
}

// Page is one response of a paged read.
type Page struct {
	Index    int               // 0-based
	Records  []json.RawMessage // each record as SF sent it
	URL      string            // the link that produced this page (no secrets)
	Next     string            // the next link, "" on the last page
	Count    int64             // __count, when asked for and sent
	HasCount bool
}

// Refresher is implemented by an http.RoundTripper that can renew its
// credentials; the client calls it once after a 401 before one retry.
type Refresher interface {
	Refresh(ctx context.Context) error
}

// RetryPolicy bounds retries of transient failures.
type RetryPolicy struct {
	MaxAttempts int           // per request, first try included; 0 means 5
	BaseDelay   time.Duration // 0 means 500ms
	MaxDelay    time.Duration // cap of one wait; 0 means 5m
	MaxElapsed  time.Duration // cap of all waits for one request; 0 means 15m
}

// RetryEvent describes one retry, for observers.
type RetryEvent struct {
	URL     string
	Attempt int
	Status  int // 0 for transport errors
	Wait    time.Duration
	Err     error
}

// Options configures a Client. The zero value means the documented defaults.
type Options struct {
	MaxResponseBytes      int64 // 0 means 256 MiB
	Retry                 RetryPolicy
	Logger                *slog.Logger     // nil: silent
	OnRetry               func(RetryEvent) // nil: none
	AllowInsecureLoopback bool             // permit http:// on 127.0.0.1 / ::1
}

// Client reads an OData V2 service. Safe for concurrent use.
type Client struct {
	root string
	hc   *http.Client
	opts Options
}

// NewClient returns a client for the service root, e.g.
// https://api.example.com/odata/v2.
func NewClient(serviceRoot string, hc *http.Client, opts *Options) (*Client, error) {
	panic("unimplemented")
}

// Pages iterates over the pages of q in order. Iteration stops at the first
// error, which is yielded with a nil page.
func (c *Client) Pages(ctx context.Context, q Query) iter.Seq2[*Page, error] {
	panic("unimplemented")
}

// ParseDate turns "/Date(ms)/" or "/Date(ms+hhmm)/" into a UTC time.
func ParseDate(s string) (time.Time, error) { panic("unimplemented") }
