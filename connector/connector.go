package connector

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

// Options configures a [Connector]. Store, SFServiceURL and SFClient are
// required by [New]; [NewFromTenant] fills them from the tenant config.
// Every other zero value means the default documented beside it.
type Options struct {
	// Catalog is the allowlist of data types; nil means [DefaultCatalog].
	Catalog *Catalog

	// Store holds state records, pages and manifests. With NewFromTenant a
	// nil Store means the tenant's S3 bucket.
	Store staging.Store

	// BasePath is the key prefix of every run ("" is the store's root).
	// With NewFromTenant it comes from S3_base_path.
	BasePath string

	// SFServiceURL is the OData service root, e.g.
	// https://api.example.com/odata/v2.
	SFServiceURL string

	// SFClient sends OData requests and carries the credentials, for
	// example [sfauth.TokenSource.Client]. Its transport is wrapped per
	// run to add the X-SFConnector-Run header.
	SFClient *http.Client

	// HTTPClient is the base client NewFromTenant builds SFClient on, also
	// used for the token endpoint; nil means a client with a 2 minute
	// timeout per request.
	HTTPClient *http.Client

	// OData tunes the OData client (retries, size limits); nil means its
	// defaults. Its Logger and OnRetry are set per run.
	OData *odata.Options

	// AllowInsecureLoopback permits plain http to SF and S3 on a loopback
	// address, for tests. Never needed in production.
	AllowInsecureLoopback bool

	// Queue hands runs to workers; nil means a new [MemoryQueue], or an
	// [S3Queue] over Store when SharedQueue is set.
	Queue Queue

	// SharedQueue, when set and Queue is nil, makes the queue an [S3Queue]
	// over Store and BasePath: workers on every machine that shares the
	// bucket prefix take the runs submitted by any of them.
	SharedQueue *S3QueueOptions

	// Workers is the number of runs [Connector.Start] works at once; 0
	// means 1.
	Workers int

	// WorkerID names this process in state records and request headers;
	// "" means hostname-pid-random.
	WorkerID string

	// Lease is how long a claimed run stays this worker's without a
	// heartbeat; 0 means 2m.
	Lease time.Duration

	// Heartbeat is how often the worker renews the lease of a run it
	// holds; 0 means Lease/4.
	Heartbeat time.Duration

	// PagesInFlight bounds the pages encoded or uploading while the next
	// is fetched; 0 means 2.
	PagesInFlight int

	// Overlap is subtracted from the start of the last done run to make an
	// incremental run's lower bound, so that changes made while that run
	// read are not missed; 0 means 10m. Repeats are harmless.
	Overlap time.Duration

	// Observer receives run events; nil means none.
	Observer Observer

	// Logger receives one record per run event; nil means silent.
	Logger *slog.Logger
}

// Connector submits and runs extractions. It is safe for concurrent use.
type Connector struct {
	opts     Options
	catalog  *Catalog
	layout   staging.Layout
	tracker  *runstate.Tracker
	reader   *runstate.Reader
	queue    Queue
	workerID string
	obs      Observer
	log      *slog.Logger
	encoders chan *staging.PageEncoder // idle page encoders
}

// ErrBadOptions is wrapped by [New]'s error for a missing or invalid
// option.
var ErrBadOptions = errors.New("connector: bad options")

// New returns a connector from parts.
func New(opts Options) (*Connector, error) {
	var missing []string
	if opts.Store == nil {
		missing = append(missing, "Store")
	}
	if opts.SFServiceURL == "" {
		missing = append(missing, "SFServiceURL")
	}
	if opts.SFClient == nil {
		missing = append(missing, "SFClient")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: missing %v", ErrBadOptions, missing)
	}
	if err := staging.CheckBasePath(opts.BasePath); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	// Refuse a bad service URL now rather than in every run.
	if _, err := odata.NewClient(opts.SFServiceURL, opts.SFClient, &odata.Options{AllowInsecureLoopback: opts.AllowInsecureLoopback}); err != nil {
		return nil, fmt.Errorf("%w: SFServiceURL: %w", ErrBadOptions, err)
	}
	if opts.Lease < 0 || opts.Heartbeat < 0 || opts.Workers < 0 || opts.PagesInFlight < 0 || opts.Overlap < 0 {
		return nil, fmt.Errorf("%w: negative duration or count", ErrBadOptions)
	}

	c := &Connector{opts: opts, catalog: opts.Catalog, queue: opts.Queue, obs: opts.Observer, log: opts.Logger}
	if c.catalog == nil {
		c.catalog = DefaultCatalog()
	}
	c.layout = staging.Layout{BasePath: opts.BasePath}
	switch {
	case c.queue != nil:
	case opts.SharedQueue != nil:
		c.queue = NewS3Queue(opts.Store, c.layout, c.catalog.Names(), opts.SharedQueue)
	default:
		c.queue = NewMemoryQueue()
	}
	if c.obs == nil {
		c.obs = nopObserver{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.opts.Lease == 0 {
		c.opts.Lease = 2 * time.Minute
	}
	if c.opts.Heartbeat == 0 {
		c.opts.Heartbeat = c.opts.Lease / 4
	}
	if c.opts.Workers == 0 {
		c.opts.Workers = 1
	}
	if c.opts.PagesInFlight == 0 {
		c.opts.PagesInFlight = 2
	}
	if c.opts.Overlap == 0 {
		c.opts.Overlap = 10 * time.Minute
	}
	c.workerID = opts.WorkerID
	if c.workerID == "" {
		c.workerID = defaultWorkerID()
	}
	c.tracker = runstate.NewTracker(opts.Store, c.layout)
	c.reader = runstate.NewReader(opts.Store, c.layout)
	// A run holds at most PagesInFlight encoders uploading and one
	// filling. They are kept here rather than in a sync.Pool, which drops
	// them every other GC and so makes a new one, about 1 MiB, every few
	// pages.
	c.encoders = make(chan *staging.PageEncoder, c.opts.Workers*(c.opts.PagesInFlight+1))
	return c, nil
}

func defaultWorkerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", truncate(host, 64), os.Getpid(), hex.EncodeToString(b[:]))
}

// NewFromTenant builds a connector from a tenant config and a keystore:
// it resolves the SF credential and S3 keys, makes the SAML bearer token
// source and, unless opts.Store is set, the S3 store (with a store set,
// the tenant's S3 fields are not needed). opts may be nil;
// fields it sets other than those the tenant config provides are kept.
// Nothing is written to the store.
func NewFromTenant(ctx context.Context, cfg *TenantConfig, ks Keystore, opts *Options) (*Connector, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if cfg == nil || ks == nil {
		return nil, fmt.Errorf("%w: nil tenant config or keystore", ErrBadOptions)
	}
	// A store given by the host makes the tenant's S3 fields irrelevant.
	if err := cfg.Validate(ConfigOptions{
		AllowInsecureLoopback: o.AllowInsecureLoopback,
		LocalStaging:          o.Store != nil,
	}); err != nil {
		return nil, err
	}

	cred, err := LoadSFCredential(ctx, ks, cfg.SFCredentialName, cfg.SFAddress)
	if err != nil {
		return nil, err
	}
	base := o.HTTPClient
	if base == nil {
		// SF's gateway gives a heavy page up to 7 minutes before a 504.
		base = &http.Client{Timeout: 10 * time.Minute}
	}
	ts, err := sfauth.NewTokenSource(cred, &sfauth.Options{
		HTTPClient:            base,
		Logger:                o.Logger,
		AllowInsecureLoopback: o.AllowInsecureLoopback,
	})
	if err != nil {
		return nil, fmt.Errorf("connector: SF credential %q: %w", cfg.SFCredentialName, err)
	}
	o.SFClient = ts.Client(base)
	o.SFServiceURL = cfg.serviceURL()
	o.BasePath = cfg.S3BasePath

	if o.Store == nil {
		access, secret, err := s3Keys(ctx, ks, cfg)
		if err != nil {
			return nil, err
		}
		store, err := staging.NewS3Store(ctx, staging.S3Options{
			Bucket:    cfg.S3Bucket,
			Region:    cfg.S3Region,
			Endpoint:  cfg.S3Endpoint,
			AllowHTTP: o.AllowInsecureLoopback,
			PathStyle: cfg.S3Endpoint != "",
			AccessKey: access,
			SecretKey: secret,
		})
		if err != nil {
			return nil, fmt.Errorf("connector: S3 bucket %q: %w", cfg.S3Bucket, err)
		}
		o.Store = store
	}
	return New(o)
}

// Catalog returns the connector's catalog.
func (c *Connector) Catalog() *Catalog { return c.catalog }

// WorkerID returns the id this connector's workers write in state records.
func (c *Connector) WorkerID() string { return c.workerID }

// SubmitOptions qualifies a submitted run. The zero value asks for a full
// run.
type SubmitOptions struct {
	// Incremental asks for the records changed since the start of the
	// last done run of the data type, less [Options.Overlap], up to the
	// start of this run: the data type's modified property within that
	// window. Without a done run, or for a data type without a modified
	// property, the run is full. The state record says which it became
	// (Mode, Since).
	Incremental bool
}

// RunOptions qualifies an inline run; see [SubmitOptions].
type RunOptions = SubmitOptions

// Submit checks dataType against the catalog, writes a queued state
// record, hands the run to the queue and returns its id. An unknown data
// type gets an error wrapping [ErrUnknownDataType] and writes nothing.
func (c *Connector) Submit(ctx context.Context, dataType string) (string, error) {
	return c.SubmitWith(ctx, dataType, SubmitOptions{})
}

// SubmitWith is [Connector.Submit] with options.
func (c *Connector) SubmitWith(ctx context.Context, dataType string, opts SubmitOptions) (string, error) {
	run, err := c.create(ctx, dataType, opts)
	if err != nil {
		return "", err
	}
	id := run.Record.RunID
	if err := c.queue.Enqueue(ctx, dataType, id); err != nil {
		// A queued record nobody will take would mislead the reader.
		c.finish(ctx, run, fmt.Errorf("connector: enqueue: %w", err), nil, time.Now())
		return "", fmt.Errorf("connector: enqueue run %s: %w", id, err)
	}
	c.log.Info("run queued", "run_id", id, "data_type", dataType, "mode", run.Record.Mode)
	return id, nil
}

// create checks dataType and writes the queued record.
func (c *Connector) create(ctx context.Context, dataType string, opts SubmitOptions) (*runstate.Run, error) {
	dt, ok := c.catalog.lookup(dataType)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownDataType, truncate(dataType, 80))
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("connector: run id: %w", err)
	}
	rec := runstate.Record{RunID: id.String(), DataType: dataType, Mode: "full"}
	if opts.Incremental && dt.Modified != "" {
		last, err := c.reader.LatestDone(ctx, dataType)
		switch {
		case err == nil && last.Started != nil:
			since := last.Started.Add(-c.opts.Overlap)
			rec.Mode, rec.Since = "incremental", &since
		case err != nil && !errors.Is(err, runstate.ErrNotFound):
			return nil, storageErr(fmt.Errorf("connector: find the last done run: %w", err))
		}
	}
	run, err := c.tracker.Create(ctx, rec)
	if err != nil {
		return nil, storageErr(err)
	}
	return run, nil
}

// Run submits a run of dataType and works it in the calling goroutine,
// not through the queue, and returns its final record. A run that ends
// failed returns its record and a [*RunError].
func (c *Connector) Run(ctx context.Context, dataType string) (*runstate.Record, error) {
	return c.RunWith(ctx, dataType, RunOptions{})
}

// RunWith is [Connector.Run] with options.
func (c *Connector) RunWith(ctx context.Context, dataType string, opts RunOptions) (*runstate.Record, error) {
	run, err := c.create(ctx, dataType, opts)
	if err != nil {
		return nil, err
	}
	return c.work(ctx, run, true)
}

// Status finds a run by id among the catalog's data types.
func (c *Connector) Status(ctx context.Context, runID string) (*runstate.Record, error) {
	run, err := c.find(ctx, runID)
	if err != nil {
		return nil, err
	}
	return &run.Record, nil
}

func (c *Connector) find(ctx context.Context, runID string) (*runstate.Run, error) {
	if err := staging.CheckRunID(runID); err != nil {
		return nil, fmt.Errorf("%w: %w", runstate.ErrNotFound, err)
	}
	for _, dt := range c.catalog.Names() {
		run, err := c.tracker.Get(ctx, dt, runID)
		if err == nil {
			return run, nil
		}
		if !errors.Is(err, runstate.ErrNotFound) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: %s", runstate.ErrNotFound, runID)
}

// ErrFinished is wrapped by Cancel's error for a run that has ended.
var ErrFinished = errors.New("connector: run has ended")

// Cancel ends a queued or running run as failed with kind "cancelled". A
// worker running it notices at its next heartbeat, which loses the
// compare-and-swap, and stops without writing again.
func (c *Connector) Cancel(ctx context.Context, runID string) error {
	for try := 0; ; try++ {
		run, err := c.find(ctx, runID)
		if err != nil {
			return err
		}
		if run.Record.Status.Final() {
			return fmt.Errorf("%w: %s is %s", ErrFinished, runID, run.Record.Status)
		}
		err = c.tracker.Update(ctx, run, func(r *runstate.Record) {
			r.Status = runstate.Failed
			r.Error = &runstate.ErrorInfo{Kind: string(KindCancelled), Message: "cancelled on request"}
		})
		if err == nil {
			c.log.Info("run cancelled", "run_id", runID, "data_type", run.Record.DataType)
			return nil
		}
		// A heartbeat wrote in between; read again and retry.
		if !errors.Is(err, runstate.ErrConflict) || try >= 10 {
			return err
		}
	}
}

// Start runs [Options.Workers] workers that take runs from the queue
// until ctx ends, then waits for the runs in progress to stop and
// returns. A run cut short this way stays running in its state record
// until its lease expires; then any worker may take it over.
//
// With the in-process queue, Start also looks in the store, at once and
// then every Lease, for runs an earlier process left behind: queued, or
// running with an expired lease. It queues them, so that a restarted
// process finishes what a crashed one began.
func (c *Connector) Start(ctx context.Context) error {
	var wg sync.WaitGroup
	if mq, ok := c.queue.(*MemoryQueue); ok {
		wg.Go(func() { c.recover(ctx, mq) })
	}
	for range c.opts.Workers {
		wg.Go(func() {
			for {
				dataType, runID, err := c.queue.Dequeue(ctx)
				if err != nil {
					if ctx.Err() == nil {
						c.log.Error("dequeue failed", "err", err)
						sleepCtx(ctx, time.Second)
						continue
					}
					return
				}
				c.take(ctx, dataType, runID)
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// recover queues the orphaned runs in the store until ctx ends.
func (c *Connector) recover(ctx context.Context, mq *MemoryQueue) {
	scanner := NewS3Queue(c.opts.Store, c.layout, c.catalog.Names(), &S3QueueOptions{Poll: c.opts.Lease})
	for {
		if _, err := scanner.scan(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("looking for orphaned runs failed", "err", err)
		}
		scanner.mu.Lock()
		found := scanner.pending
		scanner.pending = nil
		scanner.mu.Unlock()
		for _, it := range found {
			c.log.Info("orphaned run queued", "run_id", it.runID, "data_type", it.dataType)
			mq.Enqueue(ctx, it.dataType, it.runID)
		}
		sleepCtx(ctx, c.opts.Lease)
		if ctx.Err() != nil {
			return
		}
	}
}

// take claims and works one run from the queue.
func (c *Connector) take(ctx context.Context, dataType, runID string) {
	log := c.log.With("run_id", runID, "data_type", dataType)
	run, err := c.tracker.Get(ctx, dataType, runID)
	if err != nil {
		log.Warn("run not readable", "err", err)
		return
	}
	if run.Record.Status.Final() {
		return
	}
	if _, err := c.work(ctx, run, false); err != nil && !errors.Is(err, errNotOurs) {
		log.Debug("run ended", "err", err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Environment variables read by the package-level [Run].
const (
	EnvTenantConfig = "SFCONNECTOR_TENANT_CONFIG" // path of the tenant config JSON
	EnvKeystoreDir  = "SFCONNECTOR_KEYSTORE_DIR"  // directory keystore; unset: environment keystore
)

// Run runs one extraction with a connector configured from the
// environment: the tenant config at $SFCONNECTOR_TENANT_CONFIG, secrets
// from the directory $SFCONNECTOR_KEYSTORE_DIR or, when that is unset,
// from SFCONNECTOR_SECRET_* variables (see [EnvKeystore]).
func Run(ctx context.Context, dataType string) (*runstate.Record, error) {
	c, err := FromEnv(ctx, nil)
	if err != nil {
		return nil, err
	}
	return c.Run(ctx, dataType)
}

// FromEnv builds the connector the package-level [Run] uses; opts may be
// nil.
func FromEnv(ctx context.Context, opts *Options) (*Connector, error) {
	path := os.Getenv(EnvTenantConfig)
	if path == "" {
		return nil, fmt.Errorf("connector: %s is not set", EnvTenantConfig)
	}
	var copts ConfigOptions
	if opts != nil {
		copts.AllowInsecureLoopback = opts.AllowInsecureLoopback
	}
	cfg, err := loadTenantConfigFile(path, copts)
	if err != nil {
		return nil, err
	}
	var ks Keystore = EnvKeystore{}
	if dir := os.Getenv(EnvKeystoreDir); dir != "" {
		ks = DirKeystore{Dir: dir}
	}
	return NewFromTenant(ctx, cfg, ks, opts)
}
