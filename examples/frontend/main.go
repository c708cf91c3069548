// Frontend is an HTTPS service in front of connector.Submit: the part of
// the connector that a caller such as an ingestion platform talks to.
//
// Every /v1 call needs a bearer token from an OAuth 2 client-credentials
// issuer; the token's signature is checked against the issuer's JWKS, and
// its issuer, audience, lifetime and scope against the flags.
//
//	POST /v1/runs        {"dataType":"users"} → 202, run id and Location
//	GET  /v1/runs/{id}   the run's state record
//	GET  /v1/datatypes   the data types that may be requested
//	GET  /healthz        liveness, no token needed
//
// Runs are executed by in-process workers (-workers) and staged in the
// tenant's bucket, or in a local directory with -dir. With -s3-queue the
// queued state records in the bucket are the queue, so workers on other
// machines may take the runs and a restarted frontend resumes them.
//
// The tokens come from an OAuth 2 client-credentials issuer that the
// caller and the frontend both trust: -issuer is its exact "iss" value,
// -audience and -scope what its tokens must carry, and -jwks-url where its
// signing keys are (found through OpenID discovery when left out). For
// trying it out, examples/sfsim runs a development issuer beside the
// simulator and prints this command and the curl commands that get a
// token and POST a run:
//
//	go run ./examples/sfsim
//	go run ./examples/frontend -self-signed -cert frontend.pem \
//	    -config sfsim/tenant.json -keystore sfsim/keystore -ca sfsim/ca.pem \
//	    -dir ./staged -issuer https://127.0.0.1:8444/issuer \
//	    -audience sfconnector -scope sfconnector.runs \
//	    -jwks-url https://127.0.0.1:8444/issuer/jwks.json
//
// A POST needs Content-Type: application/json; -self-signed writes the
// certificate to -cert for the client to trust (curl --cacert
// frontend.pem).
//
// -ca adds a CA certificate to trust for SuccessFactors, S3 and the
// issuer; give it more than once, or a comma-separated list, when they
// have different private CAs. -timeout (default 10m) bounds each request
// to SuccessFactors; a request without an answer by then fails its run
// without a retry (see examples/run). With -dir the tenant config needs
// only the SF fields and S3_base_path.
//
// On SIGINT or SIGTERM the service stops accepting connections, finishes
// the requests in flight (for up to -shutdown-grace) and then stops its
// workers. No accepted run is lost, because the store, not memory, holds
// the queue of record: a run's queued state record is written before the
// 202 goes out. Runs still queued at shutdown stay queued; the next start
// on the same store picks them up (the in-process queue looks for them at
// start and then every -lease), and with -s3-queue so does any worker
// sharing the bucket. A run cut off mid-way stays running until its lease
// ends, and is then taken over as a new attempt.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
	"github.com/techwolf/sfconnector/examples/internal/setup"
	"github.com/techwolf/sfconnector/examples/internal/tlsutil"
	"github.com/techwolf/sfconnector/staging"
)

type config struct {
	addr             string
	cert, key        string
	selfSigned       bool
	tenant, keystore string
	dir              string
	s3Queue          bool
	workers          int
	lease            time.Duration
	issuer           string
	audience, scope  string
	jwksURL          string
	ca               tlsutil.CAFiles
	timeout          time.Duration
	insecureLoopback bool
	shutdownGrace    time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:8443", "listen address")
	flag.StringVar(&cfg.cert, "cert", "", "TLS certificate PEM file (with -self-signed: where the generated certificate is written)")
	flag.StringVar(&cfg.key, "key", "", "TLS private key PEM file")
	flag.BoolVar(&cfg.selfSigned, "self-signed", false, "generate a self-signed certificate for local use")
	flag.StringVar(&cfg.tenant, "config", "tenant.json", "tenant config (TenantConfig JSON)")
	flag.StringVar(&cfg.keystore, "keystore", "", "keystore directory (one file per secret)")
	flag.StringVar(&cfg.dir, "dir", "", "stage runs in this local directory instead of the S3 bucket")
	flag.BoolVar(&cfg.s3Queue, "s3-queue", false, "use the queued state records in the bucket as the queue")
	flag.IntVar(&cfg.workers, "workers", 2, "in-process workers")
	flag.DurationVar(&cfg.lease, "lease", 2*time.Minute, "how long a run stays a worker's without a heartbeat")
	flag.StringVar(&cfg.issuer, "issuer", "", "token issuer (exact \"iss\" value)")
	flag.StringVar(&cfg.audience, "audience", "", "audience the tokens must be for")
	flag.StringVar(&cfg.scope, "scope", "sfconnector.runs", "scope the tokens must carry")
	flag.StringVar(&cfg.jwksURL, "jwks-url", "", "issuer's JWKS URL (default: from the issuer's OpenID discovery document)")
	flag.Var(&cfg.ca, "ca", "extra CA certificate PEM to trust for SuccessFactors, S3 and the issuer; repeat it or give a comma list for several")
	flag.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "per-request limit for SuccessFactors; a request without an answer by then fails the run")
	flag.BoolVar(&cfg.insecureLoopback, "insecure-loopback", false, "allow plain-HTTP SuccessFactors and S3 on a loopback host (localhost, 127.0.0.0/8, ::1)")
	flag.DurationVar(&cfg.shutdownGrace, "shutdown-grace", 30*time.Second, "time to finish requests, then to stop the workers, on shutdown")
	flag.Parse()

	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(cfg, log); err != nil {
		log.Error("frontend stopped", "err", err)
		os.Exit(1)
	}
}

func run(cfg config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := cfg.check(); err != nil {
		return err
	}
	tlsCfg, err := serverTLS(cfg, log)
	if err != nil {
		return err
	}
	// Both clients trust -ca besides the system roots: the issuer's key
	// set is small and quick, an SF page may take a while.
	jwksClient, err := tlsutil.ClientWithCAs(cfg.ca, 10*time.Second)
	if err != nil {
		return err
	}
	sfClient, err := tlsutil.ClientWithCAs(cfg.ca, cfg.timeout)
	if err != nil {
		return err
	}
	validator, err := newValidator(cfg, jwksClient)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}

	// The workers get their own context so that they outlive the signal
	// until the HTTP side has drained.
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	conn, names, err := newConnector(workCtx, cfg, sfClient, log)
	if err != nil {
		ln.Close()
		return err
	}
	workersDone := make(chan error, 1)
	go func() { workersDone <- conn.Start(workCtx) }()
	srv := &http.Server{
		Handler:           newHandler(conn, names, validator, log),
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(ln, "", "") }()
	log.Info("listening", "addr", "https://"+ln.Addr().String(), "dataTypes", len(names))

	select {
	case err := <-served:
		return err
	case err := <-workersDone:
		return fmt.Errorf("workers stopped: %w", err)
	case <-ctx.Done():
	}

	log.Info("shutting down: draining requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("requests still open at the end of the grace period", "err", err)
	}
	stopWork()
	select {
	case err := <-workersDone:
		if err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("workers", "err", err)
		}
	case <-shutCtx.Done():
		log.Warn("workers did not stop within the grace period")
	}
	log.Info("stopped")
	return nil
}

func (cfg config) check() error {
	var problems []string
	if cfg.issuer == "" {
		problems = append(problems, "-issuer is required")
	}
	if cfg.audience == "" {
		problems = append(problems, "-audience is required")
	}
	if !cfg.selfSigned && (cfg.cert == "" || cfg.key == "") {
		problems = append(problems, "-cert and -key are required (or -self-signed)")
	}
	if cfg.selfSigned && cfg.key != "" {
		problems = append(problems, "-key makes no sense with -self-signed")
	}
	if cfg.selfSigned && !tlsutil.IsLoopback(cfg.addr) {
		problems = append(problems, "-self-signed is for loopback addresses only")
	}
	if cfg.keystore == "" {
		problems = append(problems, "-keystore is required")
	}
	if cfg.workers < 1 {
		problems = append(problems, "-workers must be at least 1")
	}
	if cfg.timeout <= 0 {
		problems = append(problems, "-timeout must be positive")
	}
	if cfg.lease < time.Second {
		problems = append(problems, "-lease must be at least 1s")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// serverTLS loads the certificate pair, or makes a self-signed one and
// writes its certificate where clients can pick it up.
func serverTLS(cfg config, log *slog.Logger) (*tls.Config, error) {
	var cert tls.Certificate
	if cfg.selfSigned {
		c, certPEM, err := tlsutil.SelfSigned("sfconnector frontend")
		if err != nil {
			return nil, err
		}
		path := cfg.cert
		if path == "" {
			path = "frontend-cert.pem"
		}
		if err := os.WriteFile(path, certPEM, 0o644); err != nil {
			return nil, err
		}
		log.Info("self-signed certificate written; trust it in clients", "cert", path)
		cert = c
	} else {
		c, err := tls.LoadX509KeyPair(cfg.cert, cfg.key)
		if err != nil {
			return nil, err
		}
		cert = c
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func newValidator(cfg config, client *http.Client) (*auth.Validator, error) {
	jwksURL := cfg.jwksURL
	if jwksURL == "" {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		u, err := auth.DiscoverJWKS(ctx, client, cfg.issuer)
		if err != nil {
			return nil, fmt.Errorf("%w (or give -jwks-url)", err)
		}
		jwksURL = u
	}
	keys, err := auth.NewKeySet(jwksURL, &auth.KeySetOptions{HTTPClient: client})
	if err != nil {
		return nil, err
	}
	return auth.NewValidator(auth.Config{
		Issuer: cfg.issuer, Audience: cfg.audience, Scope: cfg.scope, Keys: keys,
	})
}

// newConnector builds the connector from the tenant config and keystore,
// staging in -dir or the tenant's bucket.
func newConnector(ctx context.Context, cfg config, client *http.Client, log *slog.Logger) (*connector.Connector, []string, error) {
	tenant, err := setup.LoadTenant(cfg.tenant, cfg.insecureLoopback, cfg.dir != "")
	if err != nil {
		return nil, nil, err
	}
	ks := connector.DirKeystore{Dir: cfg.keystore}
	store, err := setup.Store(ctx, cfg.dir, tenant, ks, cfg.insecureLoopback)
	if err != nil {
		return nil, nil, err
	}
	names := connector.DefaultCatalog().Names()
	opts := connector.Options{
		Store:                 store,
		HTTPClient:            client,
		AllowInsecureLoopback: cfg.insecureLoopback,
		Workers:               cfg.workers,
		Lease:                 cfg.lease,
		Logger:                log,
	}
	if cfg.s3Queue {
		layout := staging.Layout{BasePath: tenant.S3BasePath}
		opts.Queue = connector.NewS3Queue(store, layout, names, nil)
	}
	conn, err := connector.NewFromTenant(ctx, tenant, ks, &opts)
	if err != nil {
		return nil, nil, err
	}
	return conn, names, nil
}
