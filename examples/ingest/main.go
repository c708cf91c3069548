// Ingest is the reading side of the connector: it waits for a run to be
// done and writes its records to stdout as NDJSON, one record a line, the
// way an ingestion job would consume them.
//
// It reads only runs in state done, and only the pages their manifest
// lists; each page is checked against the manifest (size, SHA-256, record
// count) before any of its records is written, so a page left behind by a
// crashed attempt is never read.
//
// Read the newest done run of users that examples/quickstart staged in
// its output directory (base path ""):
//
//	go run ./examples/ingest -dir ./quickstart-output -datatype users > users.ndjson
//
// Runs are staged under the tenant's S3_base_path, also in a local
// directory; the tenant that examples/sfsim writes has base path "sfsim",
// so read what examples/run staged in ./staged from it with
//
//	go run ./examples/ingest -dir ./staged -base-path sfsim -datatype users > users.ndjson
//
// or, taking the base path from the tenant config,
//
//	go run ./examples/ingest -dir ./staged -config sfsim/tenant.json -datatype users
//
// Wait for a given run, read from the tenant's bucket:
//
//	go run ./examples/ingest -config tenant.json -keystore ./keystore \
//	    -datatype users -run 0190f5c4-...
//
// Without -run it waits (up to -wait) for a run of the data type that is
// queued or running to be done; when there is no such run, and no done
// one, it fails at once, naming the base paths and data types it does
// find in the store.
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
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
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
		insecure = flag.Bool("insecure-loopback", false, "allow a plain-HTTP S3_endpoint on a loopback host (localhost, 127.0.0.0/8, ::1)")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Asking for SIGPIPE turns a write to a closed stdout (ingest ... |
	// head) into an EPIPE error, which run treats as the reader having
	// had enough, instead of the signal ending the program.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
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
	if errors.Is(err, errNoRuns) {
		return noRunsError(ctx, store, layout, src.where(), dataType)
	}
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
			return quietEPIPE(err) // stdout is gone: stop rather than read on
		}
		n++
	}
	if err := out.Flush(); err != nil {
		return quietEPIPE(err)
	}
	if n != rec.Records {
		return fmt.Errorf("run %s: read %d records, its state record says %d", rec.RunID, n, rec.Records)
	}
	fmt.Fprintf(os.Stderr, "ingest: %d records written\n", n)
	return nil
}

// quietEPIPE drops a broken-pipe error: whoever reads stdout stopped
// reading, which is not a failure of ingest.
func quietEPIPE(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// errNoRuns says there is no done run of a data type, and none queued or
// running that could become one.
var errNoRuns = errors.New("no runs to wait for")

// awaitRun waits for run id to end, or with no id for the newest done run
// of dataType to appear. Without an id it fails with errNoRuns when no run
// of dataType is done, queued or running: waiting would be in vain.
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
		runs, err := r.List(ctx, dataType)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(runs, func(rec runstate.Record) bool {
			return rec.Status == runstate.Queued || rec.Status == runstate.Running
		}) {
			return nil, errNoRuns
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no done run of %s: %w", dataType, context.Cause(ctx))
		case <-time.After(poll):
		}
	}
}

// noRunsError explains that there is nothing to wait for, with a hint
// listing the base paths and data types that the store does hold runs of.
func noRunsError(ctx context.Context, store staging.Store, layout staging.Layout, where, dataType string) error {
	msg := fmt.Sprintf("no runs of %s under base path %q in %s", dataType, layout.BasePath, where)
	if runs, err := runstate.NewReader(store, layout).List(ctx, dataType); err == nil && len(runs) > 0 {
		// Runs exist, but all failed.
		return fmt.Errorf("no done run of %s under base path %q in %s: its %d runs failed (newest %s)",
			dataType, layout.BasePath, where, len(runs), runs[0].RunID)
	}
	objs, err := store.List(ctx, "")
	if err != nil {
		return errors.New(msg)
	}
	var found, hint []string
	for _, o := range objs {
		base, dt, ok := runOf(o.Key)
		if !ok {
			continue
		}
		found = append(found, strings.TrimPrefix(base+"/"+dt, "/"))
		if dt == dataType && base != layout.BasePath {
			if base == "" {
				base = `""`
			}
			hint = append(hint, "-base-path "+base)
		}
	}
	found, hint = compactSorted(found), compactSorted(hint)
	switch {
	case len(found) == 0:
		msg += "; the store holds no runs at all"
	default:
		msg += "; found: " + strings.Join(found, ", ")
		if len(hint) > 0 {
			msg += " — try " + strings.Join(hint, " or ")
		}
	}
	return errors.New(msg)
}

// runOf reads the base path and data type from the key of a state record,
// {base}/{dataType}/{runID}/state.json.
func runOf(key string) (base, dataType string, ok bool) {
	parts := strings.Split(key, "/")
	n := len(parts)
	if n < 3 || parts[n-1] != "state.json" || staging.CheckRunID(parts[n-2]) != nil {
		return "", "", false
	}
	return strings.Join(parts[:n-3], "/"), parts[n-3], true
}

func compactSorted(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
