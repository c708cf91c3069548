package odata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrBadValue is wrapped by every error about a value that cannot be read
// as the type asked for.
var ErrBadValue = errors.New("odata: bad value")

// ParseDate turns "/Date(ms)/" or "/Date(ms+hhmm)/" into a UTC time.
// The milliseconds count from the Unix epoch in UTC and may be negative;
// the optional ±hhmm suffix is the offset the value was entered in and does
// not move the instant. The escaped form "\/Date(ms)\/", as it appears in
// raw JSON text, is accepted too. RFC 3339 text, which some OData V2
// servers send instead, is also accepted.
func ParseDate(s string) (time.Time, error) {
	inner, ok := dateInner(s)
	if !ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%w: not a date: %q", ErrBadValue, clip(s))
	}

	ms := inner
	if i := strings.LastIndexAny(inner, "+-"); i > 0 {
		ms = inner[:i]
		if !validOffset(inner[i+1:]) {
			return time.Time{}, fmt.Errorf("%w: bad offset in date %q (want +hhmm or -hhmm)", ErrBadValue, clip(s))
		}
	}
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil || strings.HasPrefix(ms, "+") {
		return time.Time{}, fmt.Errorf("%w: bad milliseconds in date %q", ErrBadValue, clip(s))
	}
	// time.UnixMilli overflows silently beyond about ±292 million years.
	const limit = 1 << 53
	if n > limit || n < -limit {
		return time.Time{}, fmt.Errorf("%w: date out of range %q", ErrBadValue, clip(s))
	}
	return time.UnixMilli(n).UTC(), nil
}

// validOffset reports whether off is hhmm: four digits, hh at most 23
// and mm at most 59.
func validOffset(off string) bool {
	if len(off) != 4 || !allDigits(off) {
		return false
	}
	return off[:2] <= "23" && off[2:] <= "59"
}

// dateInner returns the text between "/Date(" and ")/".
func dateInner(s string) (string, bool) {
	for _, f := range [][2]string{{"/Date(", ")/"}, {`\/Date(`, `)\/`}} {
		if strings.HasPrefix(s, f[0]) && strings.HasSuffix(s, f[1]) &&
			len(s) >= len(f[0])+len(f[1]) {
			return s[len(f[0]) : len(s)-len(f[1])], true
		}
	}
	return "", false
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// FormatDateTimeOffset writes an instant as RFC 3339 in UTC:
// "2021-04-19T01:35:44Z", or with exactly three fractional digits when the
// time has a fraction of a second: "2016-02-01T13:09:13.030Z". Precision
// below a millisecond, which /Date()/ values never carry, is dropped.
func FormatDateTimeOffset(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/int(time.Millisecond) != 0 {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

// FormatDateTime writes the clock reading of t, in t's own location,
// without a zone: "2019-07-26T09:45:16", or with three fractional digits
// when the time has a fraction of a second. Edm.DateTime values are
// wall-clock times; a time from [ParseDate] is in UTC, which gives back the
// reading SF sent.
func FormatDateTime(t time.Time) string {
	if t.Nanosecond()/int(time.Millisecond) != 0 {
		return t.Format("2006-01-02T15:04:05.000")
	}
	return t.Format("2006-01-02T15:04:05")
}

// FormatDate writes the date of t in t's own location: "2020-03-02".
func FormatDate(t time.Time) string { return t.Format(time.DateOnly) }

// DateKind says how a date property is written by [NormalizeDate].
type DateKind int

const (
	// EdmDateTimeOffset is an Edm.DateTimeOffset: RFC 3339 in UTC.
	EdmDateTimeOffset DateKind = iota + 1
	// EdmDateTime is an Edm.DateTime: RFC 3339 without a zone.
	EdmDateTime
	// EdmDateOnly is an Edm.DateTime marked date-only: "2006-01-02".
	EdmDateOnly
)

// NormalizeDate turns one raw JSON date value into a JSON string of the
// given kind. null stays null. A value that is not a date is an error
// quoting it.
func NormalizeDate(raw json.RawMessage, kind DateKind) (json.RawMessage, error) {
	s, isNull, err := stringValue(raw)
	if err != nil || isNull {
		return raw, err
	}
	t, err := ParseDate(s)
	if err != nil {
		return nil, err
	}
	var out string
	switch kind {
	case EdmDateTimeOffset:
		out = FormatDateTimeOffset(t)
	case EdmDateTime:
		out = FormatDateTime(t)
	case EdmDateOnly:
		out = FormatDate(t)
	default:
		return nil, fmt.Errorf("%w: unknown date kind %d", ErrBadValue, kind)
	}
	return json.RawMessage(`"` + out + `"`), nil
}

// NormalizeDates rewrites the named top-level date properties of a JSON
// object with [NormalizeDate], keeping every other property and the order
// of all of them. An error names the property and quotes the value.
func NormalizeDates(record json.RawMessage, kinds map[string]DateKind) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("%w: record is not a JSON object", ErrBadValue)
	}

	var out bytes.Buffer
	out.Grow(len(record))
	out.WriteByte('{')
	for i := 0; dec.More(); i++ {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: record: %v", ErrBadValue, err)
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: record: %v", ErrBadValue, err)
		}
		if kind, ok := kinds[name]; ok {
			if v, err = NormalizeDate(v, kind); err != nil {
				return nil, fmt.Errorf("odata: property %q: %w", name, err)
			}
		}
		if i > 0 {
			out.WriteByte(',')
		}
		key, _ := json.Marshal(name)
		out.Write(key)
		out.WriteByte(':')
		out.Write(v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: record: %v", ErrBadValue, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: record: trailing data", ErrBadValue)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// Int64Value reads an Edm.Int64 (or smaller) value sent as a JSON string,
// as OData V2 does, or as a number. ok is false for null.
func Int64Value(raw json.RawMessage) (v int64, ok bool, err error) {
	s, isNull, err := numberText(raw)
	if err != nil || isNull {
		return 0, false, err
	}
	v, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: not an Int64: %q", ErrBadValue, clip(s))
	}
	return v, true, nil
}

// DecimalValue returns the exact text of an Edm.Decimal sent as a JSON
// string or number, for a caller to keep as text or read into a
// [math/big.Rat]. ok is false for null.
func DecimalValue(raw json.RawMessage) (v string, ok bool, err error) {
	s, isNull, err := numberText(raw)
	if err != nil || isNull {
		return "", false, err
	}
	if _, err := strconv.ParseFloat(s, 64); err != nil && !isDecimal(s) {
		return "", false, fmt.Errorf("%w: not a Decimal: %q", ErrBadValue, clip(s))
	}
	return s, true, nil
}

// DoubleValue reads an Edm.Double sent as a JSON number or string. ok is
// false for null.
func DoubleValue(raw json.RawMessage) (v float64, ok bool, err error) {
	s, isNull, err := numberText(raw)
	if err != nil || isNull {
		return 0, false, err
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: not a Double: %q", ErrBadValue, clip(s))
	}
	return v, true, nil
}

// numberText returns the text of a JSON number, or of a JSON string
// holding one.
func numberText(raw json.RawMessage) (string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] != '"' && raw[0] != 'n' {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, fmt.Errorf("%w: not a number: %q", ErrBadValue, clip(string(raw)))
		}
		return n.String(), false, nil
	}
	return stringValue(raw)
}

// stringValue decodes a JSON string; isNull is true for null.
func stringValue(raw json.RawMessage) (s string, isNull bool, err error) {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return "", true, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, fmt.Errorf("%w: not a string: %q", ErrBadValue, clip(string(raw)))
	}
	return s, false, nil
}
