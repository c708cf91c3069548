package s3test_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/techwolf/sfconnector/internal/s3test"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

func TestStartServesAndStops(t *testing.T) {
	var srv *s3test.Server
	t.Run("inner", func(t *testing.T) {
		srv = s3test.Start(t)
		ctx := t.Context()
		c := srv.Client()
		_, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(srv.Bucket), Key: aws.String("a/b"), Body: bytes.NewReader([]byte("hi")),
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(srv.Bucket), Key: aws.String("a/b")})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		if string(got) != "hi" {
			t.Errorf("got %q", got)
		}
		if !strings.HasPrefix(srv.Endpoint, "http://127.0.0.1:") {
			t.Errorf("endpoint %q not on loopback", srv.Endpoint)
		}
		if strings.Contains(srv.Output(), srv.SecretKey) {
			t.Error("the server printed the secret key")
		}
	})
	if srv == nil {
		return // skipped
	}
	// The cleanup of the inner test stopped the server.
	client := &http.Client{Timeout: time.Second}
	if resp, err := client.Get(srv.Endpoint + "/"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after the test ended")
	}
	srv.Stop() // a second Stop is harmless
}

func TestSharedIsShared(t *testing.T) {
	a := s3test.Shared(t)
	b := s3test.Shared(t)
	if a != b {
		t.Fatal("Shared started two servers")
	}
	b1, b2 := a.NewBucket(t), a.NewBucket(t)
	if b1 == b2 || b1 == a.Bucket {
		t.Errorf("buckets not fresh: %q %q %q", a.Bucket, b1, b2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := a.Client().ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Buckets) < 3 {
		t.Errorf("%d buckets, want at least 3", len(out.Buckets))
	}
}

func TestBinaryOverride(t *testing.T) {
	t.Setenv("VERSITYGW", "/nonexistent/versitygw")
	p, err := s3test.Binary()
	if err != nil || p != "/nonexistent/versitygw" {
		t.Errorf("Binary() = %q, %v", p, err)
	}
}

func TestStartWithBrokenBinaryFails(t *testing.T) {
	if os.Getenv("S3TEST_INNER") == "1" {
		s3test.Start(t)
		return
	}
	// Run Start in a child test binary whose versitygw is not there, and
	// read its verdict: skipped without CI, failed with it.
	for _, tc := range []struct {
		ci   string
		want string
	}{{"", "SKIP"}, {"true", "FAIL"}} {
		cmd := execSelf(t, "TestStartWithBrokenBinaryFails", "S3TEST_INNER=1", "CI="+tc.ci, "VERSITYGW=", "PATH=/nonexistent", "GOPATH=/nonexistent")
		out, _ := cmd.CombinedOutput()
		if !bytes.Contains(out, []byte("--- "+tc.want)) {
			t.Errorf("CI=%q: want %s, got:\n%s", tc.ci, tc.want, out)
		}
	}
}
