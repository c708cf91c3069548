package runstate

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/staging"
)

// testRecord is the shape of the records the tests stage.
type testRecord struct {
	ID      int `json:"id"`
	Attempt int `json:"attempt"`
}

// writePages stages the records first..last-1 of an attempt, size to a
// page, as a worker would, publishing progress through hb.
func writePages(t *testing.T, s staging.Store, l staging.Layout, hb *Heartbeat, first, last, size int) []staging.PageEntry {
	t.Helper()
	ctx := context.Background()
	rec := hb.Snapshot()
	enc := staging.NewPageEncoder()
	var entries []staging.PageEntry
	for start := first; start < last; start += size {
		enc.Reset()
		for id := start; id < min(start+size, last); id++ {
			line, _ := json.Marshal(testRecord{ID: id, Attempt: rec.Attempt})
			if err := enc.WriteRecord(line); err != nil {
				t.Fatal(err)
			}
		}
		data, n, sum, err := enc.Finish()
		if err != nil {
			t.Fatal(err)
		}
		key, err := l.PageKey(rec.DataType, rec.RunID, rec.Attempt, len(entries)+1)
		if err != nil {
			t.Fatal(err)
		}
		entry, err := staging.WritePage(ctx, s, key, data, n, sum)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, entry)
		err = hb.Progress(func(r *Record) {
			r.Pages++
			r.Records += entry.Records
			r.Bytes += entry.Bytes
			r.Checkpoint = fmt.Sprintf("skip=%d", start+size)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return entries
}

// finish writes the manifest of the attempt hb heartbeats for, stops the
// heartbeat and marks the run done.
func finish(t *testing.T, tr *Tracker, s staging.Store, l staging.Layout, hb *Heartbeat, pages []staging.PageEntry) *Run {
	t.Helper()
	ctx := context.Background()
	run, err := hb.Stop()
	if err != nil {
		t.Fatal(err)
	}
	r := run.Record
	m := &staging.Manifest{
		RunID: r.RunID, DataType: r.DataType, Attempt: r.Attempt,
		Query: "/odata/v2/PerPerson?$format=json", Pages: pages, Created: tr.now(),
	}
	for _, p := range pages {
		m.Records += p.Records
		m.Bytes += p.Bytes
	}
	key, err := l.ManifestKey(r.DataType, r.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if err := staging.WriteManifest(ctx, s, key, m); err != nil {
		t.Fatal(err)
	}
	if err := tr.Update(ctx, run, func(r *Record) { r.Status, r.Manifest = Done, key }); err != nil {
		t.Fatal(err)
	}
	return run
}

// doneRun stages a run of n records in pages of size and returns its
// final record and manifest entries.
func doneRun(t *testing.T, tr *Tracker, s staging.Store, l staging.Layout, n, size int) (*Record, []staging.PageEntry) {
	t.Helper()
	run := queued(t, tr)
	if err := tr.Claim(context.Background(), run, "w1", time.Minute); err != nil {
		t.Fatal(err)
	}
	hb := tr.StartHeartbeat(context.Background(), run, time.Hour, time.Minute)
	pages := writePages(t, s, l, hb, 0, n, size)
	run = finish(t, tr, s, l, hb, pages)
	return &run.Record, pages
}

// collect reads all records of a run, stopping at the first error.
func collect(t *testing.T, r *Reader, rec *Record) ([]testRecord, error) {
	t.Helper()
	var out []testRecord
	for raw, err := range r.Records(context.Background(), rec) {
		if err != nil {
			return out, err
		}
		var tr testRecord
		if err := json.Unmarshal(raw, &tr); err != nil {
			t.Fatalf("record %q: %v", raw, err)
		}
		out = append(out, tr)
	}
	return out, nil
}

// TestKilledRunTakenOver follows a run whose first worker dies between
// pages: the run stays running, goes stale, is taken over as attempt 2,
// and ends done with a manifest of attempt 2's pages only. The reader
// yields every record once, all from attempt 2.
func TestKilledRunTakenOver(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		l := staging.Layout{BasePath: "sf/prod"}
		clk := newClock()
		tr := NewTracker(s, l)
		tr.Now = clk.Now
		reader := NewReader(s, l)

		run, err := tr.Create(ctx, Record{RunID: newRunID(), DataType: "per_person", Mode: "full"})
		if err != nil {
			t.Fatal(err)
		}
		id := run.Record.RunID
		if err := tr.Claim(ctx, run, "w1", time.Minute); err != nil {
			t.Fatal(err)
		}
		hb1 := tr.StartHeartbeat(ctx, run, time.Hour, time.Minute)
		writePages(t, s, l, hb1, 0, 250, 100)
		// The worker dies: no more heartbeats, no final write.
		if _, err := hb1.Stop(); err != nil {
			t.Fatal(err)
		}

		rec, err := reader.Get(ctx, "per_person", id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != Running || rec.Pages != 3 || rec.Records != 250 || rec.Stale(clk.Now()) {
			t.Fatalf("after the crash: %+v", rec)
		}
		if _, err := collect(t, reader, rec); !errors.Is(err, ErrNotDone) {
			t.Fatalf("records of a running run: %v", err)
		}
		cur, err := tr.Get(ctx, "per_person", id)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Claim(ctx, cur, "w2", time.Minute); !errors.Is(err, ErrNotClaimable) {
			t.Fatalf("claim within the lease: %v", err)
		}

		clk.Advance(61 * time.Second)
		if rec, _ = reader.Get(ctx, "per_person", id); !rec.Stale(clk.Now()) {
			t.Fatal("not stale after the lease")
		}
		if err := tr.Claim(ctx, cur, "w2", time.Minute); err != nil {
			t.Fatal(err)
		}
		if cur.Record.Attempt != 2 || cur.Record.Records != 0 {
			t.Fatalf("taken over as %+v", cur.Record)
		}
		hb2 := tr.StartHeartbeat(ctx, cur, time.Hour, time.Minute)
		pages := writePages(t, s, l, hb2, 0, 520, 100)
		done := finish(t, tr, s, l, hb2, pages)
		if done.Record.Attempt != 2 || done.Record.Records != 520 || done.Record.Pages != 6 {
			t.Fatalf("done as %+v", done.Record)
		}

		// Attempt 1's pages are still in the store, and never read.
		objs, err := s.List(ctx, "sf/prod/per_person/"+id+"/pages/1/")
		if err != nil || len(objs) != 3 {
			t.Fatalf("attempt 1 left %d pages (%v)", len(objs), err)
		}
		m, err := staging.ReadManifest(ctx, s, "sf/prod/per_person/"+id+"/manifest.json")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Pages {
			if !strings.HasPrefix(p.Key, "sf/prod/per_person/"+id+"/pages/2/") {
				t.Errorf("manifest lists %s", p.Key)
			}
		}

		latest, err := reader.LatestDone(ctx, "per_person")
		if err != nil || latest.RunID != id {
			t.Fatalf("latest done %v, %v", latest, err)
		}
		got, err := collect(t, reader, latest)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int]int{}
		for _, r := range got {
			if r.Attempt != 2 {
				t.Fatalf("record %d from attempt %d", r.ID, r.Attempt)
			}
			seen[r.ID]++
		}
		for i := range 520 {
			if seen[i] != 1 {
				t.Fatalf("record %d read %d times", i, seen[i])
			}
		}
		if len(got) != 520 {
			t.Fatalf("read %d records, want 520", len(got))
		}
	})
}

func gzipped(t *testing.T, s string) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBadPage alters, removes or damages the second of three pages after
// the manifest is written: the reader yields the first page, then fails
// with the second page's key and yields nothing of it.
func TestBadPage(t *testing.T) {
	alter := map[string]func(t *testing.T, s staging.Store, key string){
		"altered": func(t *testing.T, s staging.Store, key string) {
			data := gzipped(t, strings.Repeat(`{"id":-1,"attempt":1}`+"\n", 10))
			put(t, s, key, data)
		},
		"deleted": func(t *testing.T, s staging.Store, key string) {
			if err := s.Delete(context.Background(), key); err != nil {
				t.Fatal(err)
			}
		},
		"truncated": func(t *testing.T, s staging.Store, key string) {
			data := get(t, s, key)
			put(t, s, key, data[:len(data)-9])
		},
		"grown": func(t *testing.T, s staging.Store, key string) {
			put(t, s, key, append(get(t, s, key), gzipped(t, `{"id":-2}`+"\n")...))
		},
		"same records, other bytes": func(t *testing.T, s staging.Store, key string) {
			// The gzip header's MTIME: the records decode unchanged,
			// only the SHA-256 tells.
			data := get(t, s, key)
			data[4] ^= 1
			put(t, s, key, data)
		},
		"one bit flipped": func(t *testing.T, s staging.Store, key string) {
			data := get(t, s, key)
			data[len(data)/2] ^= 1
			put(t, s, key, data)
		},
	}
	forEachStore(t, func(t *testing.T, s staging.Store) {
		tr := NewTracker(s, staging.Layout{})
		reader := NewReader(s, staging.Layout{})
		for name, fn := range alter {
			t.Run(name, func(t *testing.T) {
				rec, pages := doneRun(t, tr, s, staging.Layout{}, 30, 10)
				fn(t, s, pages[1].Key)

				got, err := collect(t, reader, rec)
				var pe *PageError
				if !errors.As(err, &pe) || pe.Key != pages[1].Key {
					t.Fatalf("want a PageError for %s, got %v", pages[1].Key, err)
				}
				if !strings.Contains(err.Error(), pages[1].Key) {
					t.Fatalf("error %q does not name the page", err)
				}
				want := staging.ErrBadPage
				if name == "deleted" {
					want = staging.ErrNotFound
				}
				if !errors.Is(err, want) {
					t.Fatalf("error %v does not match %v", err, want)
				}
				if len(got) != 10 {
					t.Fatalf("yielded %d records before the bad page, want the 10 of the first", len(got))
				}
			})
		}
	})
}

func get(t *testing.T, s staging.Store, key string) []byte {
	t.Helper()
	data, _, err := readObject(context.Background(), s, key, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func put(t *testing.T, s staging.Store, key string, data []byte) {
	t.Helper()
	_, err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), staging.Condition{})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRecordsRefuses(t *testing.T) {
	ctx := context.Background()
	s := dirStore(t)
	tr := NewTracker(s, staging.Layout{})
	reader := NewReader(s, staging.Layout{})

	t.Run("not done", func(t *testing.T) {
		run := queued(t, tr)
		if _, err := collect(t, reader, &run.Record); !errors.Is(err, ErrNotDone) {
			t.Fatalf("queued: %v", err)
		}
		err := tr.Update(ctx, run, func(r *Record) { r.Status = Failed })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := collect(t, reader, &run.Record); !errors.Is(err, ErrNotDone) {
			t.Fatalf("failed: %v", err)
		}
	})

	t.Run("manifest not JSON", func(t *testing.T) {
		rec, _ := doneRun(t, tr, s, staging.Layout{}, 5, 5)
		put(t, s, "employees/"+rec.RunID+"/manifest.json", []byte(`{"schema":1,`))
		if _, err := collect(t, reader, rec); !errors.Is(err, ErrBadManifest) {
			t.Fatalf("want ErrBadManifest, got %v", err)
		}
	})

	t.Run("no manifest", func(t *testing.T) {
		rec, _ := doneRun(t, tr, s, staging.Layout{}, 5, 5)
		if err := s.Delete(ctx, "employees/"+rec.RunID+"/manifest.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := collect(t, reader, rec); !errors.Is(err, staging.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})

	manifests := map[string]func(m *staging.Manifest, rec *Record){
		"of an earlier attempt": func(m *staging.Manifest, rec *Record) { m.Attempt = rec.Attempt - 1 },
		"of another run":        func(m *staging.Manifest, rec *Record) { m.RunID = newRunID() },
		"of another data type":  func(m *staging.Manifest, rec *Record) { m.DataType = "positions" },
		"listing another run's page": func(m *staging.Manifest, rec *Record) {
			m.Pages[0].Key = strings.Replace(m.Pages[0].Key, rec.RunID, newRunID(), 1)
		},
		"listing an earlier attempt's page": func(m *staging.Manifest, rec *Record) {
			m.Pages[0].Key = strings.Replace(m.Pages[0].Key, "/pages/2/", "/pages/1/", 1)
		},
		"listing the state record": func(m *staging.Manifest, rec *Record) {
			m.Pages[0].Key = "employees/" + rec.RunID + "/state.json"
		},
		"with wrong totals": func(m *staging.Manifest, rec *Record) { m.Records++ },
		"of schema 2":       func(m *staging.Manifest, rec *Record) { m.Schema = 2 },
		"listing a nested key": func(m *staging.Manifest, rec *Record) {
			m.Pages[0].Key = strings.Replace(m.Pages[0].Key, "/pages/2/", "/pages/2/x/", 1)
		},
	}
	for name, edit := range manifests {
		t.Run("manifest "+name, func(t *testing.T) {
			rec, _ := doneRun(t, tr, s, staging.Layout{}, 5, 5)
			// Rewrite the run as attempt 2 so that "earlier attempt" has
			// one to point at.
			key := "employees/" + rec.RunID + "/manifest.json"
			m, err := staging.ReadManifest(ctx, s, key)
			if err != nil {
				t.Fatal(err)
			}
			rec.Attempt, m.Attempt = 2, 2
			m.Pages[0].Key = strings.Replace(m.Pages[0].Key, "/pages/1/", "/pages/2/", 1)
			edit(m, rec)
			// Stored around WriteManifest, which would refuse some.
			data, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			put(t, s, key, data)
			if _, err := collect(t, reader, rec); !errors.Is(err, ErrBadManifest) {
				t.Fatalf("want ErrBadManifest, got %v", err)
			}
		})
	}
}

func TestRecordsStopsEarly(t *testing.T) {
	s := dirStore(t)
	tr := NewTracker(s, staging.Layout{})
	rec, _ := doneRun(t, tr, s, staging.Layout{}, 30, 10)
	n := 0
	for _, err := range NewReader(s, staging.Layout{}).Records(context.Background(), rec) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 12 {
			break
		}
	}
	if n != 12 {
		t.Fatalf("read %d", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n = 0
	var last error
	for _, err := range NewReader(s, staging.Layout{}).Records(ctx, rec) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 10 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || n != 10 {
		t.Fatalf("after cancel: %d records, %v", n, last)
	}
}

func TestListLatestDoneWait(t *testing.T) {
	forEachStore(t, func(t *testing.T, s staging.Store) {
		ctx := context.Background()
		clk := newClock()
		l := staging.Layout{BasePath: "base"}
		tr := NewTracker(s, l)
		tr.Now = clk.Now
		reader := NewReader(s, l)

		if _, err := reader.LatestDone(ctx, "employees"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("no runs: %v", err)
		}

		doneRec, _ := doneRun(t, tr, s, l, 3, 3)
		clk.Advance(time.Minute)
		failed := queued(t, tr)
		if err := tr.Update(ctx, failed, func(r *Record) {
			r.Status, r.Error = Failed, &ErrorInfo{Kind: "cancelled", Message: "by operator"}
		}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		running := claimed(t, tr)
		// Objects that are not state records are passed over.
		put(t, s, "base/employees/README", []byte("x"))
		put(t, s, "base/employees/"+running.Record.RunID+"/notes/state.json", []byte("x"))
		put(t, s, "base/positions/"+newRunID()+"/state.json", []byte("x"))

		recs, err := reader.List(ctx, "employees")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range recs {
			ids = append(ids, r.RunID)
		}
		want := []string{running.Record.RunID, failed.Record.RunID, doneRec.RunID}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Fatalf("List order %v, want %v", ids, want)
		}
		latest, err := reader.LatestDone(ctx, "employees")
		if err != nil || latest.RunID != doneRec.RunID {
			t.Fatalf("LatestDone %v, %v", latest, err)
		}

		// Wait returns a final run at once, and follows a running one to
		// its end.
		if rec, err := reader.Wait(ctx, "employees", failed.Record.RunID, time.Hour); err != nil || rec.Status != Failed {
			t.Fatalf("Wait on a failed run: %v, %v", rec, err)
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		rec, err := reader.Wait(short, "employees", running.Record.RunID, 5*time.Millisecond)
		if !errors.Is(err, context.DeadlineExceeded) || rec == nil || rec.Status != Running {
			t.Fatalf("Wait past its deadline: %v, %v", rec, err)
		}
		go func() {
			time.Sleep(20 * time.Millisecond)
			tr.Update(ctx, running, func(r *Record) { r.Status = Done })
		}()
		rec, err = reader.Wait(ctx, "employees", running.Record.RunID, 5*time.Millisecond)
		if err != nil || rec.Status != Done {
			t.Fatalf("Wait: %v, %v", rec, err)
		}
		if _, err := reader.Wait(ctx, "employees", newRunID(), time.Millisecond); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Wait on a missing run: %v", err)
		}
	})
}

func TestGetRefusesMisplacedRecord(t *testing.T) {
	s := dirStore(t)
	tr := NewTracker(s, staging.Layout{})
	run := queued(t, tr)
	other := newRunID()
	put(t, s, "employees/"+other+"/state.json", rawState(t, s, staging.Layout{}, "employees", run.Record.RunID))
	_, err := NewReader(s, staging.Layout{}).Get(context.Background(), "employees", other)
	if !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("record copied to another run's key: %v", err)
	}
	if _, err := tr.Get(context.Background(), "employees", "../x"); err == nil {
		t.Fatal("Get with a bad run id")
	}
}

func TestListMany(t *testing.T) {
	ctx := context.Background()
	s := dirStore(t)
	clk := newClock()
	tr := NewTracker(s, staging.Layout{})
	tr.Now = clk.Now
	reader := NewReader(s, staging.Layout{})

	// Runs created in the same instant are ordered by run id.
	var want []string
	for i := range 30 {
		if i%3 == 0 {
			clk.Advance(time.Second)
		}
		run := queued(t, tr)
		want = append(want, run.Record.RunID)
	}
	recs, err := reader.List(ctx, "employees")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) {
		t.Fatalf("listed %d runs, want %d", len(recs), len(want))
	}
	listed := map[string]bool{}
	for i, r := range recs {
		listed[r.RunID] = true
		if i > 0 {
			prev := recs[i-1]
			if prev.Created.Before(r.Created) ||
				(prev.Created.Equal(r.Created) && prev.RunID < r.RunID) {
				t.Fatalf("positions %d and %d out of order", i-1, i)
			}
		}
	}
	for _, id := range want {
		if !listed[id] {
			t.Fatalf("%s not listed", id)
		}
	}
	newest := map[string]bool{want[27]: true, want[28]: true, want[29]: true}
	if !newest[recs[0].RunID] || !newest[recs[1].RunID] || !newest[recs[2].RunID] {
		t.Fatal("the newest runs are not listed first")
	}

	bad := "employees/" + newRunID() + "/state.json"
	put(t, s, bad, []byte(`{"schema":1,"status":"paused"}`))
	_, err = reader.List(ctx, "employees")
	if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("List over a broken record: %v", err)
	}
	if _, err := reader.List(ctx, "Employees"); err == nil {
		t.Fatal("List of a bad data type")
	}
}
