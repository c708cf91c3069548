package keyset

import (
	"encoding/binary"
	"hash/maphash"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// entityKey makes key bytes shaped like a connector key: a few fields.
func entityKey(i uint64) []byte {
	return strconv.AppendUint([]byte("user\x00"), i, 10)
}

func TestMatchesAMap(t *testing.T) {
	for _, memKeys := range []int{1, 3, 16, 1000} {
		t.Run(strconv.Itoa(memKeys), func(t *testing.T) {
			s := New(&Options{Dir: t.TempDir(), MemKeys: memKeys})
			defer s.Close()
			r := rand.New(rand.NewPCG(1, uint64(memKeys)))
			want := map[uint64]bool{}
			// Repeats come both soon after the first sight (still in
			// memory) and long after (on disk).
			for n := range min(20000, 2000*memKeys) {
				var i uint64
				switch {
				case n > 0 && r.IntN(10) == 0:
					i = uint64(r.IntN(n)) // a repeat, or a new key below n
				default:
					i = uint64(n) + 1<<40
				}
				if got := s.Add(entityKey(i)); got != !want[i] {
					t.Fatalf("add #%d (key %d): new=%v, want %v", n, i, got, !want[i])
				}
				want[i] = true
			}
			if s.Len() != int64(len(want)) {
				t.Errorf("Len %d, want %d", s.Len(), len(want))
			}
			if err := s.Err(); err != nil {
				t.Fatal(err)
			}
			if memKeys < 1000 && len(s.runs) == 0 {
				t.Error("nothing spilled")
			}
			if memKeys == 1 && len(s.runs) > 40 {
				t.Errorf("%d runs after merging", len(s.runs))
			}
		})
	}
}

func TestBytesNotHashesCompared(t *testing.T) {
	s := New(&Options{Dir: t.TempDir(), MemKeys: 2})
	defer s.Close()
	for _, k := range []string{"a", "b", "ab", "a\x00b", "ab\x00", ""} {
		if !s.Add([]byte(k)) {
			t.Errorf("%q taken for a repeat", k)
		}
	}
	for _, k := range []string{"a", "b", "ab", "a\x00b", "ab\x00", ""} {
		if s.Add([]byte(k)) {
			t.Errorf("repeat %q taken for new", k)
		}
	}
}

func TestLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	s := New(&Options{Dir: dir, MemKeys: 10})
	for i := range uint64(1000) {
		s.Add(entityKey(i))
	}
	if len(s.runs) == 0 {
		t.Fatal("nothing spilled")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("files left behind: %v", left)
	}
}

func TestDiskFailureKeepsKeysInMemory(t *testing.T) {
	s := New(&Options{Dir: t.TempDir() + "/missing", MemKeys: 4})
	defer s.Close()
	for i := range uint64(100) {
		if !s.Add(entityKey(i)) {
			t.Fatalf("key %d taken for a repeat", i)
		}
	}
	for i := range uint64(100) {
		if s.Add(entityKey(i)) {
			t.Fatalf("repeat %d taken for new", i)
		}
	}
	if s.Err() == nil || !os.IsNotExist(unwrapAll(s.Err())) {
		t.Errorf("Err() = %v, want the failed file creation", s.Err())
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestMemoryStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 300,000 keys")
	}
	const n = 300_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New(&Options{Dir: t.TempDir()})
	for i := range uint64(n) {
		s.Add(entityKey(i))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	// A map of the same hashes would take about 16 MiB.
	if live > 3<<20 {
		t.Errorf("%d keys hold %.1f MiB", n, float64(live)/(1<<20))
	}
	if s.Len() != n || s.Err() != nil {
		t.Errorf("Len %d, Err %v", s.Len(), s.Err())
	}
	runtime.KeepAlive(s)
	s.Close()
}

func TestBloomHasNoFalseNegatives(t *testing.T) {
	b := newBloom(1000)
	var k [16]byte
	for i := range uint64(1000) {
		binary.LittleEndian.PutUint64(k[:], i*0x9E3779B97F4A7C15)
		b.add(key{i * 0x9E3779B97F4A7C15, i ^ 0xdeadbeef})
	}
	for i := range uint64(1000) {
		if !b.has(key{i * 0x9E3779B97F4A7C15, i ^ 0xdeadbeef}) {
			t.Fatalf("key %d missing", i)
		}
	}
}

// BenchmarkAdd adds a million keys, one in a hundred a repeat, to a Set
// and, for comparison, to a Go map of the same 128-bit hashes, and
// reports the live heap each holds at the end.
func BenchmarkAdd(b *testing.B) {
	const n = 1_000_000
	keys := func(add func([]byte) bool) {
		for i := range uint64(n) {
			if i%100 == 99 {
				add(entityKey(i - 50))
				continue
			}
			add(entityKey(i))
		}
	}
	measure := func(b *testing.B, fill func() (done func())) {
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			done := fill()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "live-MiB")
			done()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/key")
	}
	b.Run("set", func(b *testing.B) {
		measure(b, func() func() {
			s := New(&Options{Dir: b.TempDir()})
			keys(s.Add)
			return func() { s.Close() }
		})
	})
	b.Run("map", func(b *testing.B) {
		measure(b, func() func() {
			s1, s2 := maphash.MakeSeed(), maphash.MakeSeed()
			m := map[key]struct{}{}
			keys(func(k []byte) bool {
				h := key{maphash.Bytes(s1, k), maphash.Bytes(s2, k)}
				if _, ok := m[h]; ok {
					return false
				}
				m[h] = struct{}{}
				return true
			})
			return func() { runtime.KeepAlive(m) }
		})
	})
}
