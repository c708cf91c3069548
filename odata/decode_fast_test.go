package odata

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// samePage checks that decodePageFast and decodePage agree on body:
// records, links, counts and error text.
func samePage(t *testing.T, body []byte) {
	t.Helper()
	var slow, fast Page
	errSlow := decodePage(bytes.NewReader(body), &slow)
	errFast := decodePageFast(bytes.NewReader(body), &fast)
	if (errSlow == nil) != (errFast == nil) || (errSlow != nil && errSlow.Error() != errFast.Error()) {
		t.Fatalf("body %q:\nslow error %v\nfast error %v", body, errSlow, errFast)
	}
	if errSlow != nil {
		return
	}
	if slow.Next != fast.Next || slow.Count != fast.Count || slow.HasCount != fast.HasCount ||
		!slices.EqualFunc(slow.Records, fast.Records, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
		t.Fatalf("body %q:\nslow %+v\nfast %+v", body, slow, fast)
	}
}

var fastSeeds = []string{
	`{"d":{"results":[{"a":1},{"b":"x\"}"}],"__next":"https://h/odata/v2/U?$skiptoken=a","__count":"2"}}`,
	`{"d":{"results":[]}}`,
	`{"d":[{"a":[1,2,{"c":"]"}]}]}`,
	` { "x" : [1,{"d":2}] , "d" : { "__count" : 5 , "results" : [ {"a":"\\"} , 3 ] , "__next" : null } } `,
	`{"d":{"results":[{"a":1}],"results":[{"b":2}]}}`,
	`{"d":{"results":[{"a":1}]},"d":{"results":[]}}`,
	`{"\u0064":{"results":[{"a":1}]}}`,
	`{"d":{"re\u0073ults":[{"a":1}]}}`,
	`{"d":{"results":[{"a":1}],"__next":"\u0068ttps://h/x"}}`,
	`{"d":{"results":[{"a":1}],"__next":5}}`,
	`{"d":{"results":[{"a":1}],"__count":"-1"}}`,
	`{"d":{"results":[{"a":1}],"__count":"1.5"}}`,
	`{"d":{"results":{"a":1}}}`,
	`{"d":{"__count":"3"}}`,
	`{"d":"x"}`,
	`{"e":1}`,
	`[]`,
	``,
	`{"d":{"results":[{"a":1}`,
	`{"d":{"results":[{"a":1}]}} {}`,
	`{"d":{"results":[{"a":"\u00e9\ud83d\ude00"}]}}`,
}

func TestDecodePageFastMatches(t *testing.T) {
	for _, s := range fastSeeds {
		samePage(t, []byte(s))
	}
	// A body cut at every byte.
	page := []byte(fastSeeds[0])
	for n := range len(page) {
		samePage(t, page[:n])
	}
}

func TestDecodePageFastReadError(t *testing.T) {
	body := fastSeeds[0]
	for _, n := range []int{0, 10, len(body) - 1} {
		var slow, fast Page
		boom := errors.New("connection reset")
		errSlow := decodePage(io.MultiReader(bytes.NewReader([]byte(body[:n])), iotest.ErrReader(boom)), &slow)
		errFast := decodePageFast(io.MultiReader(bytes.NewReader([]byte(body[:n])), iotest.ErrReader(boom)), &fast)
		if errSlow == nil || errFast == nil || errSlow.Error() != errFast.Error() || !errors.Is(errFast, boom) {
			t.Errorf("cut at %d: slow %v, fast %v", n, errSlow, errFast)
		}
	}
	var p Page
	err := decodePageFast(&limitReader{r: bytes.NewReader([]byte(body)), n: 10}, &p)
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("over the limit: %v", err)
	}
}

func TestDecodePageFastRecordsOwnTheirBytes(t *testing.T) {
	var p Page
	if err := decodePageFast(bytes.NewReader([]byte(`{"d":[{"a":1},{"b":2}]}`)), &p); err != nil {
		t.Fatal(err)
	}
	_ = append(p.Records[0], "xxxxxxxx"...)
	if string(p.Records[1]) != `{"b":2}` {
		t.Errorf("appending to a record changed the next: %s", p.Records[1])
	}
	// The pooled body buffer is reused by the next page; the records
	// must not change with it.
	var q Page
	decodePageFast(bytes.NewReader([]byte(`{"d":[{"zzzzzzzzzzzzzz":1}]}`)), &q)
	if string(p.Records[0]) != `{"a":1}` {
		t.Errorf("record changed by the next page: %s", p.Records[0])
	}
}

func FuzzDecodePageFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		samePage(t, body)
	})
}

// BenchmarkDecodePageFast is BenchmarkDecodePage through decodePageFast.
func BenchmarkDecodePageFast(b *testing.B) {
	const n = 1000
	body := userPage(n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var p Page
		if err := decodePageFast(bytes.NewReader(body), &p); err != nil || len(p.Records) != n {
			b.Fatal(err, len(p.Records))
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
}
