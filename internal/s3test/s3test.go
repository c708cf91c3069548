package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/techwolf/sfconnector/staging"
)

// Server is a running versitygw with a posix back end in a temporary
// directory.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	Region    string // "us-east-1"
	Bucket    string // created at start
	AccessKey string // the gateway's root access key
	SecretKey string // the root secret, random for each server
	Root      string // the posix back end's directory

	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan struct{}
	stopped sync.Once
	client  *s3.Client
	seq     atomic.Int64
}

// ErrNoBinary means versitygw was not found.
var ErrNoBinary = errors.New("s3test: versitygw binary not found (set $VERSITYGW, or install it into $GOPATH/bin)")

// Binary returns the path of the versitygw binary.
func Binary() (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	gopath := build.Default.GOPATH
	for dir := range strings.SplitSeq(gopath, string(os.PathListSeparator)) {
		p := filepath.Join(dir, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", ErrNoBinary
}

// Start starts a server for one test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	root := t.TempDir()
	s, err := start(root)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoBinary) && os.Getenv("CI") == "" {
		t.Skipf("\n\n*** SKIPPED: %v. S3 tests did not run. ***\n", err)
	}
	t.Fatal(err)
}

var shared struct {
	once sync.Once
	srv  *Server
	root string
	err  error
}

// Shared returns the server shared by all tests of this test binary,
// starting it on first use. Call [StopShared] from TestMain after m.Run;
// without it the server is killed when the test binary exits (on Linux)
// and its directory is left behind.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		shared.root, shared.err = os.MkdirTemp("", "s3test-")
		if shared.err == nil {
			shared.srv, shared.err = start(shared.root)
		}
	})
	if shared.err != nil {
		skipOrFail(t, shared.err)
	}
	return shared.srv
}

// StopShared stops the shared server, if one was started, and removes its
// directory.
func StopShared() {
	if shared.srv != nil {
		shared.srv.Stop()
	}
	if shared.root != "" {
		os.RemoveAll(shared.root)
	}
}

func start(root string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(root, "data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	// The port is chosen by binding :0 and releasing it; another process
	// can take it in between, so a failed start is tried again.
	var lastErr error
	for range 3 {
		s, err := launch(bin, dataDir)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(bin, dataDir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		Region:    "us-east-1",
		AccessKey: "s3testaccess",
		SecretKey: rand.Text(),
		Root:      dataDir,
		out:       &syncBuffer{},
		exited:    make(chan struct{}),
	}
	s.cmd = exec.Command(bin,
		"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--region", s.Region,
		"--quiet",
		"posix", dataDir)
	// Credentials travel in the environment, not on the command line
	// where any user of the machine could read them.
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKey, "ROOT_SECRET_ACCESS_KEY="+s.SecretKey)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	setParentDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("s3test: start versitygw: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()

	if err := s.waitReady(10 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	s.client = s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
	bucket, err := s.createBucket()
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.Bucket = bucket
	return s, nil
}

// waitReady polls until the server answers HTTP, or fails early if the
// process exits.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("s3test: versitygw exited: %s", s.out.String())
		default:
		}
		resp, err := client.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("s3test: versitygw did not answer within %v: %s", limit, s.out.String())
}

// NewBucket creates a fresh, empty bucket and returns its name.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name, err := s.createBucket()
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func (s *Server) createBucket() (string, error) {
	name := fmt.Sprintf("s3test-%d-%s", s.seq.Add(1), strings.ToLower(rand.Text()[:8]))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("s3test: create bucket: %w", err)
	}
	return name, nil
}

// Options returns the options of an [staging.S3Store] for bucket; an
// empty bucket means the server's Bucket.
func (s *Server) Options(bucket string) staging.S3Options {
	if bucket == "" {
		bucket = s.Bucket
	}
	return staging.S3Options{
		Bucket:           bucket,
		Region:           s.Region,
		Endpoint:         s.Endpoint,
		AllowHTTP:        true,
		PathStyle:        true,
		AccessKey:        s.AccessKey,
		SecretKey:        s.SecretKey,
		RetryMaxAttempts: 2,
	}
}

// Store returns an [staging.S3Store] on a fresh bucket of its own.
func (s *Server) Store(t testing.TB) *staging.S3Store {
	t.Helper()
	st, err := staging.NewS3Store(context.Background(), s.Options(s.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Client returns a plain S3 client for the server, for checks that go
// around the store.
func (s *Server) Client() *s3.Client { return s.client }

// Stop kills the server and waits for it to exit. It is safe to call more
// than once.
func (s *Server) Stop() {
	s.stopped.Do(func() {
		if s.cmd.Process != nil {
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// Output returns what the server printed, for diagnosing a failure.
func (s *Server) Output() string { return s.out.String() }

// syncBuffer collects the server's output, keeping the first 64 KiB.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
