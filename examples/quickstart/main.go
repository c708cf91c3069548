// Quickstart runs the whole connector on one machine with nothing to set
// up: it starts the SuccessFactors simulator on loopback over TLS, runs
// every data type of the built-in catalog through the connector (an
// in-process queue and workers), stages the results in a local directory,
// and prints a table of the runs.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -dir /tmp/staged -records 20000
//
// The staged runs follow the layout the ingestion side reads:
// {dir}/{dataType}/{runID}/state.json, pages/ and manifest.json. Read one
// back with examples/ingest:
//
//	go run ./examples/ingest -dir ./quickstart-output -datatype users | head
//
// The exit status is non-zero if any run failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/signal"
	"text/tabwriter"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

func main() {
	dir := flag.String("dir", "quickstart-output", "directory to stage the runs in")
	records := flag.Int("records", 5000, "number of users the simulator holds")
	workers := flag.Int("workers", 4, "runs executed at the same time")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failed, err := run(ctx, os.Stdout, isTerminal(os.Stdout), *dir, *records, *workers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

// run does the whole job and writes progress and the summary to out,
// redrawing live lines when out is a terminal. It returns how many runs
// failed.
func run(ctx context.Context, out io.Writer, terminal bool, dir string, users, workers int) (failed int, err error) {
	// The simulator, served over TLS on a loopback port. Its client trusts
	// the simulator's certificate and nothing else.
	sim := sfsim.New(sfsim.Options{Users: users})
	srv := httptest.NewTLSServer(sim.Handler())
	defer srv.Close()

	// A credential registered with the simulator, turned into an OAuth 2
	// SAML bearer token source, as for a real tenant.
	cred := sim.NewCredential(srv.URL)
	key, cert, err := sfauth.LoadPEM(cred.KeyPEM, cred.CertPEM)
	if err != nil {
		return 0, err
	}
	tokens, err := sfauth.NewTokenSource(sfauth.Credential{
		TokenURL:    cred.TokenURL,
		CompanyID:   cred.CompanyID,
		ClientID:    cred.ClientID,
		UserID:      cred.UserID,
		Key:         key,
		Certificate: cert,
	}, &sfauth.Options{HTTPClient: srv.Client()})
	if err != nil {
		return 0, err
	}

	store, err := staging.NewDirStore(dir)
	if err != nil {
		return 0, err
	}
	defer store.Close()

	names := connector.DefaultCatalog().Names()
	progress := newProgress(out, terminal, names)
	conn, err := connector.New(connector.Options{
		Store:        store,
		SFServiceURL: srv.URL + "/odata/v2",
		SFClient:     tokens.Client(srv.Client()),
		Workers:      workers,
		Observer:     progress,
	})
	if err != nil {
		return 0, err
	}

	workCtx, stopWorkers := context.WithCancel(ctx)
	workersDone := make(chan error, 1)
	go func() { workersDone <- conn.Start(workCtx) }()
	defer func() { stopWorkers(); <-workersDone }()

	start := time.Now()
	ids := make(map[string]string, len(names))
	for _, name := range names {
		id, err := conn.Submit(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("submit %s: %w", name, err)
		}
		ids[name] = id
		progress.queued(name, id)
	}

	stopDrawing := progress.draw(100 * time.Millisecond)
	recs, err := waitAll(ctx, runstate.NewReader(store, staging.Layout{}), ids)
	stopDrawing()
	progress.close()
	if err != nil {
		return 0, err
	}

	fmt.Fprintf(out, "\n%d runs in %.1fs, staged in %s\n\n", len(names), time.Since(start).Seconds(), dir)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DATA TYPE\tRUN ID\tSTATUS\tPAGES\tRECORDS\tSECONDS")
	for _, name := range names {
		rec := recs[name]
		if rec.Status != runstate.Done {
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.2f\n",
			name, rec.RunID, rec.Status, rec.Pages, rec.Records, seconds(rec))
	}
	tw.Flush()
	for _, name := range names {
		if e := recs[name].Error; e != nil {
			fmt.Fprintf(out, "%s failed: %s: %s\n", name, e.Kind, e.Message)
		}
	}
	return failed, nil
}

// waitAll waits until every run is done or failed and returns the final
// records by data type.
func waitAll(ctx context.Context, r *runstate.Reader, ids map[string]string) (map[string]*runstate.Record, error) {
	recs := make(map[string]*runstate.Record, len(ids))
	for name, id := range ids {
		rec, err := r.Wait(ctx, name, id, 50*time.Millisecond)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("wait for %s", name), err)
		}
		recs[name] = rec
	}
	return recs, nil
}

func seconds(rec *runstate.Record) float64 {
	if rec.Started == nil || rec.Finished == nil {
		return 0
	}
	return rec.Finished.Sub(*rec.Started).Seconds()
}
