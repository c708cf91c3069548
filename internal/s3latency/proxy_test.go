package s3latency_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/techwolf/sfconnector/internal/s3latency"
	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/staging"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// storeVia returns a store on a fresh bucket of the shared server, reached
// through a new proxy. attempts bounds the SDK's attempts per call.
func storeVia(t *testing.T, opts *s3latency.Options, attempts int) (*staging.S3Store, *s3latency.Proxy) {
	t.Helper()
	srv := s3test.Shared(t)
	p := s3latency.ForTest(t, srv.Endpoint, opts)
	o := srv.Options(srv.NewBucket(t))
	o.Endpoint = p.URL()
	o.RetryMaxAttempts = attempts
	st, err := staging.NewS3Store(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return st, p
}

func put(ctx context.Context, st *staging.S3Store, key, body string) error {
	_, err := st.Put(ctx, key, strings.NewReader(body), int64(len(body)), staging.Condition{})
	return err
}

func get(t *testing.T, st *staging.S3Store, key string) string {
	t.Helper()
	obj, err := st.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer obj.Body.Close()
	b, _ := io.ReadAll(obj.Body)
	return string(b)
}

func TestLatencyOnlyForMatchingRequests(t *testing.T) {
	const lat = 150 * time.Millisecond
	st, p := storeVia(t, &s3latency.Options{Latency: lat, Match: s3latency.PagePuts}, 1)
	ctx := t.Context()

	start := time.Now()
	if err := put(ctx, st, "t/users/r1/pages/1/000000.jsonl.gz", "page"); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < lat {
		t.Errorf("page put took %v, want at least %v", took, lat)
	}
	if err := put(ctx, st, "t/users/r1/state.json", "{}"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, st, "t/users/r1/pages/1/000000.jsonl.gz"); got != "page" {
		t.Errorf("page read back as %q", got)
	}

	p.SetLatency(0)
	if err := put(ctx, st, "t/users/r1/pages/1/000001.jsonl.gz", "page"); err != nil {
		t.Fatal(err)
	}

	var waited []string
	for _, r := range p.Requests() {
		if r.Status != http.StatusOK {
			t.Errorf("%s %s: status %d", r.Method, r.Path, r.Status)
		}
		if r.Waited > 0 {
			waited = append(waited, r.Method+" "+r.Path[strings.LastIndex(r.Path, "/")+1:])
		}
	}
	if want := []string{"PUT 000000.jsonl.gz"}; strings.Join(waited, ",") != strings.Join(want, ",") {
		t.Errorf("delayed requests %q, want %q", waited, want)
	}
}

func TestS3Errors(t *testing.T) {
	for _, tc := range []struct {
		kind   s3latency.Kind
		code   string
		status int
	}{
		{s3latency.InternalError, "InternalError", 500},
		{s3latency.SlowDown, "SlowDown", 503},
	} {
		t.Run(tc.code, func(t *testing.T) {
			st, p := storeVia(t, nil, 1)
			ctx := t.Context()
			p.Inject(s3latency.Fault{Kind: tc.kind, Method: "PUT", KeyContains: "/pages/"})

			err := put(ctx, st, "a/pages/x", "one")
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tc.code {
				t.Fatalf("put error %v, want S3 code %s", err, tc.code)
			}
			if _, err := st.Get(ctx, "a/pages/x"); !errors.Is(err, staging.ErrNotFound) {
				t.Errorf("object written despite the fault: %v", err)
			}
			if p.PendingFaults() != 0 {
				t.Errorf("fault not used up")
			}
			if err := put(ctx, st, "a/pages/x", "two"); err != nil {
				t.Fatalf("put after the fault: %v", err)
			}
			reqs := p.Requests()
			if reqs[0].Status != tc.status || reqs[0].Fault != tc.code {
				t.Errorf("first request logged as %+v", reqs[0])
			}
		})
	}
}

func TestRetriedThroughFaults(t *testing.T) {
	st, p := storeVia(t, nil, 3)
	p.Inject(s3latency.Fault{Kind: s3latency.SlowDown, Method: "PUT", After: 1, Times: 2})
	ctx := t.Context()
	for _, key := range []string{"k/1", "k/2"} {
		if err := put(ctx, st, key, key); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	var statuses []int
	for _, r := range p.Requests() {
		statuses = append(statuses, r.Status)
	}
	// The first PUT passes (After: 1); the second fails twice, then lands.
	if want := []int{200, 503, 503, 200}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
}

func TestForwardedFaultWrites(t *testing.T) {
	st, p := storeVia(t, nil, 1)
	p.Inject(s3latency.Fault{Kind: s3latency.InternalError, Forward: true})
	if err := put(t.Context(), st, "lost/answer", "written"); err == nil {
		t.Fatal("put succeeded through the fault")
	}
	if got := get(t, st, "lost/answer"); got != "written" {
		t.Errorf("object %q, want it written by the forwarded request", got)
	}
}

func TestRefuseForAWhile(t *testing.T) {
	st, p := storeVia(t, nil, 1)
	ctx := t.Context()
	if err := put(ctx, st, "warm", "x"); err != nil { // opens a kept-alive connection
		t.Fatal(err)
	}
	const pause = 400 * time.Millisecond
	p.Inject(s3latency.Fault{Kind: s3latency.Refuse, KeyContains: "/refused", For: pause})

	start := time.Now()
	if err := put(ctx, st, "b/refused", "x"); err == nil {
		t.Fatal("put succeeded through a reset")
	}
	addr := strings.TrimPrefix(p.URL(), "http://")
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		if time.Since(start) < pause {
			t.Fatal("connection accepted while refusing")
		}
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial while refusing: %v, want connection refused", err)
	}
	if !p.Refusing() {
		t.Error("Refusing() is false during the pause")
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		err := put(ctx, st, "b/after", "x")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not come back: %v (%v)", err, p.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if took := time.Since(start); took < pause {
		t.Errorf("served again after %v, before the pause of %v ended", took, pause)
	}
}

func TestStartRefusesBadTarget(t *testing.T) {
	for _, target := range []string{"", "127.0.0.1:9000", "ftp://127.0.0.1/"} {
		if p, err := s3latency.Start(target, nil); err == nil {
			p.Close()
			t.Errorf("Start(%q) accepted", target)
		}
	}
}

func TestCloseTwice(t *testing.T) {
	p, err := s3latency.Start("http://127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Refuse(time.Hour)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(p.URL()+"/x", "text/plain", bytes.NewReader(nil))
	if err == nil {
		resp.Body.Close()
		t.Error("closed proxy answered")
	}
}
