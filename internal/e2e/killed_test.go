package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// envWorker names the file of a workerConfig; set, the test binary is a
// worker process instead of running tests.
const envWorker = "SFCONNECTOR_E2E_WORKER"

// workerConfig is what a worker process needs to join a tenant.
type workerConfig struct {
	Tenant   connector.TenantConfig
	Keystore string
	CAFile   string
	Catalog  json.RawMessage
	S3       s3Place // the keys come from the keystore
	Lease    time.Duration
}

// s3Place says where the tenant's bucket is.
type s3Place struct{ Endpoint, Region, Bucket string }

// workerMain runs connector workers on a shared S3 queue until killed or
// told to stop.
func workerMain(path string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(err)
	}
	var cfg workerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fail(err)
	}
	caPEM, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	ks := connector.DirKeystore{Dir: cfg.Keystore}
	access, err := ks.Secret(ctx, cfg.Tenant.S3AccessKeyAlias)
	if err != nil {
		return fail(err)
	}
	secret, err := ks.Secret(ctx, cfg.Tenant.S3SecretKeyAlias)
	if err != nil {
		return fail(err)
	}
	store, err := staging.NewS3Store(ctx, staging.S3Options{
		Bucket: cfg.S3.Bucket, Region: cfg.S3.Region, Endpoint: cfg.S3.Endpoint,
		AllowHTTP: true, PathStyle: true, AccessKey: string(access), SecretKey: string(secret),
	})
	if err != nil {
		return fail(err)
	}
	cat, err := connector.LoadCatalog(strings.NewReader(string(cfg.Catalog)))
	if err != nil {
		return fail(err)
	}
	q := connector.NewS3Queue(store, staging.Layout{BasePath: cfg.Tenant.S3BasePath}, cat.Names(),
		&connector.S3QueueOptions{Poll: 50 * time.Millisecond})
	c, err := connector.NewFromTenant(ctx, &cfg.Tenant, ks, &connector.Options{
		Store: store, Catalog: cat, HTTPClient: client, Queue: q, WorkerID: "worker-process",
		Lease: cfg.Lease, OData: fastRetries(),
	})
	if err != nil {
		return fail(err)
	}
	if err := c.Start(ctx); err != nil && ctx.Err() == nil {
		return fail(err)
	}
	return 0
}

// killedProcessRow starts a worker process, kills it with SIGKILL while
// it waits for the second page, and lets an in-process worker take the
// run over once the lease has run out. The run must end done, in attempt
// 2, with exactly the simulator's records and a manifest of attempt 2's
// pages only.
func killedProcessRow(t *testing.T) row {
	r := row{fault: "worker process killed (SIGKILL) mid-page"}
	t.Run(r.fault, func(t *testing.T) {
		e := newEnv(t, sfsim.Options{Users: users}, pageSize)
		want := e.expected(t)
		r.expected = len(want)
		e.sim.Inject(sfsim.Fault{EntitySet: entitySet, Page: 1, Kind: sfsim.FaultSlow, Delay: 3 * time.Second})

		dir := t.TempDir()
		caFile := filepath.Join(dir, "ca.pem")
		writeFile(t, caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.sf.Certificate().Raw}))
		catJSON, err := json.Marshal(e.cat)
		if err != nil {
			t.Fatal(err)
		}
		cfgJSON, err := json.Marshal(workerConfig{Tenant: *e.cfg, Keystore: e.ks.Dir, CAFile: caFile,
			Catalog: catJSON, S3: s3Place{e.proxy.URL(), e.s3.Region, e.bucket}, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		cfgFile := filepath.Join(dir, "worker.json")
		writeFile(t, cfgFile, cfgJSON)

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := e.connector(t, connector.Options{})
		runID, err := c.Submit(ctx, dataType)
		if err != nil {
			t.Fatal(err)
		}

		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envWorker+"="+cfgFile)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		defer func() {
			cmd.Process.Kill()
			<-exited
		}()

		pages, err := e.layout().PagesPrefix(dataType, runID, 1)
		if err != nil {
			t.Fatal(err)
		}
		for {
			objs, err := e.direct.List(ctx, pages)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) > 0 {
				break
			}
			select {
			case <-exited:
				t.Fatalf("worker process exited: %v\n%s", waitErr, out.String())
			case <-ctx.Done():
				t.Fatalf("the worker process staged no page\n%s", out.String())
			case <-time.After(10 * time.Millisecond):
			}
		}
		time.Sleep(100 * time.Millisecond) // into the slow second page
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-exited

		left, err := e.reader().Get(ctx, dataType, runID)
		if err != nil {
			t.Fatal(err)
		}
		if left.Status != runstate.Running || left.WorkerID != "worker-process" {
			t.Fatalf("after the kill: %s by %s, want running by worker-process", left.Status, left.WorkerID)
		}

		began := time.Now()
		rec := e.takeOver(t, ctx, runID)
		r.elapsed = time.Since(began)
		r.outcome = string(rec.Status)
		if rec.Error != nil {
			r.kind = rec.Error.Kind
		}
		if rec.Status != runstate.Done || rec.Attempt != 2 {
			t.Fatalf("run ended %s in attempt %d, want done in attempt 2", rec.Status, rec.Attempt)
		}
		got, err := e.staged(t, rec)
		if err != nil {
			t.Fatal(err)
		}
		r.staged = len(got)
		r.missing, r.duplicates = compare(got, want)
		if r.missing != 0 || r.duplicates != 0 {
			t.Errorf("staged %d records, %d missing, %d extra; want %d", len(got), r.missing, r.duplicates, len(want))
		}
		for _, p := range readManifest(t, e, rec.Manifest).Pages {
			if !strings.Contains(p.Key, "/pages/2/") {
				t.Errorf("manifest lists %s, a page of another attempt", p.Key)
			}
		}
		e.checkNoLeaks(t, runID)
	})
	return r
}
