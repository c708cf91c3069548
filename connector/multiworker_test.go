package connector

import (
	"bytes"
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
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// Environment of a worker process started by TestWorkersShareS3.
const (
	envWorker     = "SFCONNECTOR_TEST_WORKER" // the worker id; set means "be a worker"
	envWorkerCA   = "SFCONNECTOR_TEST_CA"     // PEM of the simulator's TLS certificate
	envWorkerCat  = "SFCONNECTOR_TEST_CATALOG"
	workerLease   = 2 * time.Second
	workerPollDur = 100 * time.Millisecond
)

func TestMain(m *testing.M) {
	if id := os.Getenv(envWorker); id != "" {
		os.Exit(workerMain(id))
	}
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// workerMain is a worker process: the package-level configuration from
// the environment, a shared S3 queue, until SIGTERM.
func workerMain(id string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "worker %s: %v\n", id, err)
		return 1
	}

	caPEM, err := os.ReadFile(os.Getenv(envWorkerCA))
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	f, err := os.Open(os.Getenv(envWorkerCat))
	if err != nil {
		return fail(err)
	}
	cat, err := LoadCatalog(f)
	f.Close()
	if err != nil {
		return fail(err)
	}
	c, err := FromEnv(ctx, &Options{
		Catalog: cat, HTTPClient: hc, AllowInsecureLoopback: true,
		WorkerID: id, Lease: workerLease, SharedQueue: &S3QueueOptions{Poll: workerPollDur},
		OData: fastRetries(),
	})
	if err != nil {
		return fail(err)
	}
	c.Start(ctx)
	return 0
}

func TestWorkersShareS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	s3 := s3test.Shared(t)
	bucket := s3.NewBucket(t)
	env := startSim(t, sfsim.Options{Users: 40, Seed: 11, Latency: 40 * time.Millisecond})
	dir := t.TempDir()

	// The tenant: simulator, real S3 server, secrets in a directory.
	cfg := *env.cfg
	cfg.S3Bucket, cfg.S3Region, cfg.S3Endpoint = bucket, s3.Region, s3.Endpoint
	cfg.S3BasePath = "shared/runs"
	cfgJSON, _ := json.Marshal(cfg)
	writeFile(t, filepath.Join(dir, "tenant.json"), cfgJSON)
	writeFile(t, filepath.Join(env.keystore.Dir, "s3-access"), []byte(s3.AccessKey))
	writeFile(t, filepath.Join(env.keystore.Dir, "s3-secret"), []byte(s3.SecretKey))
	writeFile(t, filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{
		Type: "CERTIFICATE", Bytes: env.srv.Certificate().Raw}))
	cat := smallPages(t, 10)
	catJSON, _ := json.Marshal(cat)
	writeFile(t, filepath.Join(dir, "catalog.json"), catJSON)

	t.Setenv(EnvTenantConfig, filepath.Join(dir, "tenant.json"))
	t.Setenv(EnvKeystoreDir, env.keystore.Dir)
	ctx := context.Background()
	submitter, err := FromEnv(ctx, &Options{
		Catalog: cat, HTTPClient: env.srv.Client(), AllowInsecureLoopback: true,
		SharedQueue: &S3QueueOptions{}, WorkerID: "submitter",
	})
	if err != nil {
		t.Fatal(err)
	}

	types := []string{"users", "job_information", "skills", "education", "job_codes"}
	var ids []string
	idType := map[string]string{}
	for i := range 20 {
		dt := types[i%len(types)]
		id, err := submitter.Submit(ctx, dt)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		idType[id] = dt
	}

	// Three worker processes.
	workers := map[string]*exec.Cmd{}
	logs := map[string]*bytes.Buffer{}
	for _, id := range []string{"w1", "w2", "w3"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envWorker+"="+id,
			envWorkerCA+"="+filepath.Join(dir, "ca.pem"),
			envWorkerCat+"="+filepath.Join(dir, "catalog.json"))
		logs[id] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = logs[id], logs[id]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers[id] = cmd
	}
	t.Cleanup(func() {
		for id, cmd := range workers {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			if t.Failed() {
				t.Logf("worker %s output:\n%s", id, logs[id])
			}
		}
	})

	s3store, err := staging.NewS3Store(ctx, s3.Options(bucket))
	if err != nil {
		t.Fatal(err)
	}
	reader := runstate.NewReader(s3store, staging.Layout{BasePath: cfg.S3BasePath})
	status := func() map[string]*runstate.Record {
		out := map[string]*runstate.Record{}
		for _, id := range ids {
			if rec, err := reader.Get(ctx, idType[id], id); err == nil {
				out[id] = rec
			}
		}
		return out
	}

	// Kill w1 while it holds a run.
	var victim string
	// The victim is a run w1 has started reading from SF and not finished.
	waitFor(t, 20*time.Second, "w1 to read a run", func() bool {
		reqs := env.sim.Requests()
		for i := len(reqs) - 1; i >= 0; i-- {
			id, rest, _ := strings.Cut(reqs[i].RunHeader, "/")
			if !strings.HasSuffix(rest, "/w1") {
				continue
			}
			rec, err := reader.Get(ctx, idType[id], id)
			if err == nil && rec.Status == runstate.Running && rec.WorkerID == "w1" {
				victim = id
				return true
			}
			return false
		}
		return false
	})
	if err := workers["w1"].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()

	var final map[string]*runstate.Record
	waitFor(t, 45*time.Second, "all runs to end", func() bool {
		final = status()
		for _, id := range ids {
			if rec := final[id]; rec == nil || !rec.Status.Final() {
				return false
			}
		}
		return true
	})
	t.Logf("20 runs done %v after the kill", time.Since(killedAt).Round(time.Millisecond))

	for _, id := range ids {
		if rec := final[id]; rec.Status != runstate.Done {
			t.Errorf("run %s (%s) ended %s: %+v", id, idType[id], rec.Status, rec.Error)
		}
	}
	if rec := final[victim]; rec.Attempt < 2 || rec.WorkerID == "w1" {
		t.Errorf("the killed worker's run %s ended attempt %d on %s; want a takeover", victim, rec.Attempt, rec.WorkerID)
	}

	// The simulator's log: no run was read by two workers at once. Each
	// (attempt, worker) of a run must end before the next one starts.
	type span struct {
		who         string
		first, last time.Time
	}
	spans := map[string]map[string]*span{}
	for _, r := range env.sim.Requests() {
		if r.EntitySet == "" {
			continue
		}
		parts := strings.SplitN(r.RunHeader, "/", 3)
		if len(parts) != 3 {
			t.Fatalf("OData request without a run header: %s?%s", r.Path, r.RawQuery)
		}
		run, who := parts[0], parts[1]+"/"+parts[2]
		if spans[run] == nil {
			spans[run] = map[string]*span{}
		}
		s := spans[run][who]
		if s == nil {
			s = &span{who: who, first: r.Time}
			spans[run][who] = s
		}
		s.last = r.Time
	}
	for run, byWho := range spans {
		var list []*span
		for _, s := range byWho {
			list = append(list, s)
		}
		slices.SortFunc(list, func(a, b *span) int { return a.first.Compare(b.first) })
		for i := 1; i < len(list); i++ {
			if !list[i].first.After(list[i-1].last) {
				t.Errorf("run %s: %s read until %s, but %s started at %s", run,
					list[i-1].who, list[i-1].last.Format(time.StampMicro), list[i].who, list[i].first.Format(time.StampMicro))
			}
		}
	}
	if len(spans[victim]) < 2 {
		t.Errorf("run %s was read by %d worker attempts, want the killed one and its successor", victim, len(spans[victim]))
	}

	// No record staged twice in any manifest, and every record there.
	for _, id := range ids {
		rec := final[id]
		d, _ := cat.Lookup(rec.DataType)
		lines := stagedLines(t, s3store, cfg.S3BasePath, rec)
		seen := map[string]bool{}
		for _, l := range lines {
			var m map[string]any
			json.Unmarshal([]byte(l), &m)
			var key []string
			for _, k := range d.Key {
				key = append(key, fmt.Sprint(m[k]))
			}
			k := strings.Join(key, "|")
			if seen[k] {
				t.Errorf("run %s staged %s twice", id, k)
			}
			seen[k] = true
		}
		if want := env.sim.Count(d.EntitySet); len(lines) != want {
			t.Errorf("run %s (%s) staged %d records, the simulator holds %d", id, rec.DataType, len(lines), want)
		}
	}
}
