package odata

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// B07: the /Date()/ forms SF sends.
func TestB07ParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"/Date(1618796144000+0000)/", time.Date(2021, 4, 19, 1, 35, 44, 0, time.UTC)},
		{"/Date(1454332153030+0200)/", time.Date(2016, 2, 1, 13, 9, 13, 30e6, time.UTC)},
		{"/Date(1454332153030-0530)/", time.Date(2016, 2, 1, 13, 9, 13, 30e6, time.UTC)},
		{"/Date(1583107200000)/", time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)},
		{"/Date(-2208988800000)/", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"/Date(-2208988800000+0000)/", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"/Date(253402214400000)/", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)},
		{`\/Date(1583107200000)\/`, time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)},
		{"/Date(0)/", time.Unix(0, 0).UTC()},
		{"2021-01-05T15:16:23Z", time.Date(2021, 1, 5, 15, 16, 23, 0, time.UTC)},
		{"2021-01-05T17:16:23+02:00", time.Date(2021, 1, 5, 15, 16, 23, 0, time.UTC)},
	} {
		got, err := ParseDate(tc.in)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestB07ParseDateGarbage(t *testing.T) {
	for _, in := range []string{
		"/Date(abc)/", "/Date()/", "/Date(1+)/", "/Date(1+00000)/", "/Date(1+ab)/",
		"/Date(+1)/", "/Date(1--0100)/", "/Date(99999999999999999999)/",
		"/Date(9007199254740993)/", "/Date(1)", "Date(1)/", "/Date(", "", "null", "2021-13-45",
	} {
		_, err := ParseDate(in)
		if !errors.Is(err, ErrBadValue) {
			t.Errorf("ParseDate(%q): error %v", in, err)
			continue
		}
		if !strings.Contains(err.Error(), in) {
			t.Errorf("ParseDate(%q): error %q does not quote the value", in, err)
		}
	}
}

// B07: the fixture record, each property by its EDM type.
func TestB07NormalizeDates(t *testing.T) {
	rec := json.RawMessage(`{"lastModifiedDateTime":"/Date(1618796144000+0000)/","createdDateTime":"\/Date(1454332153030+0200)\/",` +
		`"endDate":"/Date(1583107200000)/","effStart":"/Date(-2208988800000)/","lastModified":"/Date(1564134316000)/",` +
		`"gone":null,"name":"/Date(x)/","n":1}`)
	got, err := NormalizeDates(rec, map[string]DateKind{
		"lastModifiedDateTime": EdmDateTimeOffset,
		"createdDateTime":      EdmDateTimeOffset,
		"endDate":              EdmDateOnly,
		"effStart":             EdmDateOnly,
		"lastModified":         EdmDateTime,
		"gone":                 EdmDateTimeOffset,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"lastModifiedDateTime":"2021-04-19T01:35:44Z","createdDateTime":"2016-02-01T13:09:13.030Z",` +
		`"endDate":"2020-03-02","effStart":"1900-01-01","lastModified":"2019-07-26T09:45:16",` +
		`"gone":null,"name":"/Date(x)/","n":1}`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	_, err = NormalizeDates(json.RawMessage(`{"a":1,"hireDate":"/Date(abc)/"}`), map[string]DateKind{"hireDate": EdmDateOnly})
	if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), `"hireDate"`) ||
		!strings.Contains(err.Error(), "/Date(abc)/") {
		t.Errorf("garbage: %v", err)
	}
	for _, bad := range []string{`[]`, `{"a":`, `{"a":1}x`, `{"hireDate":5}`} {
		if _, err := NormalizeDates(json.RawMessage(bad), map[string]DateKind{"hireDate": EdmDateOnly}); err == nil {
			t.Errorf("NormalizeDates(%s): no error", bad)
		}
	}
}

func TestFormatDates(t *testing.T) {
	tm := time.Date(2016, 2, 1, 13, 9, 13, 30e6+123, time.UTC)
	if got := FormatDateTimeOffset(tm); got != "2016-02-01T13:09:13.030Z" {
		t.Errorf("offset %q", got)
	}
	berlin := time.FixedZone("CET", 3600)
	if got := FormatDateTimeOffset(time.Date(2021, 4, 19, 3, 35, 44, 0, berlin)); got != "2021-04-19T02:35:44Z" {
		t.Errorf("offset in zone %q", got)
	}
	if got := FormatDateTime(time.Date(2019, 7, 26, 9, 45, 16, 0, berlin)); got != "2019-07-26T09:45:16" {
		t.Errorf("datetime %q", got)
	}
	if got := FormatDateTime(tm); got != "2016-02-01T13:09:13.030" {
		t.Errorf("datetime with ms %q", got)
	}
	if got := FormatDate(tm); got != "2016-02-01" {
		t.Errorf("date %q", got)
	}
}

// B15: 64-bit integers and decimals stay exact; a Double may be a number
// or a string; null stays null.
func TestB15Numbers(t *testing.T) {
	fixture := `{"backgroundElementId":"9007199254740993","bgOrderPos":"2","price":"200.20","fte":1.0,"amount":null}`
	var p Page
	if err := decodePage(strings.NewReader(`{"d":{"results":[`+fixture+`]}}`), &p); err != nil {
		t.Fatal(err)
	}
	if string(p.Records[0]) != fixture {
		t.Fatalf("record changed:\n%s", p.Records[0])
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(p.Records[0], &m); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := Int64Value(m["backgroundElementId"]); v != 9007199254740993 || !ok || err != nil {
		t.Errorf("Int64 %d %v %v", v, ok, err)
	}
	if v, ok, err := Int64Value(m["bgOrderPos"]); v != 2 || !ok || err != nil {
		t.Errorf("Int64 %d %v %v", v, ok, err)
	}
	if v, ok, err := DecimalValue(m["price"]); v != "200.20" || !ok || err != nil {
		t.Errorf("Decimal %q %v %v", v, ok, err)
	}
	for _, raw := range []string{`1.0`, `"1.0"`, `"1"`, `1e0`} {
		if v, ok, err := DoubleValue(json.RawMessage(raw)); v != 1 || !ok || err != nil {
			t.Errorf("Double(%s) %v %v %v", raw, v, ok, err)
		}
	}
	for _, f := range []func(json.RawMessage) (bool, error){
		func(r json.RawMessage) (bool, error) { _, ok, err := Int64Value(r); return ok, err },
		func(r json.RawMessage) (bool, error) { _, ok, err := DecimalValue(r); return ok, err },
		func(r json.RawMessage) (bool, error) { _, ok, err := DoubleValue(r); return ok, err },
	} {
		if ok, err := f(m["amount"]); ok || err != nil {
			t.Errorf("null: ok %v err %v", ok, err)
		}
		if _, err := f(json.RawMessage(`"12abc"`)); !errors.Is(err, ErrBadValue) {
			t.Errorf("garbage: %v", err)
		}
		if _, err := f(json.RawMessage(`true`)); !errors.Is(err, ErrBadValue) {
			t.Errorf("bool: %v", err)
		}
	}
	if _, _, err := Int64Value(json.RawMessage(`"9223372036854775808"`)); !errors.Is(err, ErrBadValue) {
		t.Errorf("overflow: %v", err)
	}
}
