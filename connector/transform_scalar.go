package connector

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// scalar writes the value of a typed scalar property f at b[i], checked
// against and converted to f's EDM type (see the transform notes).
func (s *scanner) scalar(dst []byte, i int, f *field) ([]byte, int, error) {
	if i >= len(s.b) {
		return dst, i, s.fail(i, "unexpected end of record")
	}
	var (
		raw    []byte // the number's or string's text
		end    int
		quoted bool
		err    error
	)
	switch c := s.b[i]; {
	case c == 'n':
		end, err = s.literal(i, "null")
		return append(dst, "null"...), end, err
	case c == '"':
		var esc bool
		if end, esc, err = s.str(i); err != nil {
			return dst, end, err
		}
		if f.kind == kindString {
			return append(dst, s.b[i:end]...), end, nil
		}
		if esc {
			// No number or boolean needs an escape to be written.
			return dst, i, s.bad(i, end, f)
		}
		raw, quoted = s.b[i+1:end-1], true
	case c == '-' || (c >= '0' && c <= '9'):
		if end, err = s.number(i); err != nil {
			return dst, end, err
		}
		raw = s.b[i:end]
	case c == 't' || c == 'f':
		lit := "true"
		if c == 'f' {
			lit = "false"
		}
		if end, err = s.literal(i, lit); err != nil {
			return dst, end, err
		}
		if f.kind != kindBool {
			return dst, i, s.bad(i, end, f)
		}
		return append(dst, lit...), end, nil
	default:
		if end, err = s.skip(i, 1); err != nil {
			return dst, end, err
		}
		return dst, i, s.bad(i, end, f)
	}

	switch f.kind {
	case kindString:
		return dst, i, s.bad(i, end, f)
	case kindBool:
		if quoted && (string(raw) == "true" || string(raw) == "false") {
			return append(dst, raw...), end, nil
		}
	case kindInt64:
		if _, ok := parseInt(raw); ok {
			dst = append(dst, '"')
			dst = append(dst, raw...)
			return append(dst, '"'), end, nil
		}
	case kindDecimal:
		if isDecimal(raw) {
			dst = append(dst, '"')
			dst = append(dst, raw...)
			return append(dst, '"'), end, nil
		}
	case kindInt:
		if v, ok := parseInt(raw); ok && v >= f.lo && v <= f.hi {
			return strconv.AppendInt(dst, v, 10), end, nil
		}
	case kindDouble:
		if (!quoted || (len(raw) > 0 && numberLen(raw) == len(raw))) && floatInRange(raw, f.bits) {
			return append(dst, raw...), end, nil
		}
	}
	return dst, i, s.bad(i, end, f)
}

// bad reports that the value b[i:end] does not fit f's EDM type. It
// quotes a short prefix of the value only.
func (s *scanner) bad(i, end int, f *field) error {
	return s.fail(i, fmt.Sprintf("%s is not a valid %s", truncate(string(s.b[i:end]), 40), kindName(f)))
}

func kindName(f *field) string {
	switch f.kind {
	case kindString:
		return "Edm.String (want a JSON string)"
	case kindBool:
		return "Edm.Boolean"
	case kindInt64:
		return "Edm.Int64"
	case kindDecimal:
		return "Edm.Decimal"
	case kindInt:
		return fmt.Sprintf("integer in %d..%d", f.lo, f.hi)
	case kindDouble:
		if f.bits == 32 {
			return "Edm.Single"
		}
		return "Edm.Double"
	}
	return "value"
}

// parseInt reads -?digits into an int64, refusing anything else and
// anything out of range.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (1<<63)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return int64(-u), true // -(1<<63) wraps to itself, MinInt64
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// isDecimal reports whether b is -?digits[.digits].
func isDecimal(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n == 0 {
		return false
	}
	if n == len(b) {
		return true
	}
	if b[n] != '.' || n+1 == len(b) {
		return false
	}
	for _, c := range b[n+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// numberLen returns the length of the JSON number at the start of b, 0
// if there is none.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0
		}
	}
	return i
}

// floatInRange reports whether the JSON number b fits a float of bits
// bits. Only an exponent or a long run of digits can overflow, so the
// common case does not parse at all.
func floatInRange(b []byte, bits int) bool {
	if len(b) <= 38 {
		plain := true
		for _, c := range b {
			if c == 'e' || c == 'E' {
				plain = false
				break
			}
		}
		if plain {
			return true
		}
	}
	_, err := strconv.ParseFloat(string(b), bits)
	return err == nil
}

// untypedDate writes the string at b[i] of a property the catalog does
// not type. A string shaped like "/Date(ms)/" or "/Date(ms±hhmm)/" is
// converted by its look: with an offset it is an instant, staged as an
// Edm.DateTimeOffset; without one it is an Edm.DateTime, staged as a
// plain date when its time of day is exactly midnight. Every other
// string, including one only resembling a date, is copied unchanged.
func (s *scanner) untypedDate(dst []byte, i int) ([]byte, int, error) {
	end, esc, err := s.str(i)
	if err != nil {
		return dst, end, err
	}
	raw := s.b[i+1 : end-1]
	// Cheap test first: "/Date(" or, escaped, "\/Date(".
	if len(raw) < 9 || (raw[0] != '/' && (raw[0] != '\\' || raw[1] != '/')) {
		return append(dst, s.b[i:end]...), end, nil
	}
	if esc {
		var u string
		if json.Unmarshal(s.b[i:end], &u) != nil {
			return append(dst, s.b[i:end]...), end, nil
		}
		raw = []byte(u)
	}
	inner, ok := sfDateInner(raw)
	if !ok {
		return append(dst, s.b[i:end]...), end, nil
	}
	t, offset, err := parseMillis(inner)
	if y := t.Year(); err != nil || y < 0 || y > 9999 {
		return append(dst, s.b[i:end]...), end, nil
	}
	kind := kindDateTime
	switch {
	case offset:
		kind = kindDateTimeOffset
	case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0:
		kind = kindDate
	}
	dst = append(dst, '"')
	dst = appendDate(dst, t, kind)
	return append(dst, '"'), end, nil
}

// appendCanon appends the canonical form of a key property's staged
// value v, so that two spellings of one value make one key: numbers lose
// leading zeros (and decimals trailing fraction zeros), strings are
// re-escaped minimally. Dates are canonical as staged. The form never
// holds a NUL byte, the key separator.
func appendCanon(dst []byte, kind fieldKind, v []byte) []byte {
	switch kind {
	case kindString:
		return appendCanonString(dst, v)
	case kindInt64:
		n, _ := parseInt(v[1 : len(v)-1])
		return strconv.AppendInt(dst, n, 10)
	case kindDecimal:
		return appendCanonDecimal(dst, v[1:len(v)-1])
	case kindDouble:
		if isDecimal(v) {
			return appendCanonDecimal(dst, v)
		}
	}
	return append(dst, v...)
}

// appendCanonDecimal appends -?digits[.digits] without leading zeros in
// the integer part or trailing zeros in the fraction; zero is "0".
func appendCanonDecimal(dst, v []byte) []byte {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	intPart, frac, _ := cutByte(v, '.')
	for len(intPart) > 1 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	for len(frac) > 0 && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if neg && !(string(intPart) == "0" && len(frac) == 0) {
		dst = append(dst, '-')
	}
	dst = append(dst, intPart...)
	if len(frac) > 0 {
		dst = append(dst, '.')
		dst = append(dst, frac...)
	}
	return dst
}

func cutByte(b []byte, c byte) (before, after []byte, found bool) {
	for i, x := range b {
		if x == c {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// appendCanonString appends the JSON string v (checked by the scanner)
// with only '"', '\\' and control characters escaped. A string without
// a backslash is canonical already.
func appendCanonString(dst, v []byte) []byte {
	if !containsByte(v, '\\') {
		return append(dst, v...)
	}
	var u string
	if json.Unmarshal(v, &u) != nil {
		return append(dst, v...)
	}
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range u {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return append(dst, '"')
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
