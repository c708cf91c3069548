package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/examples/frontend/internal/auth"
	"github.com/techwolf/sfconnector/examples/internal/authtest"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

// soakRuns is the number of run requests of TestSoak: 10,000 from 50
// clients, fewer under -short and the race detector so that the test stays
// well within a minute.
func soakRuns() int {
	if n, err := strconv.Atoi(os.Getenv("SFCONNECTOR_SOAK_RUNS")); err == nil && n > 0 {
		return n
	}
	switch {
	case testing.Short():
		return 500
	case raceEnabled:
		return 2000
	}
	return 10000
}

const soakClients = 50

// warmupRuns are submitted all at once before the base line is taken.
const warmupRuns = 200

// TestSoak sends run requests to the frontend on loopback from many
// clients at once. The connector behind it is real: its workers read
// each run from the simulator over TLS and stage it in a directory. Some
// requests are bad on purpose (a forged token, an unknown data type); they
// must get exactly their refusal and nothing else fails. Every accepted
// run must end done, and when the load is over the goroutines and the
// heap must be back where they were.
func TestSoak(t *testing.T) {
	runs := soakRuns()
	sim := sfsim.New(sfsim.Options{Users: 5})
	simSrv := httptest.NewTLSServer(sim.Handler())
	defer simSrv.Close()
	cred := sim.NewCredential(simSrv.URL)
	key, cert, err := sfauth.LoadPEM(cred.KeyPEM, cred.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := sfauth.NewTokenSource(sfauth.Credential{
		TokenURL: cred.TokenURL, CompanyID: cred.CompanyID,
		ClientID: cred.ClientID, UserID: cred.UserID, Key: key, Certificate: cert,
	}, &sfauth.Options{HTTPClient: simSrv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	store, err := staging.NewDirStore(memDir(t))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	var finished, failed atomic.Int64
	conn, err := connector.New(connector.Options{
		Store: store, SFServiceURL: simSrv.URL + "/odata/v2", SFClient: ts.Client(simSrv.Client()),
		Workers: 8,
		Observer: connector.ObserverFuncs{OnRunFinished: func(e connector.RunEvent) {
			finished.Add(1)
			if e.Status != runstate.Done {
				failed.Add(1)
			}
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	workDone := make(chan error, 1)
	go func() { workDone <- conn.Start(workCtx) }()

	iss, err := authtest.NewIssuer(testAudience, testScope)
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	keys, err := auth.NewKeySet(iss.JWKSURL(), &auth.KeySetOptions{HTTPClient: iss.Client()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewValidator(auth.Config{Issuer: iss.Issuer(), Audience: testAudience, Scope: testScope, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewUnstartedServer(newHandler(conn, conn.Catalog().Names(), v,
		slog.New(slog.DiscardHandler)))
	front.EnableHTTP2 = false
	front.StartTLS()
	defer front.Close()
	good := iss.SignRS256(iss.Claims())
	forged := good[:len(good)-6] + "AAAAAA"

	client := front.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = soakClients
	post := func(token, body string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodPost, front.URL+"/v1/runs", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var ans struct {
			RunID string `json:"runId"`
			Error string `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
			return resp.StatusCode, "", err
		}
		if resp.StatusCode == http.StatusAccepted {
			return resp.StatusCode, ans.RunID, nil
		}
		return resp.StatusCode, ans.Error, nil
	}

	getStatus := func(id string) (runstate.Status, error) {
		req, _ := http.NewRequest(http.MethodGet, front.URL+"/v1/runs/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+good)
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var rec struct {
			RunID  string          `json:"runId"`
			Status runstate.Status `json:"status"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusOK || rec.RunID != id {
			return "", fmt.Errorf("%d, run %q", resp.StatusCode, rec.RunID)
		}
		return rec.Status, nil
	}

	// Warm up (connections, key set, render cache, and the idle page
	// encoders the workers keep, which only fill when every worker is busy
	// at once), then take the base line.
	var warm errgroup.Group
	for range warmupRuns {
		warm.Go(func() error {
			if status, _, err := post(good, `{"dataType":"users"}`); err != nil || status != http.StatusAccepted {
				return fmt.Errorf("warm-up: %d %v", status, err)
			}
			return nil
		})
	}
	if err := warm.Wait(); err != nil {
		t.Fatal(err)
	}
	waitFinished(t, &finished, warmupRuns, 30*time.Second)
	sim.ResetRequests()
	goroutines, heap := settle(client)

	// Request i is bad when i%97 == 0 (forged token) or i%89 == 0 (an
	// unknown data type); the rest must be accepted.
	type outcome struct {
		status  int
		answer  string
		latency time.Duration
		err     error
	}
	results := make([]outcome, runs)
	var polls atomic.Int64
	pollErrs := make(chan error, runs)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range soakClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= runs {
					return
				}
				token, body := good, `{"dataType":"users"}`
				switch {
				case i%97 == 0:
					token = forged
				case i%89 == 0:
					body = `{"dataType":"../users"}`
				}
				began := time.Now()
				status, answer, err := post(token, body)
				results[i] = outcome{status, answer, time.Since(began), err}
				// One accepted run in ten is looked up at once, while the
				// workers are busy: it exists, in a state on its way.
				if err == nil && status == http.StatusAccepted && i%10 == 1 {
					polls.Add(1)
					if st, err := getStatus(answer); err != nil {
						pollErrs <- fmt.Errorf("GET run %s: %v", answer, err)
					} else if st != runstate.Queued && st != runstate.Running && st != runstate.Done {
						pollErrs <- fmt.Errorf("GET run %s: status %q", answer, st)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(pollErrs)
	for err := range pollErrs {
		t.Error(err)
	}

	var accepted []string
	var latencies []time.Duration
	refused := map[string]int{}
	for i, r := range results {
		latencies = append(latencies, r.latency)
		want := http.StatusAccepted
		switch {
		case i%97 == 0:
			want = http.StatusUnauthorized
		case i%89 == 0:
			want = http.StatusBadRequest
		}
		if r.err != nil || r.status != want {
			t.Errorf("request %d: %d %q %v, want %d", i, r.status, r.answer, r.err, want)
			continue
		}
		if r.status == http.StatusAccepted {
			accepted = append(accepted, r.answer)
		} else {
			refused[r.answer]++
		}
	}
	slices.Sort(latencies)
	p50, p99 := latencies[len(latencies)/2], latencies[len(latencies)*99/100]
	t.Logf("%d run requests (and %d status lookups) from %d clients in %v: %.0f run requests/s, "+
		"latency p50 %v, p99 %v, max %v; refused %v",
		runs, polls.Load(), soakClients, elapsed.Round(time.Millisecond), float64(runs)/elapsed.Seconds(),
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond), refused)

	// Every accepted run reaches a final state: done.
	waitFinished(t, &finished, int64(warmupRuns+len(accepted)), 45*time.Second)
	runsDone := time.Since(start)
	if n := failed.Load(); n != 0 {
		t.Errorf("%d runs failed", n)
	}
	recs, err := runstate.NewReader(store, staging.Layout{}).List(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]runstate.Status{}
	for _, r := range recs {
		status[r.RunID] = r.Status
	}
	for _, id := range accepted {
		if status[id] != runstate.Done {
			t.Errorf("run %s is %q", id, status[id])
		}
	}
	if len(recs) != warmupRuns+len(accepted) {
		t.Errorf("%d state records, want %d", len(recs), warmupRuns+len(accepted))
	}
	t.Logf("all %d accepted runs done %v after the first request (%.0f runs/s)",
		len(accepted), runsDone.Round(time.Millisecond), float64(len(accepted))/runsDone.Seconds())

	// Nothing is left behind: the goroutines and the heap come back. The
	// simulator's request log is the one thing that grows per run.
	sim.ResetRequests()
	goroutinesAfter, heapAfter := settle(client)
	t.Logf("goroutines %d → %d, heap %.1f MiB → %.1f MiB",
		goroutines, goroutinesAfter, float64(heap)/(1<<20), float64(heapAfter)/(1<<20))
	if goroutinesAfter > goroutines+5 {
		t.Errorf("goroutines grew from %d to %d", goroutines, goroutinesAfter)
	}
	// Allow for the allocator and caches that fill once, not for anything
	// kept per run: 10,000 runs keeping half a kilobyte each fail it.
	if limit := heap + 4<<20; heapAfter > limit {
		t.Errorf("heap grew from %d to %d bytes", heap, heapAfter)
	}

	stopWork()
	if err := <-workDone; err != nil && err != context.Canceled {
		t.Errorf("workers: %v", err)
	}
}

// memDir returns a fresh directory in memory when the machine has
// /dev/shm, so that the soak measures the frontend and the connector, not
// the disk's fsync; elsewhere a temporary directory.
func memDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/dev/shm", "sfconnector-soak-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// waitFinished waits until n runs have finished.
func waitFinished(t *testing.T, finished *atomic.Int64, n int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for finished.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d runs finished within %v", finished.Load(), n, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle closes idle connections, lets goroutines end, collects garbage,
// and returns the goroutine count and live heap.
func settle(c *http.Client) (int, uint64) {
	c.CloseIdleConnections()
	var n int
	for range 50 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			break
		} else {
			n = m
		}
	}
	// The workers keep scanning the store for orphaned runs while this
	// measures, and a scan's garbage can land between a collection and
	// the reading; what is really kept shows in every reading, so take
	// the least of a few.
	var least uint64
	for i := range 5 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if i == 0 || ms.HeapAlloc < least {
			least = ms.HeapAlloc
		}
		time.Sleep(10 * time.Millisecond)
	}
	return n, least
}
