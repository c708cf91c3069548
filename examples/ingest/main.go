// Ingest is the reading side of the connector: it waits for a run to be
// done and writes its records to stdout as NDJSON, one record a line, the
// way an ingestion job would consume them.
//
// It reads only runs in state done, and only the pages their manifest
// lists; each page is checked against the manifest (size, SHA-256, record
// count) before any of its records is written, so a page left behind by a
// crashed attempt is never read.
//
// Read the newest done run of a data type staged in a local directory:
//
//	go run ./examples/ingest -dir ./staged -datatype users > users.ndjson
//
// Wait for a given run, read from the tenant's bucket:
//
//	go run ./examples/ingest -config tenant.json -keystore ./keystore \
//	    -datatype users -run 0190f5c4-...
//
// Progress and the summary go to stderr. The exit status is non-zero when
// the run failed, did not end within -wait, or a page did not check out.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/techwolf/sfconnector/runstate"
)

func main() {
	var (
		dir      = flag.String("dir", "", "read runs staged in this local directory")
		config   = flag.String("config", "", "tenant config (TenantConfig JSON): read from its bucket, or its base path with -dir")
		keystore = flag.String("keystore", "", "keystore directory holding the S3 keys (with -config)")
		basePath = flag.String("base-path", "", "base path of the runs (default: the tenant config's S3_base_path)")
		dataType = flag.String("datatype", "", "data type to read (required)")
		runID    = flag.String("run", "", "read this run (default: the newest done run)")
		wait     = flag.Duration("wait", 10*time.Minute, "how long to wait for the run to end")
		poll     = flag.Duration("poll", 2*time.Second, "how often to look at the run state")
		insecure = flag.Bool("insecure-loopback", false, "allow a plain-HTTP S3_endpoint on 127.0.0.1")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, source{*dir, *config, *keystore, *basePath, *insecure}, *dataType, *runID, *wait, *poll); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, src source, dataType, runID string, wait, poll time.Duration) error {
	if dataType == "" {
		return errors.New("-datatype is required")
	}
	store, layout, err := src.open(ctx)
	if err != nil {
		return err
	}
	reader := runstate.NewReader(store, layout)

	// -wait bounds the wait for the run, not the reading of its records.
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	rec, err := awaitRun(waitCtx, reader, dataType, runID, poll)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ingest: reading run %s of %s (%d records, %d pages)\n",
		rec.RunID, rec.DataType, rec.Records, rec.Pages)

	out := bufio.NewWriterSize(os.Stdout, 256<<10)
	var n int64
	for record, err := range reader.Records(ctx, rec) {
		if err != nil {
			return err
		}
		out.Write(record)
		if err := out.WriteByte('\n'); err != nil {
			return err // stdout is gone: stop rather than read on
		}
		n++
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if n != rec.Records {
		return fmt.Errorf("run %s: read %d records, its state record says %d", rec.RunID, n, rec.Records)
	}
	fmt.Fprintf(os.Stderr, "ingest: %d records written\n", n)
	return nil
}

// awaitRun waits for run id to end, or with no id for the newest done run
// of dataType to appear.
func awaitRun(ctx context.Context, r *runstate.Reader, dataType, id string, poll time.Duration) (*runstate.Record, error) {
	if id != "" {
		rec, err := r.Wait(ctx, dataType, id, poll)
		if err != nil {
			return nil, err
		}
		if rec.Status != runstate.Done {
			msg := ""
			if rec.Error != nil {
				msg = fmt.Sprintf(": %s: %s", rec.Error.Kind, rec.Error.Message)
			}
			return nil, fmt.Errorf("run %s ended %s%s", id, rec.Status, msg)
		}
		return rec, nil
	}
	for {
		rec, err := r.LatestDone(ctx, dataType)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, runstate.ErrNotFound) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no done run of %s: %w", dataType, context.Cause(ctx))
		case <-time.After(poll):
		}
	}
}
