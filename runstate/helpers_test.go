package runstate

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// newRunID returns a UUIDv7: 48 bits of Unix milliseconds, then random
// bits with the version and variant set.
func newRunID() string {
	var b [16]byte
	rand.Read(b[:])
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms))
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// dirStore returns a DirStore on a fresh temporary directory.
func dirStore(t testing.TB) staging.Store {
	t.Helper()
	s, err := staging.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeKind names a store that the store-generic tests run against.
type storeKind struct {
	name string
	open func(t testing.TB) staging.Store
}

// forEachStore runs fn against every store: the DirStore and, through
// s3Stores, a real S3 server.
func forEachStore(t *testing.T, fn func(t *testing.T, s staging.Store)) {
	for _, k := range append([]storeKind{{"dir", dirStore}}, s3Stores...) {
		t.Run(k.name, func(t *testing.T) { fn(t, k.open(t)) })
	}
}

// s3Stores is filled by the test file that starts an S3 server.
var s3Stores []storeKind

// rawState returns the stored bytes of a run's state record.
func rawState(t testing.TB, s staging.Store, l staging.Layout, dataType, runID string) []byte {
	t.Helper()
	key, err := l.StateKey(dataType, runID)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := readObject(context.Background(), s, key, maxRecordSize)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// queued creates a queued run of data type "employees".
func queued(t testing.TB, tr *Tracker) *Run {
	t.Helper()
	run, err := tr.Create(context.Background(), Record{RunID: newRunID(), DataType: "employees"})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// copyRun returns an independent copy of run, as a second reader of the
// same version would hold.
func copyRun(run *Run) *Run {
	return &Run{Record: run.Record.Clone(), ETag: run.ETag}
}
