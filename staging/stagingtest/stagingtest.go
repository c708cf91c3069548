package stagingtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// Run runs the suite. newStore returns an empty store for one subtest;
// it may register cleanups on t.
func Run(t *testing.T, newStore func(t *testing.T) staging.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s staging.Store)
	}{
		{"PutGetRoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfMatch", testPutIfMatch},
		{"PutIfMatchMissing", testPutIfMatchMissing},
		{"BothConditions", testBothConditions},
		{"GetMissing", testGetMissing},
		{"List", testList},
		{"Delete", testDelete},
		{"RaceIfAbsent", testRaceIfAbsent},
		{"RaceIfMatch", testRaceIfMatch},
		{"LargeObject", testLargeObject},
		{"UnicodeKeys", testUnicodeKeys},
		{"InvalidKeys", testInvalidKeys},
		{"SizeMismatch", testSizeMismatch},
		{"UnknownSize", testUnknownSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func put(t *testing.T, s staging.Store, key string, body []byte, cond staging.Condition) (string, error) {
	t.Helper()
	return s.Put(ctx(t), key, bytes.NewReader(body), int64(len(body)), cond)
}

func mustPut(t *testing.T, s staging.Store, key string, body []byte) string {
	t.Helper()
	etag, err := put(t, s, key, body, staging.Condition{})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if etag == "" {
		t.Fatalf("Put(%q) returned an empty ETag", key)
	}
	return etag
}

// mustGet returns the object's content and ETag.
func mustGet(t *testing.T, s staging.Store, key string) ([]byte, string) {
	t.Helper()
	obj, err := s.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	if obj.Size != int64(len(data)) {
		t.Errorf("Get(%q): Size %d, body has %d bytes", key, obj.Size, len(data))
	}
	return data, obj.ETag
}

func wantContent(t *testing.T, s staging.Store, key string, want []byte) string {
	t.Helper()
	got, etag := mustGet(t, s, key)
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %.40q, want %.40q", key, got, want)
	}
	return etag
}

func testRoundTrip(t *testing.T, s staging.Store) {
	body := []byte(`{"schema":1,"hello":"world"}`)
	etag := mustPut(t, s, "run/state.json", body)
	if got := wantContent(t, s, "run/state.json", body); got != etag {
		t.Errorf("Get ETag %s, Put returned %s", got, etag)
	}
	empty := mustPut(t, s, "run/empty", nil)
	if got := wantContent(t, s, "run/empty", []byte{}); got != empty {
		t.Errorf("empty object: Get ETag %s, Put returned %s", got, empty)
	}
}

func testOverwrite(t *testing.T, s staging.Store) {
	e1 := mustPut(t, s, "k", []byte("one"))
	e2 := mustPut(t, s, "k", []byte("two"))
	if e1 == e2 {
		t.Errorf("ETag unchanged (%s) after the content changed", e1)
	}
	if got := wantContent(t, s, "k", []byte("two")); got != e2 {
		t.Errorf("Get ETag %s, want %s", got, e2)
	}
}

func testPutIfAbsent(t *testing.T, s staging.Store) {
	if _, err := put(t, s, "a/state.json", []byte("first"), staging.Condition{IfAbsent: true}); err != nil {
		t.Fatalf("first put-if-absent: %v", err)
	}
	_, err := put(t, s, "a/state.json", []byte("second"), staging.Condition{IfAbsent: true})
	if !errors.Is(err, staging.ErrPrecondition) {
		t.Fatalf("second put-if-absent: err = %v, want ErrPrecondition", err)
	}
	wantContent(t, s, "a/state.json", []byte("first"))
}

func testPutIfMatch(t *testing.T, s staging.Store) {
	e1 := mustPut(t, s, "cas", []byte("v1"))
	e2, err := put(t, s, "cas", []byte("v2"), staging.Condition{IfMatch: e1})
	if err != nil {
		t.Fatalf("put-if-match with the current ETag: %v", err)
	}
	if e2 == e1 || e2 == "" {
		t.Fatalf("put-if-match returned ETag %q (old %q)", e2, e1)
	}
	_, err = put(t, s, "cas", []byte("v3"), staging.Condition{IfMatch: e1})
	if !errors.Is(err, staging.ErrPrecondition) {
		t.Fatalf("put-if-match with a stale ETag: err = %v, want ErrPrecondition", err)
	}
	if got := wantContent(t, s, "cas", []byte("v2")); got != e2 {
		t.Errorf("ETag %s after a lost put-if-match, want %s", got, e2)
	}
	if _, err := put(t, s, "cas", []byte("v4"), staging.Condition{IfMatch: `"not-an-etag"`}); !errors.Is(err, staging.ErrPrecondition) {
		t.Fatalf("put-if-match with a made-up ETag: err = %v, want ErrPrecondition", err)
	}
}

func testPutIfMatchMissing(t *testing.T, s staging.Store) {
	e := mustPut(t, s, "gone", []byte("x"))
	if err := s.Delete(ctx(t), "gone"); err != nil {
		t.Fatal(err)
	}
	_, err := put(t, s, "gone", []byte("y"), staging.Condition{IfMatch: e})
	if !errors.Is(err, staging.ErrPrecondition) {
		t.Fatalf("put-if-match on a deleted key: err = %v, want ErrPrecondition", err)
	}
	if _, err := s.Get(ctx(t), "gone"); !errors.Is(err, staging.ErrNotFound) {
		t.Fatalf("a lost put-if-match created the object: Get err = %v", err)
	}
}

func testBothConditions(t *testing.T, s staging.Store) {
	_, err := put(t, s, "k", []byte("x"), staging.Condition{IfAbsent: true, IfMatch: `"x"`})
	if err == nil || errors.Is(err, staging.ErrPrecondition) {
		t.Fatalf("Put with both conditions: err = %v, want a usage error", err)
	}
}

func testGetMissing(t *testing.T, s staging.Store) {
	for _, key := range []string{"missing", "dir/missing.json"} {
		_, err := s.Get(ctx(t), key)
		if !errors.Is(err, staging.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want ErrNotFound", key, err)
		}
	}
	mustPut(t, s, "dir/sub/x", []byte("x"))
	if _, err := s.Get(ctx(t), "dir/sub"); !errors.Is(err, staging.ErrNotFound) {
		t.Errorf("Get of a prefix: err = %v, want ErrNotFound", err)
	}
}

func testList(t *testing.T, s staging.Store) {
	keys := []string{"p/b/d", "p/a", "p/b/c", "p2/x", "pa", "p/é", "p/b/c/deeper", "q"}
	etags := map[string]string{}
	for i, k := range keys {
		if k == "p/b/c/deeper" {
			continue // a file and a directory of one name: a DirStore cannot
		}
		etags[k] = mustPut(t, s, k, bytes.Repeat([]byte("x"), i+1))
	}
	check := func(prefix string, want ...string) {
		t.Helper()
		got, err := s.List(ctx(t), prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		var names []string
		for _, o := range got {
			names = append(names, o.Key)
			if o.ETag != etags[o.Key] {
				t.Errorf("List(%q): %s has ETag %s, Put returned %s", prefix, o.Key, o.ETag, etags[o.Key])
			}
			if o.Size != int64(slices.Index(keys, o.Key)+1) {
				t.Errorf("List(%q): %s has size %d", prefix, o.Key, o.Size)
			}
			if o.LastModified.IsZero() {
				t.Errorf("List(%q): %s has no LastModified", prefix, o.Key)
			}
		}
		if !slices.Equal(names, want) {
			t.Errorf("List(%q) = %q, want %q", prefix, names, want)
		}
	}
	check("p/", "p/a", "p/b/c", "p/b/d", "p/é")
	check("p/b/", "p/b/c", "p/b/d")
	check("p/b", "p/b/c", "p/b/d")
	check("p", "p/a", "p/b/c", "p/b/d", "p/é", "p2/x", "pa")
	check("", "p/a", "p/b/c", "p/b/d", "p/é", "p2/x", "pa", "q")
	check("none/")
	check("p/a", "p/a")
}

func testDelete(t *testing.T, s staging.Store) {
	mustPut(t, s, "d/one", []byte("1"))
	mustPut(t, s, "d/two", []byte("2"))
	if err := s.Delete(ctx(t), "d/one"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx(t), "d/one"); !errors.Is(err, staging.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	list, err := s.List(ctx(t), "d/")
	if err != nil || len(list) != 1 || list[0].Key != "d/two" {
		t.Errorf("List after Delete = %v, %v; want only d/two", list, err)
	}
	if err := s.Delete(ctx(t), "d/one"); err != nil {
		t.Errorf("second Delete: %v, want nil", err)
	}
	if err := s.Delete(ctx(t), "never/was"); err != nil {
		t.Errorf("Delete of a key never written: %v, want nil", err)
	}
	if _, err := put(t, s, "d/one", []byte("again"), staging.Condition{IfAbsent: true}); err != nil {
		t.Errorf("put-if-absent after Delete: %v", err)
	}
}

const racers = 16

func testRaceIfAbsent(t *testing.T, s staging.Store) {
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		errs    = make([]error, racers)
		bodyOf  = func(i int) []byte { return fmt.Appendf(nil, `{"worker":%d}`, i) }
		winners []int
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = put(t, s, "race/state.json", bodyOf(i), staging.Condition{IfAbsent: true})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		switch {
		case err == nil:
			winners = append(winners, i)
		case !errors.Is(err, staging.ErrPrecondition):
			t.Errorf("racer %d: %v, want nil or ErrPrecondition", i, err)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners %v of %d racers, want exactly 1", len(winners), winners, racers)
	}
	wantContent(t, s, "race/state.json", bodyOf(winners[0]))
}

func testRaceIfMatch(t *testing.T, s staging.Store) {
	base := mustPut(t, s, "cas/state.json", []byte(`{"v":0}`))
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		errs   = make([]error, racers)
		bodyOf = func(i int) []byte { return fmt.Appendf(nil, `{"v":1,"worker":%d}`, i) }
	)
	for i := range racers {
		wg.Go(func() {
			<-start
			_, errs[i] = put(t, s, "cas/state.json", bodyOf(i), staging.Condition{IfMatch: base})
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, staging.ErrPrecondition):
			t.Errorf("racer %d: %v, want nil or ErrPrecondition", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	wantContent(t, s, "cas/state.json", bodyOf(winner))
}

func testLargeObject(t *testing.T, s staging.Store) {
	body := make([]byte, 12<<20+17)
	rand.Read(body)
	etag := mustPut(t, s, "big/page.jsonl.gz", body)
	if got := wantContent(t, s, "big/page.jsonl.gz", body); got != etag {
		t.Errorf("Get ETag %s, Put returned %s", got, etag)
	}
}

func testUnicodeKeys(t *testing.T, s staging.Store) {
	keys := []string{
		"ünïcödé/日本語/ключ 🙂.json",
		"spaces and +plus/%41 literal/a=b&c",
		"Ω/ü",
	}
	for _, k := range keys {
		mustPut(t, s, k, []byte(k))
	}
	for _, k := range keys {
		wantContent(t, s, k, []byte(k))
	}
	list, err := s.List(ctx(t), "ünïcödé/")
	if err != nil || len(list) != 1 || list[0].Key != keys[0] {
		t.Errorf("List(ünïcödé/) = %v, %v", list, err)
	}
}

func testInvalidKeys(t *testing.T, s staging.Store) {
	bad := []string{"", "/abs", "../up", "a/../b", "a/./b", "a//b", "trailing/", "nul\x00", "ctl\n", "bad\xffutf8", strings.Repeat("k", 1025)}
	for _, k := range bad {
		if _, err := put(t, s, k, []byte("x"), staging.Condition{}); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Put(%q): err = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Get(ctx(t), k); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Get(%q): err = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx(t), k); !errors.Is(err, staging.ErrInvalidKey) {
			t.Errorf("Delete(%q): err = %v, want ErrInvalidKey", k, err)
		}
	}
	if _, err := s.List(ctx(t), "../"); !errors.Is(err, staging.ErrInvalidKey) {
		t.Errorf("List(../): err = %v, want ErrInvalidKey", err)
	}
}

func testSizeMismatch(t *testing.T, s staging.Store) {
	_, err := s.Put(ctx(t), "short", bytes.NewReader([]byte("abc")), 5, staging.Condition{})
	if err == nil {
		t.Fatal("Put with a wrong size succeeded")
	}
	if _, err := s.Get(ctx(t), "short"); !errors.Is(err, staging.ErrNotFound) {
		t.Errorf("a failed Put left an object: Get err = %v", err)
	}
}

func testUnknownSize(t *testing.T, s staging.Store) {
	body := bytes.Repeat([]byte("stream "), 10000)
	r := iotest.HalfReader(bytes.NewReader(body)) // not seekable
	etag, err := s.Put(ctx(t), "stream", r, -1, staging.Condition{IfAbsent: true})
	if err != nil {
		t.Fatalf("Put of an unseekable body of unknown size: %v", err)
	}
	if got := wantContent(t, s, "stream", body); got != etag {
		t.Errorf("Get ETag %s, Put returned %s", got, etag)
	}
}
