package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The transform turns one record as SF sent it into one staged line. It
// scans the record's bytes once and writes the line as it goes: no
// decoding into maps, no reflection, and the output buffer is reused from
// record to record. Values it does not change (strings, numbers, Int64
// and Decimal strings, booleans, null) are copied byte for byte, so
// nothing is rounded or re-escaped.

// maxDepth bounds the nesting of objects and arrays in one record.
const maxDepth = 64

// TransformError reports a record the transform cannot stage. It carries
// the property name and the offending value, never more of the record.
type TransformError struct {
	Property string // "" when the record itself is malformed
	Offset   int    // byte offset in the record
	Reason   string
}

func (e *TransformError) Error() string {
	if e.Property == "" {
		return fmt.Sprintf("connector: malformed record at byte %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("connector: property %s at byte %d: %s", e.Property, e.Offset, e.Reason)
}

type fieldKind uint8

const (
	kindRaw fieldKind = iota
	kindDrop
	kindDateTime
	kindDate
	kindDateTimeOffset
	kindNav
)

type field struct {
	kind   fieldKind
	name   string // SF name, for errors
	out    []byte // `"stagedName":`
	key    int    // position in the entity key, -1 if not a key property
	nested *shape // kindNav: the expanded entity
}

// shape is what the transform knows about one level of a record.
type shape struct {
	fields      map[string]*field
	keepUnknown bool // stage properties the catalog does not declare
}

// anyShape stages everything, dropping only metadata and deferred stubs.
var anyShape = &shape{keepUnknown: true}

// Transformer stages the records of one data type. It is not safe for
// concurrent use; make one per goroutine with [DataType.Transformer].
type Transformer struct {
	top     *shape
	keys    int
	keyVals [][]byte
	scratch []byte
}

// Transformer returns a transform for d's records.
func (d *DataType) Transformer() *Transformer {
	t := &Transformer{keys: len(d.Key)}
	t.keyVals = make([][]byte, len(d.Key))
	t.top = buildShape(d, "", true)
	return t
}

func buildShape(d *DataType, prefix string, top bool) *shape {
	s := &shape{fields: map[string]*field{}}
	if top {
		s.keepUnknown = len(d.Output.Select) == 0
	} else {
		s.keepUnknown = true
	}
	for name, p := range d.Properties {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		f := &field{name: name, key: -1}
		staged := rest
		if top {
			staged = d.stagedName(rest)
		}
		f.out = append(strconv.AppendQuote(nil, staged), ':')
		switch {
		case p.Type == Navigation:
			f.kind = kindNav
			f.nested = buildShape(d, name+"/", false)
		case p.Type == EdmDateTimeOffset:
			f.kind = kindDateTimeOffset
		case p.Type == EdmDateTime && p.DateOnly:
			f.kind = kindDate
		case p.Type == EdmDateTime:
			f.kind = kindDateTime
		}
		s.fields[rest] = f
	}
	if !top {
		return s
	}
	staged := map[string]bool{}
	for _, name := range d.stagedProperties() {
		staged[name] = true
	}
	for name, f := range s.fields {
		if !staged[name] {
			f.kind = kindDrop
		}
	}
	for _, name := range d.Output.Drop {
		if f := s.fields[name]; f != nil {
			f.kind = kindDrop
		}
	}
	for i, k := range d.Key {
		if f := s.fields[k]; f != nil {
			f.key = i
		}
	}
	return s
}

// Append appends the staged line of rec (without a newline) to dst and
// returns it with the record's entity key: the key properties' values,
// dates normalised, joined by a separator that cannot occur in JSON.
// The key is valid until the next call.
func (t *Transformer) Append(dst, rec []byte) (line, key []byte, err error) {
	for i := range t.keyVals {
		t.keyVals[i] = t.keyVals[i][:0]
	}
	s := scanner{b: rec, t: t}
	i := s.ws(0)
	start := len(dst)
	dst, i, err = s.object(dst, i, t.top, 0, true)
	if err != nil {
		return dst[:start], nil, err
	}
	if i = s.ws(i); i != len(rec) {
		return dst[:start], nil, s.fail(i, "trailing data after the record")
	}
	key = t.scratch[:0]
	for i, v := range t.keyVals {
		if i > 0 {
			key = append(key, 0)
		}
		key = append(key, v...)
	}
	t.scratch = key
	return dst, key, nil
}

type scanner struct {
	b    []byte
	t    *Transformer
	prop string // property being read, for errors
}

func (s *scanner) fail(i int, reason string) error {
	return &TransformError{Property: s.prop, Offset: i, Reason: reason}
}

func (s *scanner) ws(i int) int {
	for i < len(s.b) {
		switch s.b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// object transforms the object at b[i] into dst.
func (s *scanner) object(dst []byte, i int, sh *shape, depth int, top bool) ([]byte, int, error) {
	if depth > maxDepth {
		return dst, i, s.fail(i, "nested too deep")
	}
	if i >= len(s.b) || s.b[i] != '{' {
		return dst, i, s.fail(i, "want an object")
	}
	i++
	dst = append(dst, '{')
	first := true
	if i = s.ws(i); i < len(s.b) && s.b[i] == '}' {
		return append(dst, '}'), i + 1, nil
	}
	for {
		i = s.ws(i)
		ks := i
		ke, esc, err := s.str(i)
		if err != nil {
			return dst, ke, err
		}
		rawKey := s.b[ks+1 : ke-1]
		name := rawKey
		if esc {
			var u string
			if err := json.Unmarshal(s.b[ks:ke], &u); err != nil {
				return dst, ks, s.fail(ks, "bad property name")
			}
			name = []byte(u)
		}
		if i = s.ws(ke); i >= len(s.b) || s.b[i] != ':' {
			return dst, i, s.fail(i, "want ':'")
		}
		i = s.ws(i + 1)

		var f *field
		if sh.fields != nil {
			f = sh.fields[string(name)]
		}
		switch {
		case string(name) == "__metadata":
			i, err = s.skip(i, depth+1)
		case f == nil && !sh.keepUnknown:
			i, err = s.skip(i, depth+1)
		case f == nil:
			var ok bool
			if ok, i, err = s.deferred(i, depth+1); err == nil && !ok {
				dst = s.comma(dst, &first)
				dst = append(dst, s.b[ks:ke]...)
				dst = append(dst, ':')
				dst, i, err = s.any(dst, i, depth+1)
			}
		default:
			s.prop = f.name
			dst, i, err = s.field(dst, i, f, depth+1, &first)
			s.prop = ""
		}
		if err != nil {
			return dst, i, err
		}

		i = s.ws(i)
		if i >= len(s.b) {
			return dst, i, s.fail(i, "unexpected end of record")
		}
		switch s.b[i] {
		case ',':
			i++
		case '}':
			return append(dst, '}'), i + 1, nil
		default:
			return dst, i, s.fail(i, "want ',' or '}'")
		}
	}
}

func (s *scanner) comma(dst []byte, first *bool) []byte {
	if *first {
		*first = false
		return dst
	}
	return append(dst, ',')
}

// field writes one declared property.
func (s *scanner) field(dst []byte, i int, f *field, depth int, first *bool) ([]byte, int, error) {
	switch f.kind {
	case kindDrop:
		if f.key < 0 {
			end, err := s.skip(i, depth)
			return dst, end, err
		}
		// A dropped key property still identifies the record.
		mark := len(dst)
		out, end, err := s.value(dst, i, f, depth)
		if err == nil {
			s.setKey(f, out[mark:])
		}
		return out[:mark], end, err
	case kindNav, kindRaw:
		ok, end, err := s.deferred(i, depth)
		if err != nil || ok {
			return dst, end, err
		}
	}
	dst = s.comma(dst, first)
	dst = append(dst, f.out...)
	mark := len(dst)
	dst, i, err := s.value(dst, i, f, depth)
	if err == nil && f.key >= 0 {
		s.setKey(f, dst[mark:])
	}
	return dst, i, err
}

func (s *scanner) setKey(f *field, v []byte) {
	s.t.keyVals[f.key] = append(s.t.keyVals[f.key][:0], v...)
}

// value writes the value of f at b[i], converted by f's type.
func (s *scanner) value(dst []byte, i int, f *field, depth int) ([]byte, int, error) {
	switch f.kind {
	case kindDateTime, kindDate, kindDateTimeOffset:
		return s.date(dst, i, f.kind)
	case kindNav:
		return s.nav(dst, i, f.nested, depth)
	default:
		return s.any(dst, i, depth)
	}
}

// any copies a value, transforming nested objects to drop metadata and
// deferred stubs.
func (s *scanner) any(dst []byte, i int, depth int) ([]byte, int, error) {
	if i >= len(s.b) {
		return dst, i, s.fail(i, "unexpected end of record")
	}
	switch s.b[i] {
	case '{':
		return s.object(dst, i, anyShape, depth, false)
	case '[':
		return s.array(dst, i, anyShape, depth)
	}
	end, err := s.skip(i, depth)
	if err != nil {
		return dst, end, err
	}
	return append(dst, s.b[i:end]...), end, nil
}

// nav writes an expanded navigation property: null, one entity, or the
// entities of a to-many link as an array (SF wraps them in "results").
func (s *scanner) nav(dst []byte, i int, sh *shape, depth int) ([]byte, int, error) {
	if i >= len(s.b) {
		return dst, i, s.fail(i, "unexpected end of record")
	}
	switch s.b[i] {
	case 'n':
		end, err := s.skip(i, depth)
		return append(dst, "null"...), end, err
	case '[':
		return s.array(dst, i, sh, depth)
	case '{':
		if arr, ok := s.results(i); ok {
			dst, end, err := s.array(dst, arr, sh, depth+1)
			if err != nil {
				return dst, end, err
			}
			return dst, s.ws(end) + 1, nil
		}
		return s.object(dst, i, sh, depth, false)
	}
	return dst, i, s.fail(i, "want an object, array or null")
}

// results reports whether the object at b[i] is {"results":[...]} and
// returns the offset of the array. It only looks; array checks the rest.
func (s *scanner) results(i int) (int, bool) {
	j := s.ws(i + 1)
	const k = `"results"`
	if len(s.b)-j < len(k) || string(s.b[j:j+len(k)]) != k {
		return 0, false
	}
	j = s.ws(j + len(k))
	if j >= len(s.b) || s.b[j] != ':' {
		return 0, false
	}
	j = s.ws(j + 1)
	if j >= len(s.b) || s.b[j] != '[' {
		return 0, false
	}
	end, err := s.skip(j, 1)
	if err != nil {
		return 0, false
	}
	if end = s.ws(end); end >= len(s.b) || s.b[end] != '}' {
		return 0, false
	}
	return j, true
}

func (s *scanner) array(dst []byte, i int, sh *shape, depth int) ([]byte, int, error) {
	if depth > maxDepth {
		return dst, i, s.fail(i, "nested too deep")
	}
	if i >= len(s.b) || s.b[i] != '[' {
		return dst, i, s.fail(i, "want an array")
	}
	dst = append(dst, '[')
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == ']' {
		return append(dst, ']'), i + 1, nil
	}
	for n := 0; ; n++ {
		if n > 0 {
			dst = append(dst, ',')
		}
		var err error
		i = s.ws(i)
		if i < len(s.b) && s.b[i] == '{' {
			dst, i, err = s.object(dst, i, sh, depth+1, false)
		} else {
			dst, i, err = s.any(dst, i, depth+1)
		}
		if err != nil {
			return dst, i, err
		}
		i = s.ws(i)
		if i >= len(s.b) {
			return dst, i, s.fail(i, "unexpected end of record")
		}
		switch s.b[i] {
		case ',':
			i++
		case ']':
			return append(dst, ']'), i + 1, nil
		default:
			return dst, i, s.fail(i, "want ',' or ']'")
		}
	}
}

// deferred reports whether the value at b[i] is a {"__deferred":{...}}
// stub; when it is, the returned offset is past it. A stub's inner object
// holds only scalars (its uri), so the look ahead stops at the first
// nested object or array: a record nesting "__deferred" keys cannot make
// the transform scan the same bytes again at every level.
func (s *scanner) deferred(i int, depth int) (bool, int, error) {
	if i >= len(s.b) || s.b[i] != '{' {
		return false, i, nil
	}
	j := s.ws(i + 1)
	const k = `"__deferred"`
	if len(s.b)-j < len(k) || string(s.b[j:j+len(k)]) != k {
		return false, i, nil
	}
	j = s.ws(j + len(k))
	if j >= len(s.b) || s.b[j] != ':' {
		return false, i, nil
	}
	end, ok := s.flatObject(s.ws(j + 1))
	if !ok {
		return false, i, nil
	}
	if end = s.ws(end); end < len(s.b) && s.b[end] == '}' {
		return true, end + 1, nil
	}
	return false, i, nil
}

// flatObject checks that b[i] starts an object of scalar members only
// and returns the offset after it. Anything else is not ok, and left for
// the ordinary path to read and report.
func (s *scanner) flatObject(i int) (int, bool) {
	if i >= len(s.b) || s.b[i] != '{' {
		return i, false
	}
	i = s.ws(i + 1)
	if i < len(s.b) && s.b[i] == '}' {
		return i + 1, true
	}
	for {
		end, _, err := s.str(i)
		if err != nil {
			return i, false
		}
		if i = s.ws(end); i >= len(s.b) || s.b[i] != ':' {
			return i, false
		}
		if i = s.ws(i + 1); i >= len(s.b) || s.b[i] == '{' || s.b[i] == '[' {
			return i, false
		}
		if i, err = s.skip(i, 1); err != nil {
			return i, false
		}
		if i = s.ws(i); i >= len(s.b) {
			return i, false
		}
		switch s.b[i] {
		case ',':
			i = s.ws(i + 1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// skip checks the value at b[i] and returns the offset after it.
func (s *scanner) skip(i int, depth int) (int, error) {
	if depth > maxDepth {
		return i, s.fail(i, "nested too deep")
	}
	if i >= len(s.b) {
		return i, s.fail(i, "unexpected end of record")
	}
	switch c := s.b[i]; {
	case c == '"':
		end, _, err := s.str(i)
		return end, err
	case c == '{':
		i = s.ws(i + 1)
		if i < len(s.b) && s.b[i] == '}' {
			return i + 1, nil
		}
		for {
			end, _, err := s.str(s.ws(i))
			if err != nil {
				return end, err
			}
			if i = s.ws(end); i >= len(s.b) || s.b[i] != ':' {
				return i, s.fail(i, "want ':'")
			}
			if i, err = s.skip(s.ws(i+1), depth+1); err != nil {
				return i, err
			}
			if i = s.ws(i); i >= len(s.b) {
				return i, s.fail(i, "unexpected end of record")
			}
			switch s.b[i] {
			case ',':
				i++
			case '}':
				return i + 1, nil
			default:
				return i, s.fail(i, "want ',' or '}'")
			}
		}
	case c == '[':
		i = s.ws(i + 1)
		if i < len(s.b) && s.b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = s.skip(s.ws(i), depth+1); err != nil {
				return i, err
			}
			if i = s.ws(i); i >= len(s.b) {
				return i, s.fail(i, "unexpected end of record")
			}
			switch s.b[i] {
			case ',':
				i++
			case ']':
				return i + 1, nil
			default:
				return i, s.fail(i, "want ',' or ']'")
			}
		}
	case c == 't':
		return s.literal(i, "true")
	case c == 'f':
		return s.literal(i, "false")
	case c == 'n':
		return s.literal(i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(i)
	}
	return i, s.fail(i, "unexpected character")
}

func (s *scanner) literal(i int, lit string) (int, error) {
	if len(s.b)-i < len(lit) || string(s.b[i:i+len(lit)]) != lit {
		return i, s.fail(i, "bad literal")
	}
	return i + len(lit), nil
}

func (s *scanner) number(i int) (int, error) {
	start := i
	if s.b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s.b) && s.b[i] >= '0' && s.b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s.b) && s.b[i] == '0' {
		i++
	} else if digits() == 0 {
		return i, s.fail(start, "bad number")
	}
	if i < len(s.b) && s.b[i] == '.' {
		i++
		if digits() == 0 {
			return i, s.fail(start, "bad number")
		}
	}
	if i < len(s.b) && (s.b[i] == 'e' || s.b[i] == 'E') {
		i++
		if i < len(s.b) && (s.b[i] == '+' || s.b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return i, s.fail(start, "bad number")
		}
	}
	return i, nil
}

// str checks the string at b[i] and returns the offset after its closing
// quote and whether it holds escapes.
func (s *scanner) str(i int) (int, bool, error) {
	if i >= len(s.b) || s.b[i] != '"' {
		return i, false, s.fail(i, "want a string")
	}
	esc := false
	for j := i + 1; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			j++
			if j >= len(s.b) {
				return j, esc, s.fail(j, "unexpected end of record")
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-j < 5 || !isHex4(s.b[j+1:j+5]) {
					return j, esc, s.fail(j, "bad \\u escape")
				}
				j += 4
			default:
				return j, esc, s.fail(j, "bad escape")
			}
		case c < 0x20:
			return j, esc, s.fail(j, "control character in string")
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && n == 1 {
				return j, esc, s.fail(j, "invalid UTF-8")
			}
			j += n - 1
		}
	}
	return len(s.b), esc, s.fail(len(s.b), "unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// date writes a date property by its EDM type: RFC 3339 in UTC for
// Edm.DateTimeOffset, RFC 3339 without a zone for Edm.DateTime, a plain
// date for date-only Edm.DateTime.
func (s *scanner) date(dst []byte, i int, kind fieldKind) ([]byte, int, error) {
	if i < len(s.b) && s.b[i] == 'n' {
		end, err := s.literal(i, "null")
		return append(dst, "null"...), end, err
	}
	end, esc, err := s.str(i)
	if err != nil {
		return dst, end, err
	}
	raw := s.b[i+1 : end-1]
	if esc {
		var u string
		if json.Unmarshal(s.b[i:end], &u) != nil {
			return dst, i, s.fail(i, "bad string")
		}
		raw = []byte(u)
	}
	t, err := parseSFDate(raw, kind == kindDateTimeOffset)
	if y := t.Year(); err == nil && (y < 0 || y > 9999) {
		err = errors.New("year outside 0000..9999")
	}
	if err != nil {
		return dst, i, s.fail(i, fmt.Sprintf("%v: %q", err, truncate(string(raw), 40)))
	}
	dst = append(dst, '"')
	dst = appendDate(dst, t, kind)
	return append(dst, '"'), end, nil
}

var errBadDate = errors.New("not a date")

// parseSFDate reads "/Date(ms)/" or "/Date(ms±hhmm)/": ms count from the
// Unix epoch in UTC and the offset is informational, so it is checked and
// ignored. ISO 8601 text, as some OData servers send, is accepted too; a
// zone it carries matters only for an instant (offset true).
func parseSFDate(b []byte, offset bool) (time.Time, error) {
	const pre, post = "/Date(", ")/"
	if len(b) > len(pre)+len(post) && string(b[:len(pre)]) == pre &&
		string(b[len(b)-len(post):]) == post {
		return parseMillis(b[len(pre) : len(b)-len(post)])
	}
	s := string(b)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if offset {
			return t.UTC(), nil
		}
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errBadDate
}

func parseMillis(b []byte) (time.Time, error) {
	i := 0
	neg := false
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		neg = b[i] == '-'
		i++
	}
	start := i
	var ms int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		if i-start >= 16 { // ±10^16 ms is far past year 9999
			return time.Time{}, errBadDate
		}
		ms = ms*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return time.Time{}, errBadDate
	}
	if i < len(b) {
		// An offset: sign and four digits, hhmm.
		if len(b)-i != 5 || (b[i] != '+' && b[i] != '-') {
			return time.Time{}, errBadDate
		}
		for _, c := range b[i+1:] {
			if c < '0' || c > '9' {
				return time.Time{}, errBadDate
			}
		}
	}
	if neg {
		ms = -ms
	}
	return time.UnixMilli(ms).UTC(), nil
}

func appendDate(dst []byte, t time.Time, kind fieldKind) []byte {
	y, mo, d := t.Date() // 0 <= y <= 9999, checked by the caller
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, int(mo))
	dst = append(dst, '-')
	dst = append2(dst, d)
	if kind == kindDate {
		return dst
	}
	h, mi, sec := t.Clock()
	dst = append(dst, 'T')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	if ms := t.Nanosecond() / 1e6; ms != 0 || t.Nanosecond() != 0 {
		if ns := t.Nanosecond(); ns%1e6 == 0 {
			dst = append(dst, '.')
			dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
		} else {
			dst = append(dst, '.')
			frac := strconv.AppendInt(nil, int64(ns)+1e9, 10)[1:]
			dst = append(dst, strings.TrimRight(string(frac), "0")...)
		}
	}
	if kind == kindDateTimeOffset {
		dst = append(dst, 'Z')
	}
	return dst
}

func append2(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/10), byte('0'+n%10))
}

func append4(dst []byte, n int) []byte {
	return append(dst, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}
