package sfsim

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Non-ASCII text is written as
// UTF-8, as SF does; control characters and invalid UTF-8 are escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendInt(b []byte, v any) []byte {
	switch n := v.(type) {
	case int64:
		return strconv.AppendInt(b, n, 10)
	case int:
		return strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, '0')
}

// appendValue writes a property value the way SF's JSON format does:
// Int64 and Decimal as strings, Edm.DateTime as "/Date(ms)/",
// Edm.DateTimeOffset as "/Date(ms+0000)/"; escDates writes the slashes
// escaped ("\/Date(ms)\/"), which decodes to the same string.
func appendValue(b []byte, p property, v any, escDates bool) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	switch p.typ {
	case tString:
		s, _ := v.(string)
		return appendJSONString(b, s)
	case tInt32:
		return appendInt(b, v)
	case tInt64:
		b = append(b, '"')
		b = appendInt(b, v)
		return append(b, '"')
	case tDecimal:
		s, _ := v.(string)
		return appendJSONString(b, s)
	case tDouble:
		f, _ := v.(float64)
		n := len(b)
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
		for _, c := range b[n:] {
			if c == '.' || c == 'e' {
				return b
			}
		}
		return append(b, '.', '0')
	case tBoolean:
		if t, _ := v.(bool); t {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case tDateTime, tDateTimeOffset:
		ms, _ := v.(int64)
		if escDates {
			b = append(b, `"\/Date(`...)
		} else {
			b = append(b, `"/Date(`...)
		}
		b = strconv.AppendInt(b, ms, 10)
		if p.typ == tDateTimeOffset {
			b = append(b, "+0000"...)
		}
		if escDates {
			return append(b, `)\/"`...)
		}
		return append(b, `)/"`...)
	}
	return append(b, "null"...)
}

// appendKeyPredicate writes the key part of an entity URI:
// User('x') or EmpJob(seqNumber=1L,startDate=datetime'...',userId='x').
func (es *entitySet) appendKeyPredicate(b []byte, row []any) []byte {
	b = append(b, '(')
	if len(es.keys) == 1 {
		k := es.keys[0]
		b = appendKeyLiteral(b, es.typ.props[k], row[k])
		return append(b, ')')
	}
	for n, k := range es.keys {
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, es.typ.props[k].name...)
		b = append(b, '=')
		b = appendKeyLiteral(b, es.typ.props[k], row[k])
	}
	return append(b, ')')
}

// keyString is the entity's path within the service, e.g. User('x').
func (es *entitySet) keyString(row []any) string {
	return string(es.appendKeyPredicate([]byte(es.name), row))
}
