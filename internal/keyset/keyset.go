package keyset

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"math/bits"
	"os"
	"slices"
)

// Options configures a [Set]. The zero value means the defaults.
type Options struct {
	// Dir holds the temporary files; "" means [os.TempDir].
	Dir string

	// MemKeys is how many keys are held in memory before they are
	// written to a file; 0 means 8192.
	MemKeys int
}

const (
	defaultMemKeys = 8192
	keySize        = 16
	blockKeys      = 256 // keys per indexed block of a run: 4 KiB
	mergeFanIn     = 4   // runs of one size class merged at once
	bloomBitsPer   = 8   // Bloom filter bits per key at full capacity: 2% false hits
	bloomProbes    = 6

	// ioBuf is the buffer of each run read or written. A merge has
	// mergeFanIn+1 open at once, for as long as it takes to copy the
	// runs, so it is kept small: a few pages still make a read cheap.
	ioBuf = 16 << 10
)

// key is a 128-bit hash of an entity key; keys sort as (hi, lo).
type key struct{ hi, lo uint64 }

func compareKeys(a, b key) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// Set is a set of entity keys. See the package documentation.
type Set struct {
	opts   Options
	s1, s2 maphash.Seed

	mem     map[key]struct{}
	sortBuf []key

	runs    []*run
	spilled int64 // keys in runs
	bloom   bloom

	n      int64
	err    error
	noDisk bool // a disk failure turned spilling off
}

// New returns an empty set; opts may be nil.
func New(opts *Options) *Set {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MemKeys <= 0 {
		o.MemKeys = defaultMemKeys
	}
	return &Set{
		opts: o,
		s1:   maphash.MakeSeed(),
		s2:   maphash.MakeSeed(),
		mem:  make(map[key]struct{}, o.MemKeys),
	}
}

// Add reports whether k is new, and remembers it.
func (s *Set) Add(k []byte) bool {
	h := key{maphash.Bytes(s.s1, k), maphash.Bytes(s.s2, k)}
	if _, ok := s.mem[h]; ok {
		return false
	}
	if s.spilled > 0 && s.bloom.has(h) && s.onDisk(h) {
		return false
	}
	s.mem[h] = struct{}{}
	s.n++
	if len(s.mem) >= s.opts.MemKeys && !s.noDisk {
		s.spill()
	}
	return true
}

// Len returns the number of keys in the set.
func (s *Set) Len() int64 { return s.n }

// Err returns the first disk failure, if any. After a failed write the
// set keeps new keys in memory; after a failed read a key was taken as
// new.
func (s *Set) Err() error { return s.err }

// Close releases the set's files and returns [Set.Err]. The set is not
// used after Close.
func (s *Set) Close() error {
	for _, r := range s.runs {
		r.close()
	}
	s.runs = nil
	s.mem = nil
	return s.err
}

func (s *Set) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("keyset: %w", err)
	}
}

// onDisk looks h up in the runs.
func (s *Set) onDisk(h key) bool {
	for _, r := range s.runs {
		found, err := r.has(h)
		if err != nil {
			s.fail(err)
			continue
		}
		if found {
			return true
		}
	}
	return false
}

// spill writes the in-memory keys to a new run and merges runs of the
// same size class.
func (s *Set) spill() {
	keys := s.sortBuf[:0]
	for k := range s.mem {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compareKeys)
	s.sortBuf = keys

	r, err := writeRun(s.opts.Dir, slices.Values(keys), len(keys))
	if err != nil {
		// Keep the keys in memory: correct, only larger.
		s.fail(err)
		s.noDisk = true
		return
	}
	s.runs = append(s.runs, r)
	s.spilled += int64(len(keys))
	clear(s.mem)

	if s.spilled > s.bloom.capacity {
		s.rebuildBloom()
	} else {
		for _, k := range keys {
			s.bloom.add(k)
		}
	}
	s.merge()
}

// class is a run's size class: runs of one class are within a factor of
// mergeFanIn of each other.
func (s *Set) class(r *run) int {
	n := max(r.n/int64(s.opts.MemKeys), 1)
	return (bits.Len64(uint64(n)) - 1) / 2 // log4
}

// merge merges the newest runs while mergeFanIn of them share a class.
func (s *Set) merge() {
	for len(s.runs) >= mergeFanIn {
		tail := s.runs[len(s.runs)-mergeFanIn:]
		c := s.class(tail[0])
		same := true
		for _, r := range tail[1:] {
			same = same && s.class(r) == c
		}
		if !same {
			return
		}
		var total int64
		for _, r := range tail {
			total += r.n
		}
		merged, err := writeRun(s.opts.Dir, mergeRuns(tail, s.fail), int(total))
		if err == nil && merged.n != total {
			merged.close() // a run could not be read to its end
			err = fmt.Errorf("merged %d keys of %d", merged.n, total)
		}
		if err != nil {
			s.fail(err)
			return // the runs stay as they are: correct, only more of them
		}
		for _, r := range tail {
			r.close()
		}
		s.runs = append(s.runs[:len(s.runs)-mergeFanIn], merged)
	}
}

// rebuildBloom makes a filter for half as many keys again as are
// spilled, and fills it from the runs. The filter grows geometrically, so
// the rebuilds read each key a few times in all.
func (s *Set) rebuildBloom() {
	s.bloom = bloom{} // let the old one go first
	s.bloom = newBloom(s.spilled + s.spilled/2)
	for _, r := range s.runs {
		for k := range r.all(s.fail) {
			s.bloom.add(k)
		}
	}
}

// run is a file of sorted keys with a sparse index: the first key of
// every block of blockKeys keys.
type run struct {
	f     *os.File
	name  string
	n     int64
	index []key
	buf   []byte
}

func writeRun(dir string, keys iter.Seq[key], n int) (*run, error) {
	f, err := os.CreateTemp(dir, "sfconnector-keys-*")
	if err != nil {
		return nil, err
	}
	r := &run{f: f, name: f.Name(), index: make([]key, 0, (n+blockKeys-1)/blockKeys)}
	// Unlinked at once where the system allows it, so that a dying
	// process leaves nothing behind; close removes it otherwise.
	if os.Remove(r.name) == nil {
		r.name = ""
	}
	w := bufio.NewWriterSize(f, ioBuf)
	var b [keySize]byte
	for k := range keys {
		if r.n%blockKeys == 0 {
			r.index = append(r.index, k)
		}
		binary.BigEndian.PutUint64(b[:8], k.hi)
		binary.BigEndian.PutUint64(b[8:], k.lo)
		w.Write(b[:])
		r.n++
	}
	if err := w.Flush(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *run) close() {
	r.f.Close()
	if r.name != "" {
		os.Remove(r.name)
	}
}

// has looks h up with one read of the block that could hold it.
func (r *run) has(h key) (bool, error) {
	// The last block whose first key is <= h.
	i, found := slices.BinarySearchFunc(r.index, h, compareKeys)
	if found {
		return true, nil
	}
	if i == 0 {
		return false, nil
	}
	block := int64(i - 1)
	first := block * blockKeys
	n := min(r.n-first, blockKeys)
	if cap(r.buf) < blockKeys*keySize {
		r.buf = make([]byte, blockKeys*keySize)
	}
	buf := r.buf[:n*keySize]
	if _, err := r.f.ReadAt(buf, first*keySize); err != nil {
		return false, err
	}
	lo, hi := 0, int(n)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		k := key{binary.BigEndian.Uint64(buf[m*keySize:]), binary.BigEndian.Uint64(buf[m*keySize+8:])}
		switch compareKeys(k, h) {
		case 0:
			return true, nil
		case -1:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false, nil
}

// all yields the run's keys in order; a read failure is passed to fail
// and ends the sequence.
func (r *run) all(fail func(error)) iter.Seq[key] {
	return func(yield func(key) bool) {
		rr := r.reader(fail)
		for k, ok := rr.next(); ok; k, ok = rr.next() {
			if !yield(k) {
				return
			}
		}
	}
}

// runReader reads a run's keys in order.
type runReader struct {
	br   *bufio.Reader
	left int64
	fail func(error)
	b    [keySize]byte
}

func (r *run) reader(fail func(error)) *runReader {
	return &runReader{
		br:   bufio.NewReaderSize(io.NewSectionReader(r.f, 0, r.n*keySize), ioBuf),
		left: r.n,
		fail: fail,
	}
}

func (rr *runReader) next() (key, bool) {
	if rr.left == 0 {
		return key{}, false
	}
	if _, err := io.ReadFull(rr.br, rr.b[:]); err != nil {
		rr.fail(err)
		rr.left = 0
		return key{}, false
	}
	rr.left--
	return key{binary.BigEndian.Uint64(rr.b[:8]), binary.BigEndian.Uint64(rr.b[8:])}, true
}

// mergeRuns yields the keys of sorted runs in order. The runs share no
// key: each was written with keys the set did not hold.
func mergeRuns(runs []*run, fail func(error)) iter.Seq[key] {
	return func(yield func(key) bool) {
		type cursor struct {
			rr  *runReader
			cur key
			ok  bool
		}
		cs := make([]cursor, len(runs))
		for i, r := range runs {
			cs[i].rr = r.reader(fail)
			cs[i].cur, cs[i].ok = cs[i].rr.next()
		}
		for {
			least := -1
			for i := range cs {
				if cs[i].ok && (least < 0 || compareKeys(cs[i].cur, cs[least].cur) < 0) {
					least = i
				}
			}
			if least < 0 || !yield(cs[least].cur) {
				return
			}
			cs[least].cur, cs[least].ok = cs[least].rr.next()
		}
	}
}

// bloom is a Bloom filter over keys that are already uniform hashes.
// Its size is exactly capacity·bloomBitsPer bits, not a power of two:
// positions come from multiplying a 64-bit hash by the size.
type bloom struct {
	bits     []uint64
	m        uint64 // number of bits
	capacity int64
}

func newBloom(capacity int64) bloom {
	m := uint64(max(capacity*bloomBitsPer, 1<<12))
	m = (m + 63) &^ 63
	return bloom{bits: make([]uint64, m/64), m: m, capacity: capacity}
}

func (b *bloom) add(k key) {
	h, d := k.hi, k.lo|1
	for range bloomProbes {
		i, _ := bits.Mul64(h, b.m)
		b.bits[i/64] |= 1 << (i % 64)
		h += d
	}
}

func (b *bloom) has(k key) bool {
	if b.m == 0 {
		return false
	}
	h, d := k.hi, k.lo|1
	for range bloomProbes {
		i, _ := bits.Mul64(h, b.m)
		if b.bits[i/64]&(1<<(i%64)) == 0 {
			return false
		}
		h += d
	}
	return true
}
