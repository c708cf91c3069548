package odata

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind classifies a failure by what a caller should do about it.
type Kind int

const (
	// KindFatal: retrying the same request will not help (400, 403, 404,
	// a refused link, a malformed query).
	KindFatal Kind = iota + 1
	// KindRetryable: a transient failure (429, 5xx, timeouts, resets, a
	// cut-off body). The client has already retried it as its
	// [RetryPolicy] allows; a caller may try the whole read again later.
	KindRetryable
	// KindAuthExpired: the access token was rejected or expired (401, or
	// 403 with LGN0022, LGN0006 or LGN0007) and one refresh did not help.
	KindAuthExpired
	// KindSnapshotLost: SF dropped the snapshot or cursor of a paged read
	// ([COE0019]); the read must restart from the first page.
	KindSnapshotLost
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindFatal:
		return "fatal"
	case KindRetryable:
		return "retryable"
	case KindAuthExpired:
		return "auth expired"
	case KindSnapshotLost:
		return "snapshot lost"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Sentinels matching an [*Error] of each [Kind] with [errors.Is].
var (
	// ErrFatal matches an [*Error] of [KindFatal]: retrying will not help.
	ErrFatal = errors.New("odata: fatal error")
	// ErrRetryable matches an [*Error] of [KindRetryable]: the same read
	// may succeed later.
	ErrRetryable = errors.New("odata: retryable error")
	// ErrAuthExpired matches an [*Error] of [KindAuthExpired]: a fresh
	// access token is needed before trying again.
	ErrAuthExpired = errors.New("odata: access token rejected or expired")
	// ErrSnapshotLost matches an [*Error] of [KindSnapshotLost]: the paged
	// read must restart from the first page.
	ErrSnapshotLost = errors.New("odata: snapshot lost; restart from the first page")
)

// Sentinels for failures found by the client itself.
var (
	// ErrUnsafeLink: a __next link or redirect leaves the service root's
	// scheme, host or port; it is refused before any request is sent.
	ErrUnsafeLink = errors.New("odata: link leaves the service")
	// ErrInsecure: plain http outside an allowed loopback address.
	ErrInsecure = errors.New("odata: insecure service URL")
	// ErrLinkLoop: the server sent the same __next link twice.
	ErrLinkLoop = errors.New("odata: __next link repeats")
	// ErrEmptyPages: too many empty pages in a row, each with a __next link.
	ErrEmptyPages = errors.New("odata: too many empty pages")
	// ErrTooLarge: a response body passed Options.MaxResponseBytes.
	ErrTooLarge = errors.New("odata: response body too large")
	// ErrPossiblyIncomplete: a read that asked for $inlinecount received a
	// different number of rows than the total on its first page.
	ErrPossiblyIncomplete = errors.New("odata: result possibly incomplete")
	// ErrRestart: a later page kept failing with 502 or 504 and the read
	// must start again from the first page with a smaller page size; the
	// error is a [*RestartError] carrying that size.
	ErrRestart = errors.New("odata: read must restart from the first page with a smaller page size")
)

// Error is a failed request: an HTTP error status, an SF error envelope, a
// body that is not the JSON expected, or a transport failure.
type Error struct {
	// Kind says what a caller can do about the failure.
	Kind       Kind
	StatusCode int    // 0 for transport failures
	Code       string // SF's error.code, e.g. "COE_PROPERTY_NOT_FOUND"
	Message    string // SF's error.message.value, or a description
	// URL is the request URL with any user information removed; the
	// $skiptoken and other query parameters are kept.
	URL string
	// CorrelationID is SF's transaction or correlation id when the response
	// carries one; quote it to SAP support.
	CorrelationID string
	// Snippet is the start of a body that was not a JSON error envelope.
	Snippet string
	// Attempts is how many times the request was sent.
	Attempts int
	// Err is the underlying cause, when there is one.
	Err error

	retryAfter    time.Duration // from the Retry-After header
	hasRetryAfter bool
}

// Error describes the failure without any credential.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("odata: ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	} else {
		b.WriteString("request failed")
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Snippet != "" {
		fmt.Fprintf(&b, ": body starts %q", e.Snippet)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Err.Error(), "odata: "))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.URL != "" {
		fmt.Fprintf(&b, " (GET %s", e.URL)
		if e.CorrelationID != "" {
			fmt.Fprintf(&b, ", correlation id %s", e.CorrelationID)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's [Kind].
func (e *Error) Is(target error) bool {
	switch target {
	case ErrFatal:
		return e.Kind == KindFatal
	case ErrRetryable:
		return e.Kind == KindRetryable
	case ErrAuthExpired:
		return e.Kind == KindAuthExpired
	case ErrSnapshotLost:
		return e.Kind == KindSnapshotLost
	}
	return false
}

// KindOf returns the [Kind] of the first [*Error] in err's chain, or of
// the client's own sentinels. Any other non-nil error is KindFatal; nil is
// 0.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, ErrSnapshotLost):
		return KindSnapshotLost
	case errors.Is(err, ErrRetryable):
		return KindRetryable
	case errors.Is(err, ErrAuthExpired):
		return KindAuthExpired
	}
	return KindFatal
}

// IncompleteError reports a read that asked for $inlinecount and received
// a different number of rows than the server counted on the first page:
// rows were inserted or deleted during the read, or the server's paging
// skipped or repeated some, so the result cannot pass for complete.
type IncompleteError struct {
	Expected int64      // __count on the first page
	Received int64      // rows received over all pages
	Paging   PagingMode // the query's paging mode
}

// Error describes the mismatch.
func (e *IncompleteError) Error() string {
	mode := string(e.Paging)
	switch e.Paging {
	case PagingServer:
		mode = "server"
	case PagingSkip:
		mode = "$top/$skip"
	}
	return fmt.Sprintf("odata: result possibly incomplete: server counted %d rows at the start, "+
		"%d received with %s paging", e.Expected, e.Received, mode)
}

// Is matches [ErrPossiblyIncomplete].
func (e *IncompleteError) Is(target error) bool { return target == ErrPossiblyIncomplete }

// RestartError ends a read whose later page kept failing with 502 or 504
// (SF's gateway and session timeouts on heavy pages). SF fixes
// customPageSize with the first request of a read, so the only way to a
// smaller page is to read again from the first page with Query.PageSize
// set to PageSize. Pages already yielded by the failed read are
// superseded by those of the new one.
type RestartError struct {
	PageSize int    // the page size to restart with, half the one that failed
	Err      *Error // the last gateway failure
}

// Error describes the failure and the size to restart with.
func (e *RestartError) Error() string {
	return fmt.Sprintf("odata: restart from the first page with customPageSize=%d: %s",
		e.PageSize, strings.TrimPrefix(e.Err.Error(), "odata: "))
}

// Unwrap returns the gateway failure.
func (e *RestartError) Unwrap() error { return e.Err }

// Is matches [ErrRestart].
func (e *RestartError) Is(target error) bool { return target == ErrRestart }

// snippetLen bounds the body quoted in an error.
const snippetLen = 200

// errorBodyLimit bounds the body read from an error response.
const errorBodyLimit = 64 << 10

// responseError builds the error for a non-2xx response and classifies it.
func responseError(resp *http.Response, reqURL string) *Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	e := &Error{StatusCode: resp.StatusCode, URL: reqURL}
	parseErrorBody(e, resp.Header.Get("Content-Type"), body)
	if e.CorrelationID == "" {
		e.CorrelationID = correlationID(resp.Header)
	}
	e.Kind = classify(resp.StatusCode, e.Code, e.Message)
	return e
}

// parseErrorBody fills Code, Message, CorrelationID or Snippet from an
// error body, choosing the parser by Content-Type (gateways send HTML),
// except that a body opening a JSON object is read as SF's envelope
// whatever its label, as 2xx bodies are.
func parseErrorBody(e *Error, contentType string, body []byte) {
	mt, _, _ := mime.ParseMediaType(contentType)
	trimmed := bytes.TrimSpace(body)
	switch {
	case isJSONType(mt) || bytes.HasPrefix(trimmed, []byte("{")):
		var env struct {
			Error struct {
				Code    string `json:"code"`
				Message struct {
					Value string `json:"value"`
				} `json:"message"`
				InnerError struct {
					TransactionID string `json:"transactionId"`
				} `json:"innerError"`
			} `json:"error"`
		}
		if json.Unmarshal(trimmed, &env) == nil && (env.Error.Code != "" || env.Error.Message.Value != "") {
			e.Code = bound(env.Error.Code, snippetLen)
			e.Message = bound(env.Error.Message.Value, messageLen)
			e.CorrelationID = bound(env.Error.InnerError.TransactionID, snippetLen)
			return
		}
	case strings.HasSuffix(mt, "xml"):
		var env struct {
			Code    string `xml:"code"`
			Message string `xml:"message"`
		}
		if xml.Unmarshal(trimmed, &env) == nil && (env.Code != "" || env.Message != "") {
			e.Code = bound(strings.TrimSpace(env.Code), snippetLen)
			e.Message = bound(strings.TrimSpace(env.Message), messageLen)
			return
		}
	}
	if len(trimmed) > 0 {
		if mt == "" {
			mt = "no Content-Type"
		}
		e.Message = "unexpected " + mt + " body"
		e.Snippet = snippet(trimmed)
	}
}

// messageLen bounds an SF error message kept in an error.
const messageLen = 1000

// snippet returns the first bytes of body, cut at a rune boundary.
func snippet(body []byte) string { return bound(string(body), snippetLen) }

// bound cuts s to at most n bytes, at a rune boundary.
func bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a rune cut in half, but no more: the body may not be UTF-8.
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

func isJSONType(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// correlationID returns the first correlation header the response has.
func correlationID(h http.Header) string {
	for _, k := range []string{
		"X-Correlation-Id", "X-Sf-Correlation-Id", "X-Correlationid",
		"Sap-Correlation-Id", "X-Request-Id", "X-Vcap-Request-Id",
	} {
		if v := h.Get(k); v != "" {
			return clip(v)
		}
	}
	return ""
}

// classify maps a status and SF error to a Kind.
func classify(status int, code, message string) Kind {
	text := code + " " + message
	switch {
	case strings.Contains(text, "COE0019") || strings.Contains(message, "[SNP]"):
		return KindSnapshotLost
	case status == http.StatusUnauthorized:
		return KindAuthExpired
	case status == http.StatusForbidden && isTokenExpiry(text):
		return KindAuthExpired
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return KindRetryable
	case status >= 500 && status != http.StatusNotImplemented &&
		status != http.StatusHTTPVersionNotSupported:
		return KindRetryable
	}
	return KindFatal
}

// isTokenExpiry reports SF's login errors for an expired or rejected
// token, which SF sends with 401 or 403.
func isTokenExpiry(text string) bool {
	for _, c := range []string{"LGN0022", "LGN0006", "LGN0007"} {
		if strings.Contains(text, c) {
			return true
		}
	}
	return false
}

// redactURL removes user information from a URL for messages and pages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = nil
	return u.String()
}
