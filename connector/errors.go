package connector

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

// ErrorKind says why a run failed, in terms of what a person can do about
// it. It is written to the failed state record.
type ErrorKind string

// The kinds of failure.
const (
	// KindAuth: SF refused the credential or the token (401, 403, a
	// rejected assertion). Check the certificate, client and user.
	KindAuth ErrorKind = "auth"

	// KindThrottled: SF answered 429 beyond the retry budget. Run later.
	KindThrottled ErrorKind = "sf_throttled"

	// KindUnavailable: SF answered 5xx, timed out or cut the connection
	// beyond the retry budget, or a page kept timing out at the gateway
	// after the run restarted with smaller pages. Run later.
	KindUnavailable ErrorKind = "sf_unavailable"

	// KindBadRequest: SF refused the query (400, 404): the catalog entry
	// names something this tenant does not have.
	KindBadRequest ErrorKind = "sf_bad_request"

	// KindBadResponse: SF's answer could not be used: a __next link to
	// another host, a body over the size limit, a paging loop.
	KindBadResponse ErrorKind = "sf_bad_response"

	// KindBadData: a record could not be staged: a value that does not
	// fit its property's EDM type (a date that is not a date, "abc" for
	// an Edm.Int64), a key property missing or null, or a staged line
	// longer than the reader accepts. The message names the page, the
	// record's index on it and the property.
	KindBadData ErrorKind = "sf_bad_data"

	// KindSnapshotLost: SF dropped the snapshot twice; the run restarted
	// once already. Run again, with fewer concurrent reads of the entity.
	KindSnapshotLost ErrorKind = "snapshot_lost"

	// KindIncomplete: the rows received differ from SF's count on the
	// first page (every query asks for $inlinecount), so the set changed
	// during the read and rows were likely lost or repeated. Run again.
	KindIncomplete ErrorKind = "incomplete"

	// KindStorage: the store refused or failed a write or read, or was
	// too slow to renew the run's lease in time.
	KindStorage ErrorKind = "storage"

	// KindCancelled: the run was cancelled.
	KindCancelled ErrorKind = "cancelled"

	// KindConfig: the run cannot start as configured (unknown data type,
	// invalid query).
	KindConfig ErrorKind = "config"

	// KindInternal: anything else; the message says what.
	KindInternal ErrorKind = "internal"
)

// RunError is the error of a run that ended failed.
type RunError struct {
	// RunID and DataType name the run.
	RunID, DataType string

	// Kind classifies the failure; it is also in the failed state record.
	Kind ErrorKind

	// Err is the cause.
	Err error
}

// Error names the run, its data type and the kind, then the cause.
func (e *RunError) Error() string {
	return fmt.Sprintf("connector: run %s of %s failed (%s): %v", e.RunID, e.DataType, e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *RunError) Unwrap() error { return e.Err }

// storageError marks a failure of the store.
type storageError struct{ err error }

func (e *storageError) Error() string { return e.err.Error() }
func (e *storageError) Unwrap() error { return e.err }

func storageErr(err error) error {
	if err == nil {
		return nil
	}
	return &storageError{err}
}

// errNotOurs: the run was claimed, taken over or ended by someone else.
var errNotOurs = errors.New("connector: run is not held by this worker")

// errCancelled is the cause when a running run was cancelled.
var errCancelled = errors.New("connector: run cancelled")

// kindOf classifies a run's error.
func kindOf(err error) ErrorKind {
	var (
		se  *storageError
		te  *TransformError
		oe  *odata.Error
		ae  *sfauth.Error
		ce  *CatalogError
		ine *odata.IncompleteError
	)
	switch {
	case errors.Is(err, errCancelled), errors.Is(err, context.Canceled):
		return KindCancelled
	case errors.As(err, &se), errors.Is(err, runstate.ErrConflict), errors.Is(err, staging.ErrInvalidKey),
		errors.Is(err, errLeaseExpired):
		return KindStorage
	case errors.As(err, &te):
		return KindBadData
	case errors.As(err, &ine), errors.Is(err, odata.ErrPossiblyIncomplete):
		return KindIncomplete
	case errors.Is(err, ErrUnknownDataType), errors.As(err, &ce), errors.Is(err, odata.ErrInvalidQuery):
		return KindConfig
	case errors.As(err, &ae):
		switch {
		case errors.Is(err, sfauth.ErrRateLimited):
			return KindThrottled
		case errors.Is(err, sfauth.ErrServer):
			return KindUnavailable
		}
		return KindAuth
	case errors.Is(err, odata.ErrUnsafeLink), errors.Is(err, odata.ErrTooLarge),
		errors.Is(err, odata.ErrLinkLoop), errors.Is(err, odata.ErrEmptyPages), errors.Is(err, odata.ErrInsecure):
		return KindBadResponse
	case errors.As(err, &oe):
		switch {
		case oe.Kind == odata.KindSnapshotLost:
			return KindSnapshotLost
		case oe.Kind == odata.KindAuthExpired, oe.StatusCode == http.StatusUnauthorized,
			oe.StatusCode == http.StatusForbidden:
			return KindAuth
		case oe.StatusCode == http.StatusTooManyRequests:
			return KindThrottled
		case oe.Kind == odata.KindRetryable, oe.StatusCode >= 500:
			return KindUnavailable
		case oe.StatusCode >= 400:
			return KindBadRequest
		}
		return KindBadResponse
	case errors.Is(err, context.DeadlineExceeded):
		return KindUnavailable
	}
	return KindInternal
}
