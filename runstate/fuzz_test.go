package runstate

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecodeRecord checks that DecodeRecord never panics, that whatever it
// accepts is valid and survives Encode and a second decode unchanged, and
// that whatever it refuses is refused with ErrInvalidRecord. Seeds live in
// testdata/fuzz/FuzzDecodeRecord.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(goodRecord))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeRecord(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("refusal without ErrInvalidRecord: %v", err)
			}
			return
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("accepted an invalid record: %v", err)
		}
		out, err := rec.Encode()
		if err != nil {
			t.Fatalf("cannot encode an accepted record: %v", err)
		}
		again, err := DecodeRecord(out)
		if err != nil {
			t.Fatalf("cannot decode own encoding: %v\n%s", err, out)
		}
		if !sameRecord(rec, again) {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", rec, again)
		}
	})
}

// sameRecord compares two records, with Extra compared as compact JSON
// since Encode compacts it.
func sameRecord(a, b *Record) bool {
	ca, cb := a.Clone(), b.Clone()
	ca.Extra, cb.Extra = compact(ca.Extra), compact(cb.Extra)
	return reflect.DeepEqual(ca, cb)
}

func compact(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}
