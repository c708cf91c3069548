// Package connector composes the building blocks into runs.
package connector

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// Observer receives run events; every method may be called concurrently.
type Observer interface {
	RunStarted(e RunEvent)
	PageWritten(e PageEvent)
	Retry(e RetryEvent)
	RunFinished(e RunEvent)
}

type RunEvent struct {
	RunID, DataType string
	Attempt         int
	Status          runstate.Status
	Pages, Records  int64
	Err             error
	Elapsed         time.Duration
}

type PageEvent struct {
	RunID, DataType string
	Seq             int
	Records, Bytes  int64
	TotalRecords    int64
}

type RetryEvent struct {
	RunID, DataType string
	odata.RetryEvent
}

// Options configures a Connector. Store and the SF client are required.
type Options struct {
	Catalog      *Catalog      // nil: DefaultCatalog
	Store        staging.Store // required
	BasePath     string
	SFServiceURL string       // e.g. https://api.example.com/odata/v2
	SFClient     *http.Client // authenticated client (sfauth)
	OData        *odata.Options
	Queue        Queue // nil: in-process queue
	Workers      int   // in-process workers; 0 means 1
	WorkerID     string
	Lease        time.Duration // 0 means 2m
	Heartbeat    time.Duration // 0 means Lease/4
	Observer     Observer
	Logger       *slog.Logger
}

// Queue hands run ids to workers.
type Queue interface {
	Enqueue(ctx context.Context, dataType, runID string) error
	// Dequeue blocks until a run is available or ctx ends.
	Dequeue(ctx context.Context) (dataType, runID string, err error)
}

// Connector submits and runs extractions. Safe for concurrent use.
type Connector struct{}

func New(opts Options) (*Connector, error) { panic("unimplemented") }

// NewFromTenant builds a Connector from a TenantConfig and a Keystore.
func NewFromTenant(ctx context.Context, cfg *TenantConfig, ks Keystore, opts *Options) (*Connector, error) {
	panic("unimplemented")
}

// Submit checks the allowlist, writes a queued record, enqueues it and
// returns the run id.
func (c *Connector) Submit(ctx context.Context, dataType string) (string, error) {
	panic("unimplemented")
}

// Run submits and runs one extraction inline and returns its final record.
func (c *Connector) Run(ctx context.Context, dataType string) (*runstate.Record, error) {
	panic("unimplemented")
}

// Status finds a run by id across the catalog's data types.
func (c *Connector) Status(ctx context.Context, runID string) (*runstate.Record, error) {
	panic("unimplemented")
}

// Cancel ends a queued or running run as failed (kind "cancelled").
func (c *Connector) Cancel(ctx context.Context, runID string) error { panic("unimplemented") }

// Start runs the in-process workers until ctx ends; Shutdown waits for them.
func (c *Connector) Start(ctx context.Context) error { panic("unimplemented") }

// Run runs one extraction with the connector configured from the
// environment (SFCONNECTOR_TENANT_CONFIG, SFCONNECTOR_KEYSTORE_DIR).
func Run(ctx context.Context, dataType string) (*runstate.Record, error) { panic("unimplemented") }
