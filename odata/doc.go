// Package odata reads OData V2 services in the SAP SuccessFactors dialect.
//
// A [Client] builds query URLs from a [Query], walks the pages of an
// entity set with [Client.Pages] and reads single entities with
// [Client.Entity]. Records are streamed from the response body and kept
// exactly as the server sent them ([encoding/json.RawMessage]), so 64-bit
// integers and decimals, which OData V2 sends as JSON strings, never pass
// through a float.
//
// # Paging
//
// [PagingServer] (the default) follows the server's __next links verbatim;
// [PagingCursor] and [PagingSnapshot] add SF's paging=cursor and
// paging=snapshot parameters and also follow __next. [PagingSkip] pages on
// the client with $top and $skip. Offset paging over a set that changes
// between requests loses and repeats rows, so it needs an $orderby and is
// logged as a warning; so is a server's __next link that carries $skip.
// In every mode, a query with [Query.InlineCount] ends with an
// [*IncompleteError] when the __count of the first page differs from the
// rows received.
//
// A __next link must name the scheme, host and port of the service root
// (":443" on https equals no port) and the query's own entity set; any
// other link, including an http:// link under an https root or a link to
// another entity set, is refused before a request is sent, so a bearer
// token never leaves the service and no other set's rows pass for the
// query's. A link seen twice, or a run of
// more than [Options.MaxEmptyPages] empty pages, ends the iteration with an
// error instead of looping. [Client.PagesFrom] resumes a read at a saved
// Next link.
//
// # Errors and retries
//
// Failures are [*Error] values carrying the HTTP status, SF's error code
// and message, the request URL (without user information; the $skiptoken
// is kept) and a correlation id. [KindOf] and the sentinels
// [ErrRetryable], [ErrAuthExpired], [ErrSnapshotLost] and [ErrFatal] let a
// caller branch with [errors.Is].
//
// Within one request the client retries 429, 500, 502, 503 and 504
// responses, timeouts, connection resets and 200 responses whose body is
// cut short or is not JSON, with exponential backoff and full jitter,
// honouring Retry-After, bounded by [RetryPolicy]. A 401, or a 403 whose
// body names LGN0022, LGN0006 or LGN0007, triggers one
// [Refresher.Refresh] and one retry of the same URL; a second auth failure
// is returned. 400, 403 and 404 are never retried, and a URL is never
// requested again once it has succeeded. A 502 or 504 on the first page
// halves customPageSize for the retry. SF fixes the page size with the
// first request, so a later page that still fails with 502 or 504 after two
// retries of the same URL ends the iteration with a [*RestartError]
// ([ErrRestart]) carrying half the size, down to [Options.MinPageSize]; the
// caller reads again from the first page with it. In [PagingSkip] mode
// $top is halved from the failing offset on instead. SF's snapshot-lost error ([COE0019]) ends the
// iteration with [ErrSnapshotLost]; the caller restarts from the first
// page. In snapshot and cursor modes a retry wait that would pass the 15
// minutes SF keeps a snapshot between two requests is not made; the read
// ends with [ErrSnapshotLost] at once. A 2xx body is decoded when it
// opens a JSON object, whatever its Content-Type says (some gateways label
// JSON text/plain). A 2xx body that is cut short or not JSON, such as an
// HTML page, is retried on the same URL, never taken as a short page; JSON of
// the wrong shape ends the read ([ErrMalformedBody]). A body longer than
// [Options.MaxResponseBytes] ends it with [ErrTooLarge].
//
// # Values
//
// [ParseDate] reads SF's /Date(ms)/ and /Date(ms+hhmm)/ forms.
// [FormatDateTimeOffset], [FormatDateTime] and [FormatDate] write RFC 3339
// text; [NormalizeDates] rewrites the date properties of a record.
// Fractional seconds, when present, are written as exactly three digits
// ("2016-02-01T13:09:13.030Z").
package odata
