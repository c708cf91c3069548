package staging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/techwolf/sfconnector/staging"
)

func encode(t testing.TB, e *staging.PageEncoder, recs ...string) ([]byte, int64, string) {
	t.Helper()
	e.Reset()
	for _, r := range recs {
		if err := e.WriteRecord([]byte(r)); err != nil {
			t.Fatalf("WriteRecord(%q): %v", r, err)
		}
	}
	data, n, sum, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(data), n, sum
}

func readAll(t *testing.T, data []byte, want staging.PageEntry) ([]string, error) {
	t.Helper()
	pr := staging.OpenPage(bytes.NewReader(data), want)
	var out []string
	for {
		line, err := pr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, string(line))
	}
}

func TestPageRoundTrip(t *testing.T) {
	recs := []string{
		`{"userId":"1001","name":"Zoë","salary":"123456.78"}`,
		`{"userId":"1002","note":"line\nbreak escaped","big":"9223372036854775807"}`,
		`{}`,
		`{"nested":{"a":[1,2,{"b":null}]},"emoji":"🙂"}`,
	}
	e := staging.NewPageEncoder()
	data, n, sum := encode(t, e, recs...)
	if n != int64(len(recs)) {
		t.Fatalf("records = %d, want %d", n, len(recs))
	}

	// Plain gzip and NDJSON: any reader can read it.
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if want := strings.Join(recs, "\n") + "\n"; string(plain) != want {
		t.Fatalf("page content %q, want %q", plain, want)
	}

	entry := staging.PageEntry{Key: "p/000001.jsonl.gz", Records: n, Bytes: int64(len(data)), SHA256: sum}
	got, err := readAll(t, data, entry)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(recs, "\n") {
		t.Errorf("read back %q, want %q", got, recs)
	}

	// The encoder is reused: a second page starts empty.
	data2, n2, sum2 := encode(t, e, `{"second":true}`)
	got, err = readAll(t, data2, staging.PageEntry{Key: "p2", Records: n2, Bytes: int64(len(data2)), SHA256: sum2})
	if err != nil || len(got) != 1 || got[0] != `{"second":true}` {
		t.Errorf("second page = %q, %v", got, err)
	}
}

func TestPageEncoderFoldsAndRefuses(t *testing.T) {
	e := staging.NewPageEncoder()
	data, _, _ := encode(t, e, "{\n  \"a\": 1,\n  \"b\": \"x\"\n}")
	zr, _ := gzip.NewReader(bytes.NewReader(data))
	plain, _ := io.ReadAll(zr)
	if string(plain) != `{"a":1,"b":"x"}`+"\n" {
		t.Errorf("multi-line record stored as %q", plain)
	}
	e.Reset()
	for _, bad := range []string{"", "[1,2]", `"str"`, "42", "{\n\"a\":", "{broken\n}"} {
		if err := e.WriteRecord([]byte(bad)); err == nil {
			t.Errorf("WriteRecord(%q) accepted", bad)
		}
	}
	if e.Records() != 0 {
		t.Errorf("refused records counted: %d", e.Records())
	}
	if _, _, _, err := e.Finish(); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteRecord([]byte(`{}`)); err == nil {
		t.Error("WriteRecord after Finish accepted")
	}
}

func TestPageMismatch(t *testing.T) {
	e := staging.NewPageEncoder()
	data, n, sum := encode(t, e, `{"a":1}`, `{"a":2}`, `{"a":3}`)
	good := staging.PageEntry{Key: "run/pages/1/000007.jsonl.gz", Records: n, Bytes: int64(len(data)), SHA256: sum}

	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x40
	otherData, _, _ := encode(t, e, `{"a":1}`, `{"a":2}`)
	unterminated := func() []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(`{"a":1}` + "\n" + `{"a":2}`))
		zw.Close()
		return b.Bytes()
	}()

	for _, tc := range []struct {
		name  string
		data  []byte
		entry func(staging.PageEntry) staging.PageEntry
	}{
		{"record count", data, func(p staging.PageEntry) staging.PageEntry { p.Records = 4; return p }},
		{"byte count", data, func(p staging.PageEntry) staging.PageEntry { p.Bytes++; return p }},
		{"sha256", data, func(p staging.PageEntry) staging.PageEntry { p.SHA256 = strings.Repeat("0", 64); return p }},
		{"flipped bit", flipped, func(p staging.PageEntry) staging.PageEntry { return p }},
		{"truncated", data[:len(data)-5], func(p staging.PageEntry) staging.PageEntry { return p }},
		{"trailing garbage", append(bytes.Clone(data), "junk"...), func(p staging.PageEntry) staging.PageEntry { return p }},
		{"another page", otherData, func(p staging.PageEntry) staging.PageEntry { return p }},
		{"not gzip", []byte(`{"a":1}` + "\n"), func(p staging.PageEntry) staging.PageEntry { return p }},
		{"empty", nil, func(p staging.PageEntry) staging.PageEntry { return p }},
		{"last line unterminated", unterminated, func(p staging.PageEntry) staging.PageEntry { return p }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, tc.data, tc.entry(good))
			var pe *staging.PageError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *PageError", err)
			}
			if pe.Key != good.Key || !strings.Contains(err.Error(), good.Key) {
				t.Errorf("error %q does not name key %q", err, good.Key)
			}
			if !errors.Is(err, staging.ErrBadPage) {
				t.Errorf("error %v does not wrap ErrBadPage", err)
			}
		})
	}
}

func TestPageLongRecord(t *testing.T) {
	big := `{"blob":"` + strings.Repeat("x", 300<<10) + `"}`
	e := staging.NewPageEncoder()
	data, n, sum := encode(t, e, `{"small":1}`, big, `{"small":2}`)
	got, err := readAll(t, data, staging.PageEntry{Key: "k", Records: n, Bytes: int64(len(data)), SHA256: sum})
	if err != nil || len(got) != 3 || got[1] != big {
		t.Fatalf("long record read back wrong: %d records, %v", len(got), err)
	}
}

func TestWriteAndReadPageThroughStore(t *testing.T) {
	ctx := context.Background()
	s := newDirStore(t)
	l := staging.Layout{BasePath: "exports"}
	e := staging.NewPageEncoder()
	var pages []staging.PageEntry
	for seq := range 3 {
		e.Reset()
		for i := range 100 {
			if err := e.WriteRecord(fmt.Appendf(nil, `{"page":%d,"i":%d}`, seq, i)); err != nil {
				t.Fatal(err)
			}
		}
		data, n, sum, err := e.Finish()
		if err != nil {
			t.Fatal(err)
		}
		key, err := l.PageKey("employee", runID, 1, seq)
		if err != nil {
			t.Fatal(err)
		}
		entry, err := staging.WritePage(ctx, s, key, data, n, sum)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, entry)
	}
	total := 0
	for _, p := range pages {
		for rec, err := range staging.ReadPage(ctx, s, p) {
			if err != nil {
				t.Fatal(err)
			}
			var v struct{ Page, I int }
			if err := json.Unmarshal(rec, &v); err != nil {
				t.Fatal(err)
			}
			total++
		}
	}
	if total != 300 {
		t.Errorf("read %d records, want 300", total)
	}

	// A page overwritten after the manifest was made is caught.
	if _, err := s.Put(ctx, pages[1].Key, strings.NewReader("tampered"), -1, staging.Condition{}); err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range staging.ReadPage(ctx, s, pages[1]) {
		last = err
	}
	if !errors.Is(last, staging.ErrBadPage) {
		t.Errorf("tampered page: err = %v, want ErrBadPage", last)
	}
	missing := pages[0]
	missing.Key = "exports/nothing"
	for _, err := range staging.ReadPage(ctx, s, missing) {
		last = err
	}
	if !errors.Is(last, staging.ErrNotFound) {
		t.Errorf("missing page: err = %v, want ErrNotFound", last)
	}
}

func TestManifest(t *testing.T) {
	ctx := context.Background()
	s := newDirStore(t)
	key, _ := staging.Layout{}.ManifestKey("employee", runID)
	m := &staging.Manifest{
		RunID: runID, DataType: "employee", Attempt: 1, Query: "/odata/v2/PerPerson?$top=1000",
		Pages: []staging.PageEntry{
			{Key: "employee/" + runID + "/pages/1/000000.jsonl.gz", Records: 1000, Bytes: 4096, SHA256: strings.Repeat("a", 64)},
			{Key: "employee/" + runID + "/pages/1/000001.jsonl.gz", Records: 17, Bytes: 200, SHA256: strings.Repeat("b", 64)},
		},
		Records: 1017, Bytes: 4296, Duplicates: 3,
	}
	if err := staging.WriteManifest(ctx, s, key, m); err != nil {
		t.Fatal(err)
	}
	if err := staging.WriteManifest(ctx, s, key, m); !errors.Is(err, staging.ErrPrecondition) {
		t.Errorf("second WriteManifest: err = %v, want ErrPrecondition", err)
	}
	got, err := staging.ReadManifest(ctx, s, key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != 1 || got.Records != 1017 || len(got.Pages) != 2 || got.Pages[1] != m.Pages[1] || got.Duplicates != 3 {
		t.Errorf("read back %+v", got)
	}
	obj, _ := s.Get(ctx, key)
	raw, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !bytes.Contains(raw, []byte(`"schema":1`)) {
		t.Errorf("manifest JSON lacks schema 1: %s", raw)
	}

	bad := *m
	bad.Records = 1
	if err := staging.WriteManifest(ctx, s, "other.json", &bad); err == nil {
		t.Error("manifest with wrong totals written")
	}
	s.Put(ctx, "future.json", strings.NewReader(`{"schema":2}`), -1, staging.Condition{})
	if _, err := staging.ReadManifest(ctx, s, "future.json"); err == nil {
		t.Error("manifest of schema 2 read")
	}
	if _, err := staging.ReadManifest(ctx, s, "absent.json"); !errors.Is(err, staging.ErrNotFound) {
		t.Errorf("missing manifest: err = %v, want ErrNotFound", err)
	}
}

func BenchmarkPageEncoder(b *testing.B) {
	// Records shaped like SF's: a dozen short fields.
	var recs [][]byte
	for i := range 1000 {
		recs = append(recs, fmt.Appendf(nil,
			`{"userId":"%06d","personIdExternal":"P%06d","firstName":"Name%d","lastName":"Family%d","email":"user%d@example.com","startDate":"2019-07-26T09:45:16","lastModifiedDateTime":"2021-04-19T01:35:44Z","salary":"%d.50","country":"DEU","status":"active","manager":"%06d"}`,
			i, i, i, i%97, i, 40000+i*13, i/10))
	}
	var size int64
	for _, r := range recs {
		size += int64(len(r) + 1)
	}
	e := staging.NewPageEncoder()
	b.SetBytes(size)
	b.ReportAllocs()
	var out int
	for b.Loop() {
		e.Reset()
		for _, r := range recs {
			if err := e.WriteRecord(r); err != nil {
				b.Fatal(err)
			}
		}
		data, _, _, err := e.Finish()
		if err != nil {
			b.Fatal(err)
		}
		out = len(data)
	}
	b.ReportMetric(float64(size)/float64(out), "ratio")
}
