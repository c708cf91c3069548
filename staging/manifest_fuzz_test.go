package staging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

// oneObject is a store holding one manifest, enough for ReadManifest.
type oneObject struct{ data []byte }

func (o oneObject) Put(context.Context, string, io.Reader, int64, staging.Condition) (string, error) {
	return "", staging.ErrPrecondition
}

func (o oneObject) Get(context.Context, string) (*staging.Object, error) {
	return &staging.Object{Body: io.NopCloser(bytes.NewReader(o.data)), Size: int64(len(o.data))}, nil
}

func (o oneObject) List(context.Context, string) ([]staging.ObjectInfo, error) { return nil, nil }
func (o oneObject) Delete(context.Context, string) error                       { return nil }

// FuzzReadManifest: a manifest is accepted only when every page key is a
// valid key, the run id and data type can be part of a key, and the
// totals are the sums of its pages.
func FuzzReadManifest(f *testing.F) {
	good := `{"schema":1,"runId":"` + runID + `","dataType":"users","attempt":1,"query":"User",` +
		`"pages":[{"key":"b/users/` + runID + `/pages/1/000000.jsonl.gz","records":2,"bytes":10,"sha256":"00"}],` +
		`"records":2,"bytes":10,"duplicates":0,"created":"2026-01-01T00:00:00Z"}`
	f.Add([]byte(good))
	f.Add([]byte(strings.Replace(good, `"records":2,"bytes":10,"d`, `"records":3,"bytes":10,"d`, 1)))
	f.Add([]byte(strings.Replace(good, "b/users/", "../users/", 1)))
	f.Add([]byte(strings.Replace(good, `"dataType":"users"`, `"dataType":"a%2Fb"`, 1)))
	f.Add([]byte(`{"schema":2}`))
	f.Add([]byte(`{"schema":1,"pages":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := staging.ReadManifest(context.Background(), oneObject{data}, "m")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "staging: ") {
				t.Fatalf("message %q lacks the package prefix", err)
			}
			return
		}
		if staging.CheckRunID(m.RunID) != nil || staging.CheckDataType(m.DataType) != nil {
			t.Fatalf("accepted run %q of data type %q", m.RunID, m.DataType)
		}
		var records, size int64
		for _, p := range m.Pages {
			if err := staging.CheckKey(p.Key); err != nil {
				t.Fatalf("accepted page key %q: %v", p.Key, err)
			}
			for _, seg := range strings.Split(p.Key, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("accepted page key %q", p.Key)
				}
			}
			records += p.Records
			size += p.Bytes
		}
		if records != m.Records || size != m.Bytes {
			t.Fatalf("accepted totals %d/%d over pages summing to %d/%d", m.Records, m.Bytes, records, size)
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := staging.ReadManifest(context.Background(), oneObject{out}, "m"); err != nil {
			t.Fatalf("own encoding refused: %v", err)
		}
	})
}
