package staging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/staging"
	"github.com/techwolf/sfconnector/staging/stagingtest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("STAGING_TEST_WORKER_DIR"); dir != "" {
		os.Exit(worker(dir))
	}
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

func newDirStore(t *testing.T) *staging.DirStore {
	t.Helper()
	s, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestDirStoreConformance(t *testing.T) {
	stagingtest.Run(t, func(t *testing.T) staging.Store { return newDirStore(t) })
}

func TestS3StoreConformance(t *testing.T) {
	srv := s3test.Shared(t)
	stagingtest.Run(t, func(t *testing.T) staging.Store { return srv.Store(t) })
}

const (
	workers          = 4
	incrementsEach   = 40
	workerClaimKey   = "claim/state.json"
	workerCounterKey = "counter"
)

// worker runs in a child process: it races the others for one claim and
// increments a shared counter by compare-and-swap.
func worker(dir string) int {
	ctx := context.Background()
	s, err := staging.NewDirStore(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer s.Close()
	id := os.Getenv("STAGING_TEST_WORKER_ID")
	_, err = s.Put(ctx, workerClaimKey, strings.NewReader(id), -1, staging.Condition{IfAbsent: true})
	switch {
	case err == nil:
		fmt.Println("won")
	case errors.Is(err, staging.ErrPrecondition):
		fmt.Println("lost")
	default:
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for range incrementsEach {
		for {
			obj, err := s.Get(ctx, workerCounterKey)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			data, _ := io.ReadAll(obj.Body)
			obj.Body.Close()
			n, _ := strconv.Atoi(string(data))
			next := strconv.Itoa(n + 1)
			_, err = s.Put(ctx, workerCounterKey, strings.NewReader(next), -1, staging.Condition{IfMatch: obj.ETag})
			if err == nil {
				break
			}
			if !errors.Is(err, staging.ErrPrecondition) {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
	}
	return 0
}

// TestDirStoreAcrossProcesses runs workers as separate processes on one
// directory: one claim wins, and no increment of the counter is lost.
func TestDirStoreAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	s := newDirStoreAt(t, dir)
	if _, err := s.Put(t.Context(), workerCounterKey, strings.NewReader("0"), -1, staging.Condition{}); err != nil {
		t.Fatal(err)
	}
	outs := make([]bytes.Buffer, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "STAGING_TEST_WORKER_DIR="+dir, "STAGING_TEST_WORKER_ID="+strconv.Itoa(i))
		cmd.Stdout = &outs[i]
		cmd.Stderr = &outs[i]
		cmd.WaitDelay = 10 * time.Second
		wg.Go(func() { errs[i] = cmd.Run() })
	}
	wg.Wait()
	won := 0
	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v: %s", i, errs[i], outs[i].String())
		}
		if strings.TrimSpace(outs[i].String()) == "won" {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d workers won the claim, want 1", won)
	}
	obj, err := s.Get(t.Context(), workerCounterKey)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if want := strconv.Itoa(workers * incrementsEach); string(data) != want {
		t.Errorf("counter = %s, want %s: increments were lost", data, want)
	}
}

func newDirStoreAt(t *testing.T, dir string) *staging.DirStore {
	t.Helper()
	s, err := staging.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDirStoreStaysInRoot checks that a symbolic link planted in the
// directory does not lead a read or a write outside it.
func TestDirStoreStaysInRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(outside+"/secret", []byte("outside"), 0o644)
	dir := t.TempDir()
	if err := os.Symlink(outside, dir+"/link"); err != nil {
		t.Skip("no symbolic links:", err)
	}
	s := newDirStoreAt(t, dir)
	if _, err := s.Get(t.Context(), "link/secret"); err == nil {
		t.Error("Get followed a symbolic link out of the root")
	}
	if _, err := s.Put(t.Context(), "link/new", strings.NewReader("x"), 1, staging.Condition{}); err == nil {
		t.Error("Put followed a symbolic link out of the root")
	}
	if _, err := os.Stat(outside + "/new"); err == nil {
		t.Error("a file was written outside the root")
	}
	list, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		if strings.HasPrefix(o.Key, "link/") {
			t.Errorf("List shows %q from outside the root", o.Key)
		}
	}
}

func TestDirStoreReservedNames(t *testing.T) {
	s := newDirStore(t)
	for _, k := range []string{".sfc-locks/x", "a/.sfc-tmp-1", strings.Repeat("n", 256)} {
		if _, err := s.Put(t.Context(), k, strings.NewReader("x"), 1, staging.Condition{}); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Put(%.20q): err = %v, want ErrInvalidKey", k, err)
		}
	}
	if _, err := s.Put(t.Context(), "a/b", strings.NewReader("x"), 1, staging.Condition{}); err != nil {
		t.Fatal(err)
	}
	list, _ := s.List(t.Context(), "")
	if len(list) != 1 || list[0].Key != "a/b" {
		t.Errorf("List shows the store's own files: %v", list)
	}
}

func TestDirStoreWithoutXattrConformance(t *testing.T) {
	stagingtest.Run(t, func(t *testing.T) staging.Store {
		s, err := staging.NewDirStoreWithoutXattr(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestDirStoreETagIsContentMD5 checks that the stored and the recomputed
// ETag agree, and that both are S3's: the quoted hex MD5 of the content.
func TestDirStoreETagIsContentMD5(t *testing.T) {
	dir := t.TempDir()
	s := newDirStoreAt(t, dir)
	etag, err := s.Put(t.Context(), "k", strings.NewReader("hello"), 5, staging.Condition{})
	if err != nil {
		t.Fatal(err)
	}
	const want = `"5d41402abc4b2a76b9719d911017c592"` // md5("hello")
	if etag != want {
		t.Errorf("ETag %s, want %s", etag, want)
	}
	plain, err := staging.NewDirStoreWithoutXattr(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	obj, err := plain.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if obj.ETag != want {
		t.Errorf("recomputed ETag %s, want %s", obj.ETag, want)
	}
	// A file placed in the directory by hand is an object too.
	os.WriteFile(dir+"/byhand", []byte("hello"), 0o644)
	obj, err = s.Get(t.Context(), "byhand")
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if obj.ETag != want {
		t.Errorf("ETag of a file written by hand %s, want %s", obj.ETag, want)
	}
}
