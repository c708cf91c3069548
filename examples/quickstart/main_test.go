package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// The quickstart runs every data type to done, prints a table row for
// each, and leaves runs that the reading side can ingest.
func TestQuickstart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	dir := t.TempDir()
	var out bytes.Buffer
	failed, err := run(ctx, &out, false, dir, 200, 4)
	if err != nil || failed != 0 {
		t.Fatalf("run: %d failed, err %v\n%s", failed, err, out.String())
	}

	names := connector.DefaultCatalog().Names()
	table := out.String()[strings.Index(out.String(), "DATA TYPE"):]
	if rows := strings.Count(table, "\n") - 1; rows != len(names) {
		t.Fatalf("table has %d rows for %d data types:\n%s", rows, len(names), table)
	}

	store, err := staging.NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reader := runstate.NewReader(store, staging.Layout{})
	for _, name := range names {
		if !strings.Contains(table, name+" ") {
			t.Errorf("no row for %s", name)
		}
		rec, err := reader.LatestDone(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var n int64
		for _, err := range reader.Records(ctx, rec) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			n++
		}
		if n != rec.Records || n == 0 {
			t.Errorf("%s: read %d records, state says %d", name, n, rec.Records)
		}
	}
	if name := "users"; !strings.Contains(out.String(), name+": done, ") {
		t.Errorf("no progress line for %s:\n%s", name, out.String())
	}
}
