package staging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/staging"
)

func TestS3OptionsHideSecret(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	o := staging.S3Options{Bucket: "b", AccessKey: "AKIDEXAMPLE", SecretKey: secret}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprint(&o)} {
		if strings.Contains(s, secret) || strings.Contains(s, secret[:10]) {
			t.Errorf("secret key in %q", s)
		}
	}
	st, err := staging.NewS3Store(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v %s", st, st, st); strings.Contains(s, secret[:10]) {
		t.Errorf("secret key in store's description %q", s)
	}
}

func TestS3OptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts staging.S3Options
	}{
		{"no bucket", staging.S3Options{}},
		{"access key alone", staging.S3Options{Bucket: "b", AccessKey: "a"}},
		{"secret key alone", staging.S3Options{Bucket: "b", SecretKey: "s"}},
		{"plain http", staging.S3Options{Bucket: "b", Endpoint: "http://s3.example.net"}},
		{"plain http on loopback without AllowHTTP", staging.S3Options{Bucket: "b", Endpoint: "http://127.0.0.1:9000"}},
		{"plain http elsewhere with AllowHTTP", staging.S3Options{Bucket: "b", Endpoint: "http://10.0.0.1:9000", AllowHTTP: true}},
		{"other scheme", staging.S3Options{Bucket: "b", Endpoint: "ftp://s3.example.net"}},
		{"relative endpoint", staging.S3Options{Bucket: "b", Endpoint: "s3.example.net"}},
		{"credentials in endpoint", staging.S3Options{Bucket: "b", Endpoint: "https://user:hunter2@s3.example.net"}},
		{"unknown SSE", staging.S3Options{Bucket: "b", SSE: "rot13"}},
		{"KMS key without KMS", staging.S3Options{Bucket: "b", SSE: "AES256", KMSKeyID: "k"}},
		{"unknown checksum", staging.S3Options{Bucket: "b", Checksum: "MD4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := staging.NewS3Store(context.Background(), tc.opts)
			switch {
			case err == nil:
				t.Error("accepted")
			case !strings.HasPrefix(err.Error(), "staging: "):
				t.Errorf("error %q lacks the package prefix", err)
			case strings.Contains(err.Error(), "hunter2"):
				t.Errorf("password in error %q", err)
			}
		})
	}
	for _, ep := range []string{"https://s3.example.net", "http://127.0.0.1:9000", "http://[::1]:9000", "http://localhost:9000"} {
		if _, err := staging.NewS3Store(context.Background(), staging.S3Options{Bucket: "b", Endpoint: ep, AllowHTTP: true}); err != nil {
			t.Errorf("endpoint %s refused: %v", ep, err)
		}
	}
}

func TestS3StoreChecksums(t *testing.T) {
	srv := s3test.Shared(t)
	bucket := srv.NewBucket(t)
	for _, sum := range []string{"", "CRC32", "crc32c", "SHA1", "SHA256", "CRC64NVME"} {
		t.Run("checksum "+sum, func(t *testing.T) {
			o := srv.Options(bucket)
			o.Checksum = sum
			s, err := staging.NewS3Store(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			key := "sum/" + strings.ToLower(sum) + "x"
			body := bytes.Repeat([]byte(sum+"-payload "), 5000)
			if _, err := s.Put(t.Context(), key, bytes.NewReader(body), int64(len(body)), staging.Condition{IfAbsent: true}); err != nil {
				t.Fatal(err)
			}
			obj, err := s.Get(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			if !bytes.Equal(got, body) {
				t.Error("content differs")
			}
		})
	}
}

func TestS3StoreWrongSecret(t *testing.T) {
	srv := s3test.Shared(t)
	o := srv.Options("")
	o.SecretKey = "wrong-" + srv.SecretKey
	o.RetryMaxAttempts = 1
	s, err := staging.NewS3Store(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(t.Context(), "any")
	if err == nil || errors.Is(err, staging.ErrNotFound) {
		t.Fatalf("Get with a wrong secret: err = %v, want an access error", err)
	}
	_, perr := s.Put(t.Context(), "any", strings.NewReader("x"), 1, staging.Condition{IfAbsent: true})
	if perr == nil || errors.Is(perr, staging.ErrPrecondition) {
		t.Fatalf("Put with a wrong secret: err = %v, want an access error", perr)
	}
	for _, e := range []error{err, perr} {
		if strings.Contains(e.Error(), srv.SecretKey) || strings.Contains(fmt.Sprintf("%+v", e), srv.SecretKey) {
			t.Errorf("secret key in error %q", e)
		}
	}
}

func TestS3StoreMissingBucket(t *testing.T) {
	srv := s3test.Shared(t)
	s, err := staging.NewS3Store(t.Context(), srv.Options("no-such-bucket-here"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "k"); err == nil || errors.Is(err, staging.ErrNotFound) {
		t.Errorf("Get in a missing bucket: err = %v, want an error other than ErrNotFound", err)
	}
}

// faultyTransport passes requests to the server and, on chosen requests,
// replaces the answer: a 503, or a connection reset after the server
// has acted.
type faultyTransport struct {
	mu       sync.Mutex
	requests int
	fault    func(n int, req *http.Request) string // "", "503" or "reset"
}

func (f *faultyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.requests++
	kind := f.fault(f.requests, req)
	f.mu.Unlock()
	if kind == "503" {
		return &http.Response{
			StatusCode: http.StatusServiceUnavailable,
			Header:     http.Header{"Content-Type": {"application/xml"}},
			Body:       io.NopCloser(strings.NewReader(`<Error><Code>SlowDown</Code><Message>busy</Message></Error>`)),
			Request:    req,
		}, nil
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if kind == "reset" && err == nil {
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

func faultyStore(t *testing.T, srv *s3test.Server, attempts int, fault func(int, *http.Request) string) (*staging.S3Store, *faultyTransport) {
	ft := &faultyTransport{fault: fault}
	o := srv.Options(srv.NewBucket(t))
	o.HTTPClient = &http.Client{Transport: ft}
	o.RetryMaxAttempts = attempts
	s, err := staging.NewS3Store(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s, ft
}

func TestS3StoreRetries(t *testing.T) {
	srv := s3test.Shared(t)
	first503 := func(n int, _ *http.Request) string {
		if n == 1 {
			return "503"
		}
		return ""
	}
	s, ft := faultyStore(t, srv, 3, first503)
	if _, err := s.Put(t.Context(), "k", strings.NewReader("v"), 1, staging.Condition{}); err != nil {
		t.Fatalf("Put after one 503: %v", err)
	}
	if ft.requests != 2 {
		t.Errorf("%d requests, want 2", ft.requests)
	}

	s, ft = faultyStore(t, srv, 1, first503)
	if _, err := s.Put(t.Context(), "k", strings.NewReader("v"), 1, staging.Condition{}); err == nil {
		t.Fatal("Put with retries off succeeded past a 503")
	}
	if ft.requests != 1 {
		t.Errorf("%d requests with RetryMaxAttempts 1, want 1", ft.requests)
	}
}

// TestS3StoreRetriedConditionalPut: the server stores the object but the
// answer is lost; the SDK's retry then meets its own write and gets 412.
// The store sees that the object holds its bytes and reports success.
func TestS3StoreRetriedConditionalPut(t *testing.T) {
	srv := s3test.Shared(t)
	resetFirstPut := func(n int, req *http.Request) string {
		if n == 1 && req.Method == http.MethodPut {
			return "reset"
		}
		return ""
	}
	s, ft := faultyStore(t, srv, 3, resetFirstPut)
	etag, err := s.Put(t.Context(), "state.json", strings.NewReader(`{"v":1}`), -1, staging.Condition{IfAbsent: true})
	if err != nil {
		t.Fatalf("put-if-absent whose answer was lost: %v", err)
	}
	obj, err := s.Get(t.Context(), "state.json")
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if obj.ETag != etag {
		t.Errorf("returned ETag %s, object has %s", etag, obj.ETag)
	}
	if ft.requests < 3 {
		t.Errorf("only %d requests: the fault did not happen", ft.requests)
	}

	// Same for If-Match.
	ft.mu.Lock()
	ft.requests = 0
	ft.mu.Unlock()
	etag2, err := s.Put(t.Context(), "state.json", strings.NewReader(`{"v":2}`), -1, staging.Condition{IfMatch: etag})
	if err != nil {
		t.Fatalf("put-if-match whose answer was lost: %v", err)
	}
	if etag2 == etag {
		t.Error("ETag unchanged")
	}

	// A genuine loss stays a loss.
	_, err = s.Put(t.Context(), "state.json", strings.NewReader(`{"v":3}`), -1, staging.Condition{IfMatch: etag})
	if !errors.Is(err, staging.ErrPrecondition) {
		t.Errorf("stale put-if-match: err = %v, want ErrPrecondition", err)
	}
}

// recordingTransport passes requests on and keeps the headers of each.
type recordingTransport struct {
	mu      sync.Mutex
	headers []http.Header
}

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.headers = append(r.headers, req.Header.Clone())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func TestS3StoreSendsHeaders(t *testing.T) {
	srv := s3test.Shared(t)
	rt := &recordingTransport{}
	o := srv.Options(srv.NewBucket(t))
	o.HTTPClient = &http.Client{Transport: rt}
	o.SSE, o.KMSKeyID, o.Checksum = "aws:kms", "alias/staging", "SHA256"
	s, err := staging.NewS3Store(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	etag, err := s.Put(t.Context(), "h.json", strings.NewReader(`{}`), 2, staging.Condition{IfAbsent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "h.json", strings.NewReader(`{"v":2}`), -1, staging.Condition{IfMatch: etag}); err != nil {
		t.Fatal(err)
	}
	if len(rt.headers) != 2 {
		t.Fatalf("%d requests, want 2", len(rt.headers))
	}
	for i, h := range rt.headers {
		if got := h.Get("X-Amz-Server-Side-Encryption"); got != "aws:kms" {
			t.Errorf("request %d: SSE header %q", i, got)
		}
		if got := h.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"); got != "alias/staging" {
			t.Errorf("request %d: KMS key header %q", i, got)
		}
		if h.Get("X-Amz-Checksum-Sha256") == "" && !strings.Contains(strings.ToLower(h.Get("X-Amz-Trailer")), "x-amz-checksum-sha256") {
			t.Errorf("request %d: no SHA-256 checksum header or trailer: %v", i, h)
		}
	}
	if got := rt.headers[0].Get("If-None-Match"); got != "*" {
		t.Errorf("If-None-Match = %q", got)
	}
	if got := rt.headers[1].Get("If-Match"); got != etag {
		t.Errorf("If-Match = %q, want %q", got, etag)
	}
}
