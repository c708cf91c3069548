// Run performs one run of one data type against a SuccessFactors tenant
// and stages it in the tenant's S3 bucket, or in a local directory with
// -dir. It prints the run id when the run starts, a line per page, and a
// summary at the end.
//
//	go run ./examples/run -config tenant.json -keystore ./keystore -datatype users
//
// tenant.json is a TenantConfig; the keystore directory holds one file per
// secret named in it (the SF credential JSON and the two S3 keys). See
// docs/tenant.md for setting up a tenant. Against the simulator
// (examples/sfsim), trust its certificate with -ca and stage locally:
//
//	go run ./examples/run -config sfsim/tenant.json -keystore sfsim/keystore \
//	    -ca sfsim/ca.pem -dir ./staged -datatype users
//
// With -dir the tenant config needs only SF_address, SF_credential_name
// and S3_base_path (the runs go to -dir/S3_base_path/...); the S3 bucket's
// fields may be left out.
//
// -timeout (default 10m) bounds each request to SuccessFactors, from
// sending it to the end of its body. A heavy page can take SF several
// minutes to serve (its gateway allows up to about 7 before answering
// 504, which is retried with a smaller page), so the default leaves room
// for it. A server that sends no answer within -timeout fails the run
// there and then, without a retry: a silent server costs one -timeout,
// and one that refuses connections fails within seconds, after the OData
// client's retries (at most 5 attempts).
//
// Plain-HTTP addresses are refused, except on a loopback host (localhost,
// 127.0.0.0/8 or ::1) with -insecure-loopback. The exit status is non-zero
// if the run failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"syscall"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/internal/setup"
	"github.com/techwolf/sfconnector/examples/internal/tlsutil"
	"github.com/techwolf/sfconnector/runstate"
)

func main() {
	var (
		config      = flag.String("config", "tenant.json", "tenant config (TenantConfig JSON)")
		keystore    = flag.String("keystore", "", "keystore directory, one file per secret (required)")
		dataType    = flag.String("datatype", "", "data type to run (required); -list shows them")
		list        = flag.Bool("list", false, "list the data types and exit")
		dir         = flag.String("dir", "", "stage in this local directory instead of the bucket")
		ca          = flag.String("ca", "", "extra CA certificate PEM to trust (the simulator's)")
		insecure    = flag.Bool("insecure-loopback", false, "allow plain-HTTP SF and S3 on a loopback host (localhost, 127.0.0.0/8, ::1)")
		incremental = flag.Bool("incremental", false, "only records changed since the last done run")
		timeout     = flag.Duration("timeout", 10*time.Minute, "per-request limit for SF; a request without an answer by then fails the run")
	)
	flag.Parse()

	if *list {
		for _, name := range connector.DefaultCatalog().Names() {
			fmt.Println(name)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, options{*config, *keystore, *dataType, *dir, *ca, *insecure, *incremental, *timeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

type options struct {
	config, keystore, dataType, dir, ca string
	insecureLoopback, incremental       bool
	timeout                             time.Duration // per request; 0 means 10m
}

func run(ctx context.Context, o options) error {
	if o.keystore == "" || o.dataType == "" {
		return errors.New("-keystore and -datatype are required")
	}
	if o.timeout <= 0 {
		o.timeout = 10 * time.Minute
	}
	tenant, err := setup.LoadTenant(o.config, o.insecureLoopback, o.dir != "")
	if err != nil {
		return err
	}
	ks := connector.DirKeystore{Dir: o.keystore}
	client, err := tlsutil.ClientWithCA(o.ca, o.timeout)
	if err != nil {
		return err
	}
	opts := connector.Options{
		HTTPClient:            client,
		AllowInsecureLoopback: o.insecureLoopback,
		Observer:              progress{},
		// Warnings only, such as SF answering with offset-paging links
		// that can skip rows; the observer prints the progress.
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	where := fmt.Sprintf("s3://%s/%s", tenant.S3Bucket, tenant.S3BasePath)
	if o.dir != "" {
		// Without -dir the connector opens the tenant's bucket itself.
		if opts.Store, err = setup.Store(ctx, o.dir, nil, nil, false); err != nil {
			return err
		}
		where = path.Join(o.dir, tenant.S3BasePath)
	}
	conn, err := connector.NewFromTenant(ctx, tenant, ks, &opts)
	if err != nil {
		return err
	}

	rec, err := conn.RunWith(ctx, o.dataType, connector.RunOptions{Incremental: o.incremental})
	if rec == nil {
		return err
	}
	fmt.Printf("\nrun %s of %s: %s\n", rec.RunID, rec.DataType, rec.Status)
	fmt.Printf("  mode      %s\n", rec.Mode)
	fmt.Printf("  pages     %d\n", rec.Pages)
	fmt.Printf("  records   %d\n", rec.Records)
	fmt.Printf("  bytes     %d (gzip)\n", rec.Bytes)
	if rec.Started != nil && rec.Finished != nil {
		fmt.Printf("  seconds   %.2f\n", rec.Finished.Sub(*rec.Started).Seconds())
	}
	fmt.Printf("  staged in %s/%s/%s/\n", where, rec.DataType, rec.RunID)
	if rec.Status != runstate.Done {
		if rec.Error != nil {
			return fmt.Errorf("run failed (%s): %s", rec.Error.Kind, rec.Error.Message)
		}
		return fmt.Errorf("run ended %s: %w", rec.Status, err)
	}
	return nil
}

// progress prints run events to stderr, one line each.
type progress struct{}

func (progress) RunStarted(e connector.RunEvent) {
	fmt.Fprintf(os.Stderr, "run %s of %s started (attempt %d)\n", e.RunID, e.DataType, e.Attempt)
}

func (progress) PageWritten(e connector.PageEvent) {
	fmt.Fprintf(os.Stderr, "  page %d: %d records, %d bytes (%d records so far)\n",
		e.Seq+1, e.Records, e.Bytes, e.TotalRecords)
}

func (progress) Retry(e connector.RetryEvent) {
	why := fmt.Sprintf("status %d", e.Status)
	if e.Err != nil {
		why = e.Err.Error()
	}
	fmt.Fprintf(os.Stderr, "  retry %d after %s, waiting %s\n", e.Attempt, why, e.Wait.Round(time.Millisecond))
}

func (progress) RunFinished(e connector.RunEvent) {
	fmt.Fprintf(os.Stderr, "run %s %s after %.2fs\n", e.RunID, e.Status, e.Elapsed.Seconds())
}
