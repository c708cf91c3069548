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
	RunStarted(e RunEvent)
	PageWritten(e PageEvent)
	Retry(e RetryEvent)
	RunFinished(e RunEvent)
}

// RunEvent describes a run when a worker starts it and when it ends.
type RunEvent struct {
	RunID, DataType string
	Attempt         int
	WorkerID        string
	Status          runstate.Status // running when started; done or failed at the end
	Pages, Records  int64
	Duplicates      int64
	Err             error         // why a failed run failed
	Elapsed         time.Duration // since the worker started the run
}

// PageEvent describes one page written to the store.
type PageEvent struct {
	RunID, DataType string
	Seq             int   // 0-based page number of this pass
	Records, Bytes  int64 // of this page, after deduplication
	TotalRecords    int64 // of the run so far
	Duplicates      int64 // dropped on this page
}

// RetryEvent describes one retried OData request.
type RetryEvent struct {
	RunID, DataType string
	odata.RetryEvent
}

// ObserverFuncs is an [Observer] built from functions; a nil function
// ignores its event.
type ObserverFuncs struct {
	OnRunStarted  func(RunEvent)
	OnPageWritten func(PageEvent)
	OnRetry       func(RetryEvent)
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
