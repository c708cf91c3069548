package connector

import (
	"time"

	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
)

// Observer receives run events, for progress displays and metrics. Every
// method may be called concurrently, from several runs; an implementation
// must not block for long, as the run waits for it.
type Observer interface {
	// RunStarted: a worker started (or took over) a run.
	RunStarted(e RunEvent)

	// PageWritten: a page of the run is in the store.
	PageWritten(e PageEvent)

	// Retry: an OData request of the run is about to be retried.
	Retry(e RetryEvent)

	// RunFinished: the run ended done or failed.
	RunFinished(e RunEvent)
}

// RunEvent describes a run when a worker starts it and when it ends.
type RunEvent struct {
	// RunID and DataType name the run.
	RunID, DataType string

	// Attempt is the run's attempt number: 1 for the first worker, one
	// more for each takeover of a stale run.
	Attempt int

	// WorkerID is the worker that holds the run.
	WorkerID string

	// Status is running when the run starts, done or failed at its end.
	Status runstate.Status

	// Pages and Records are what the run staged: 0 when it starts, the
	// totals at its end.
	Pages, Records int64

	// Duplicates counts the repeated records dropped.
	Duplicates int64

	// Err is why a failed run failed, nil otherwise.
	Err error

	// Elapsed is the time since the worker started the run.
	Elapsed time.Duration
}

// PageEvent describes one page written to the store.
type PageEvent struct {
	// RunID and DataType name the run.
	RunID, DataType string

	// Seq is the 0-based page number of this pass.
	Seq int

	// Records and Bytes are the page's records, after deduplication, and
	// its stored (compressed) size.
	Records, Bytes int64

	// TotalRecords counts the run's records so far.
	TotalRecords int64

	// Duplicates counts the repeated records dropped from this page.
	Duplicates int64
}

// RetryEvent describes one retried OData request.
type RetryEvent struct {
	// RunID and DataType name the run.
	RunID, DataType string

	// RetryEvent says which request is retried, after what and when.
	odata.RetryEvent
}

// ObserverFuncs is an [Observer] built from functions; a nil function
// ignores its event.
type ObserverFuncs struct {
	// OnRunStarted is called when a worker starts a run.
	OnRunStarted func(RunEvent)

	// OnPageWritten is called when a page is in the store.
	OnPageWritten func(PageEvent)

	// OnRetry is called before an OData request is retried.
	OnRetry func(RetryEvent)

	// OnRunFinished is called when a run ends done or failed.
	OnRunFinished func(RunEvent)
}

// RunStarted calls OnRunStarted.
func (o ObserverFuncs) RunStarted(e RunEvent) {
	if o.OnRunStarted != nil {
		o.OnRunStarted(e)
	}
}

// PageWritten calls OnPageWritten.
func (o ObserverFuncs) PageWritten(e PageEvent) {
	if o.OnPageWritten != nil {
		o.OnPageWritten(e)
	}
}

// Retry calls OnRetry.
func (o ObserverFuncs) Retry(e RetryEvent) {
	if o.OnRetry != nil {
		o.OnRetry(e)
	}
}

// RunFinished calls OnRunFinished.
func (o ObserverFuncs) RunFinished(e RunEvent) {
	if o.OnRunFinished != nil {
		o.OnRunFinished(e)
	}
}

// nopObserver stands in for a nil Options.Observer.
type nopObserver struct{}

func (nopObserver) RunStarted(RunEvent)   {}
func (nopObserver) PageWritten(PageEvent) {}
func (nopObserver) Retry(RetryEvent)      {}
func (nopObserver) RunFinished(RunEvent)  {}
