package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/techwolf/sfconnector/staging"
)

// The transform turns one record as SF sent it into one staged line. It
// scans the record's bytes once and writes the line as it goes: no
// decoding into maps, no reflection, and the output buffer is reused from
// record to record. Numbers are checked and copied as digits, never
// through a float, so nothing is rounded; strings are not re-escaped.
//
// A property the catalog types is staged by its EDM type, whatever the
// value looks like:
//
//   - Edm.Int64 and Edm.Decimal: a JSON string of the exact digits, from a
//     JSON number or string (V2 sends them as strings); Int64 must fit
//     64 bits, Decimal is -?digits[.digits].
//   - Edm.Int32, Edm.Int16, Edm.Byte, Edm.SByte: a JSON number, from a
//     number or a numeric string, within the type's range.
//   - Edm.Double, Edm.Single: a JSON number with the digits as sent, from
//     a number or a string such as "200.20".
//   - Edm.Boolean: true or false, from the literal or the string.
//   - Edm.String: a JSON string; any other JSON value is refused.
//   - Edm.DateTimeOffset, Edm.DateTime: see [Transformer].
//   - null stays null for every type.
//
// A property the catalog does not type (a server may send more than
// $select asked for) is passed through, except that a string shaped
// exactly like "/Date(ms)/" or "/Date(ms±hhmm)/" is converted by its look:
// with an offset it is an instant and becomes RFC 3339 in UTC
// ("2016-02-01T13:09:13.030Z"); without one it is an Edm.DateTime and
// becomes a plain date when its time of day is exactly midnight
// ("2020-03-02"), else RFC 3339 without a zone ("2019-07-26T09:45:16").
// Any other string, including one that only resembles a date, is kept.

// maxDepth bounds the nesting of objects and arrays in one record.
const maxDepth = 64

// TransformError reports a record the transform cannot stage. It carries
// the property name and the offending value, never more of the record.
type TransformError struct {
	// Property is the SF name of the property at fault, "" when the
	// record itself is malformed or too large.
	Property string

	// Offset is the byte offset in the record where the fault was found,
	// or -1 when it concerns the record as a whole.
	Offset int

	// Reason says what is wrong; it may quote a short prefix of the
	// offending value, never more of the record.
	Reason string
}

// Error describes the fault by property, offset and reason.
func (e *TransformError) Error() string {
	if e.Offset < 0 {
		if e.Property == "" {
			return "connector: record: " + e.Reason
		}
		return fmt.Sprintf("connector: property %s: %s", e.Property, e.Reason)
	}
	if e.Property == "" {
		return fmt.Sprintf("connector: malformed record at byte %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("connector: property %s at byte %d: %s", e.Property, e.Offset, e.Reason)
}

type fieldKind uint8

const (
	kindRaw fieldKind = iota
	kindDateTime
	kindDate
	kindDateTimeOffset
	kindNav
	kindString
	kindBool
	kindInt64
	kindDecimal
	kindInt    // Int32, Int16, Byte, SByte: lo..hi
	kindDouble // Double, Single
)

type field struct {
	kind   fieldKind
	drop   bool   // not staged (a key property is still read)
	name   string // SF name, for errors
	out    []byte // `"stagedName":`
	key    int    // position in the entity key, -1 if not a key property
	nested *shape // kindNav: the expanded entity
	lo, hi int64  // kindInt: the range of the type
	bits   int    // kindDouble: 64 or 32
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
//
// Dates follow the property's EDM type: Edm.DateTimeOffset becomes RFC
// 3339 in UTC, Edm.DateTime RFC 3339 without a zone, or a plain date
// where the catalog marks it date-only. Scalars are checked against their
// EDM type as the package's transform notes say, and a record whose
// staged line would be longer than [staging.MaxRecordBytes], or that
// lacks a key property or holds null in one, is refused with a
// [*TransformError]: the reader could not read the one, and the other
// would be merged with other keyless records.
type Transformer struct {
	top     *shape
	keys    []string // SF names of the key properties
	keyVals [][]byte
	keySet  []bool
	scratch []byte
}

// Transformer returns a transform for d's records.
func (d *DataType) Transformer() *Transformer {
	t := &Transformer{keys: slices.Clone(d.Key)}
	t.keyVals = make([][]byte, len(d.Key))
	t.keySet = make([]bool, len(d.Key))
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
		case p.Type == EdmString:
			f.kind = kindString
		case p.Type == EdmBoolean:
			f.kind = kindBool
		case p.Type == EdmInt64:
			f.kind = kindInt64
		case p.Type == EdmDecimal:
			f.kind = kindDecimal
		case p.Type == EdmInt32:
			f.kind, f.lo, f.hi = kindInt, math.MinInt32, math.MaxInt32
		case p.Type == EdmInt16:
			f.kind, f.lo, f.hi = kindInt, math.MinInt16, math.MaxInt16
		case p.Type == EdmByte:
			f.kind, f.lo, f.hi = kindInt, 0, math.MaxUint8
		case p.Type == EdmSByte:
			f.kind, f.lo, f.hi = kindInt, math.MinInt8, math.MaxInt8
		case p.Type == EdmDouble:
			f.kind, f.bits = kindDouble, 64
		case p.Type == EdmSingle:
			f.kind, f.bits = kindDouble, 32
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
			f.drop = true
		}
	}
	for _, name := range d.Output.Drop {
		if f := s.fields[name]; f != nil {
			f.drop = true
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
// returns it with the record's entity key: the key properties' values in
// their canonical EDM form (dates normalised, numbers without leading or
// trailing zeros, strings with minimal escapes), joined by a separator
// that cannot occur in that form. The key is valid until the next call.
func (t *Transformer) Append(dst, rec []byte) (line, key []byte, err error) {
	for i := range t.keyVals {
		t.keyVals[i] = t.keyVals[i][:0]
		t.keySet[i] = false
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
	if n := len(dst) - start; n > staging.MaxRecordBytes {
		return dst[:start], nil, &TransformError{Offset: -1,
			Reason: fmt.Sprintf("staged record is %d bytes, over the %d-byte limit of a page line", n, staging.MaxRecordBytes)}
	}
	for i, ok := range t.keySet {
		if !ok {
			return dst[:start], nil, &TransformError{Property: t.keys[i], Offset: -1, Reason: "key property missing"}
		}
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

// after reads what follows a member or an element: a comma, when more
// follow, or the container's closer. It returns the index past it.
func (s *scanner) after(i int, closer byte) (next int, closed bool, err error) {
	if i = s.ws(i); i >= len(s.b) {
		return i, false, s.fail(i, "unexpected end of record")
	}
	switch s.b[i] {
	case ',':
		return i + 1, false, nil
	case closer:
		return i + 1, true, nil
	}
	return i, false, s.fail(i, "want ',' or '"+string(closer)+"'")
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
				dst, i, err = s.any(dst, i, depth+1, true)
			}
		default:
			s.prop = f.name
			dst, i, err = s.field(dst, i, f, depth+1, &first)
			s.prop = ""
		}
		if err != nil {
			return dst, i, err
		}

		var closed bool
		if i, closed, err = s.after(i, '}'); err != nil || closed {
			if closed {
				dst = append(dst, '}')
			}
			return dst, i, err
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
	if f.drop {
		if f.key < 0 {
			end, err := s.skip(i, depth)
			return dst, end, err
		}
		// A dropped key property still identifies the record.
		mark := len(dst)
		out, end, err := s.value(dst, i, f, depth)
		if err == nil {
			err = s.setKey(f, i, out[mark:])
		}
		return out[:mark], end, err
	}
	switch f.kind {
	case kindNav, kindRaw:
		ok, end, err := s.deferred(i, depth)
		if err != nil || ok {
			return dst, end, err
		}
	}
	dst = s.comma(dst, first)
	dst = append(dst, f.out...)
	mark := len(dst)
	start := i
	dst, i, err := s.value(dst, i, f, depth)
	if err == nil && f.key >= 0 {
		err = s.setKey(f, start, dst[mark:])
	}
	return dst, i, err
}

// setKey records the canonical form of key property f's staged value v,
// which the record held at offset i.
func (s *scanner) setKey(f *field, i int, v []byte) error {
	if string(v) == "null" {
		return s.fail(i, "key property is null")
	}
	s.t.keyVals[f.key] = appendCanon(s.t.keyVals[f.key][:0], f.kind, v)
	s.t.keySet[f.key] = true
	return nil
}

// value writes the value of f at b[i], converted by f's type.
func (s *scanner) value(dst []byte, i int, f *field, depth int) ([]byte, int, error) {
	switch f.kind {
	case kindDateTime, kindDate, kindDateTimeOffset:
		return s.date(dst, i, f.kind)
	case kindNav:
		return s.nav(dst, i, f.nested, depth)
	case kindRaw:
		return s.any(dst, i, depth, false)
	default:
		return s.scalar(dst, i, f)
	}
}

// any copies a value, transforming nested objects to drop metadata and
// deferred stubs. With look, the value is untyped and a string shaped like
// an SF date is converted by its look (see untypedDate).
func (s *scanner) any(dst []byte, i int, depth int, look bool) ([]byte, int, error) {
	if i >= len(s.b) {
		return dst, i, s.fail(i, "unexpected end of record")
	}
	switch s.b[i] {
	case '{':
		return s.object(dst, i, anyShape, depth, false)
	case '[':
		return s.array(dst, i, anyShape, depth, look)
	case '"':
		if look {
			return s.untypedDate(dst, i)
		}
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
		return s.array(dst, i, sh, depth, true)
	case '{':
		if arr, ok := s.results(i); ok {
			dst, end, err := s.array(dst, arr, sh, depth+1, true)
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

func (s *scanner) array(dst []byte, i int, sh *shape, depth int, look bool) ([]byte, int, error) {
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
			dst, i, err = s.any(dst, i, depth+1, look)
		}
		if err != nil {
			return dst, i, err
		}
		var closed bool
		if i, closed, err = s.after(i, ']'); err != nil || closed {
			if closed {
				dst = append(dst, ']')
			}
			return dst, i, err
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
			var closed bool
			if i, closed, err = s.after(i, '}'); err != nil || closed {
				return i, err
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
			var closed bool
			if i, closed, err = s.after(i, ']'); err != nil || closed {
				return i, err
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
	t, _, err := parseSFDate(raw, kind == kindDateTimeOffset)
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
// The second result reports whether b was "/Date(…)/" with an offset.
func parseSFDate(b []byte, offset bool) (time.Time, bool, error) {
	if inner, ok := sfDateInner(b); ok {
		return parseMillis(inner)
	}
	s := string(b)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		if offset {
			return t.UTC(), false, nil
		}
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		return time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), time.UTC), false, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, errBadDate
}

// sfDateInner returns what "/Date(" and ")/" enclose in b.
func sfDateInner(b []byte) ([]byte, bool) {
	const pre, post = "/Date(", ")/"
	if len(b) > len(pre)+len(post) && string(b[:len(pre)]) == pre &&
		string(b[len(b)-len(post):]) == post {
		return b[len(pre) : len(b)-len(post)], true
	}
	return nil, false
}

// parseMillis reads "ms" or "ms±hhmm" and reports whether the offset was
// there.
func parseMillis(b []byte) (time.Time, bool, error) {
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
			return time.Time{}, false, errBadDate
		}
		ms = ms*10 + int64(b[i]-'0')
		i++
	}
	if i == start {
		return time.Time{}, false, errBadDate
	}
	hasOffset := i < len(b)
	if hasOffset {
		// An offset: sign and four digits, hhmm.
		if len(b)-i != 5 || (b[i] != '+' && b[i] != '-') {
			return time.Time{}, false, errBadDate
		}
		for _, c := range b[i+1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false, errBadDate
			}
		}
	}
	if neg {
		ms = -ms
	}
	return time.UnixMilli(ms).UTC(), hasOffset, nil
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
