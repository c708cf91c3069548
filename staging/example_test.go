package staging_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/techwolf/sfconnector/staging"
)

func ExampleLayout() {
	l := staging.Layout{BasePath: "exports/sf"}
	const run = "0190f5c2-7b1e-7c3a-9d4e-5f6a7b8c9d0e"

	state, _ := l.StateKey("employee", run)
	page, _ := l.PageKey("employee", run, 1, 42)
	fmt.Println(state)
	fmt.Println(page)

	_, err := l.StateKey("../employee", run)
	fmt.Println(err)
	// Output:
	// exports/sf/employee/0190f5c2-7b1e-7c3a-9d4e-5f6a7b8c9d0e/state.json
	// exports/sf/employee/0190f5c2-7b1e-7c3a-9d4e-5f6a7b8c9d0e/pages/1/000042.jsonl.gz
	// staging: invalid data type "../employee": want [a-z][a-z0-9_]{0,63}
}

// A page is encoded, written, listed in the manifest and read back; the
// reader checks it against its manifest entry.
func ExamplePageEncoder() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "staging-example-")
	defer os.RemoveAll(dir)
	store, err := staging.NewDirStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	l := staging.Layout{}
	const run = "0190f5c2-7b1e-7c3a-9d4e-5f6a7b8c9d0e"
	enc := staging.NewPageEncoder()
	for _, rec := range []string{`{"userId":"1001"}`, `{"userId":"1002"}`} {
		if err := enc.WriteRecord([]byte(rec)); err != nil {
			log.Fatal(err)
		}
	}
	data, records, sum, err := enc.Finish()
	if err != nil {
		log.Fatal(err)
	}
	key, _ := l.PageKey("employee", run, 1, 0)
	entry, err := staging.WritePage(ctx, store, key, data, records, sum)
	if err != nil {
		log.Fatal(err)
	}

	manifestKey, _ := l.ManifestKey("employee", run)
	m := &staging.Manifest{RunID: run, DataType: "employee", Attempt: 1,
		Pages: []staging.PageEntry{entry}, Records: entry.Records, Bytes: entry.Bytes}
	if err := staging.WriteManifest(ctx, store, manifestKey, m); err != nil {
		log.Fatal(err)
	}

	m, err = staging.ReadManifest(ctx, store, manifestKey)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range m.Pages {
		for rec, err := range staging.ReadPage(ctx, store, p) {
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println(string(rec))
		}
	}
	// Output:
	// {"userId":"1001"}
	// {"userId":"1002"}
}

// Conditional puts make a store usable for compare-and-swap: a create
// with IfAbsent wins once, and an update with IfMatch wins only against
// the version it read.
func ExampleCondition() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "staging-example-")
	defer os.RemoveAll(dir)
	store, err := staging.NewDirStore(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	put := func(body string, cond staging.Condition) (string, error) {
		return store.Put(ctx, "runs/state.json", strings.NewReader(body), int64(len(body)), cond)
	}
	etag, err := put(`{"status":"queued"}`, staging.Condition{IfAbsent: true})
	fmt.Println("create:", err)
	_, err = put(`{"status":"queued"}`, staging.Condition{IfAbsent: true})
	fmt.Println("create again:", errors.Is(err, staging.ErrPrecondition))

	_, err = put(`{"status":"running"}`, staging.Condition{IfMatch: etag})
	fmt.Println("update:", err)
	_, err = put(`{"status":"failed"}`, staging.Condition{IfMatch: etag})
	fmt.Println("stale update:", errors.Is(err, staging.ErrPrecondition))

	_, err = store.Get(ctx, "runs/missing.json")
	fmt.Println("get missing:", errors.Is(err, staging.ErrNotFound))
	// Output:
	// create: <nil>
	// create again: true
	// update: <nil>
	// stale update: true
	// get missing: true
}
