package staging_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

// FuzzLayout checks that every key Layout builds is a valid key that stays
// below its base path.
func FuzzLayout(f *testing.F) {
	for _, s := range []string{"", "exports", "a/b/", "../x", "a%2Fb", "a\x00", "/abs", "ü/ß"} {
		f.Add(s, "employee", runID, 1, 0)
	}
	f.Fuzz(func(t *testing.T, base, dataType, id string, attempt, seq int) {
		l := staging.Layout{BasePath: base}
		key, err := l.PageKey(dataType, id, attempt, seq)
		if err != nil {
			return
		}
		if err := staging.CheckKey(key); err != nil {
			t.Fatalf("PageKey built invalid key %q: %v", key, err)
		}
		want := strings.TrimSuffix(base, "/")
		if want != "" && !strings.HasPrefix(key, want+"/") {
			t.Fatalf("key %q is not below base %q", key, base)
		}
		for _, seg := range strings.Split(key, "/") {
			if seg == ".." || seg == "." || strings.ContainsAny(seg, "%\\") {
				t.Fatalf("key %q has segment %q", key, seg)
			}
		}
	})
}

// FuzzOpenPage feeds arbitrary bytes to the page reader: it must end with
// io.EOF only when the bytes match the entry, and never panic.
func FuzzOpenPage(f *testing.F) {
	e := staging.NewPageEncoder()
	e.WriteRecord([]byte(`{"a":1}`))
	good, _, _, _ := e.Finish()
	f.Add(bytes.Clone(good))
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entry := staging.PageEntry{Key: "k", Records: 1, Bytes: int64(len(good)), SHA256: "x"}
		pr := staging.OpenPage(bytes.NewReader(data), entry)
		for range 1000 {
			if _, err := pr.Next(); err != nil {
				if err == io.EOF {
					t.Fatal("a page with a wrong SHA-256 ended cleanly")
				}
				return
			}
		}
	})
}
