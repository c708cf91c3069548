package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// refTransform is the plain way to stage a record: decode it into a map,
// change the map, encode it again. It is slow and simple, which makes it
// the oracle the fast transform is fuzzed against and the baseline it is
// benchmarked against.
func refTransform(d *DataType, rec []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	for _, k := range d.Key {
		if m[k] == nil {
			return nil, fmt.Errorf("key property %s missing or null", k)
		}
	}
	out, err := refObject(d, m, "", true)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func refObject(d *DataType, m map[string]any, prefix string, top bool) (map[string]any, error) {
	out := map[string]any{}
	staged := map[string]bool{}
	if top {
		for _, n := range d.stagedProperties() {
			staged[n] = true
		}
	}
	for k, v := range m {
		if k == "__metadata" || refDeferred(v) {
			continue
		}
		p, declared := d.Properties[prefix+k]
		if top {
			if declared && !staged[k] {
				continue
			}
			if !declared && len(d.Output.Select) > 0 {
				continue
			}
		}
		name := k
		if top {
			name = d.stagedName(k)
		}
		var err error
		switch {
		case !declared:
			out[name], err = refAny(d, v)
		case p.Type == Navigation:
			out[name], err = refNav(d, v, prefix+k+"/")
		case p.Type == EdmDateTime || p.Type == EdmDateTimeOffset:
			out[name], err = refDate(v, p)
		case v == nil:
			out[name] = nil
		default:
			out[name], err = refScalar(v, p)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// refDeferred: a stub is {"__deferred":{...}}, the inner object holding
// scalars only (SF puts the uri there).
func refDeferred(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	inner, ok := m["__deferred"].(map[string]any)
	if !ok {
		return false
	}
	for _, x := range inner {
		switch x.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

func refAny(d *DataType, v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		return refObject(&DataType{}, v, "", false)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = refAny(d, e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		return refUntypedDate(v), nil
	}
	return v, nil
}

// refUntypedDate converts an untyped "/Date(ms[±hhmm])/" by its look.
func refUntypedDate(s string) any {
	m := sfDateRE.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	ms, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return s
	}
	t := time.UnixMilli(ms).UTC()
	if t.Year() < 0 || t.Year() > 9999 {
		return s
	}
	switch {
	case m[2] != "":
		v, _ := refDate(s, Property{Type: EdmDateTimeOffset})
		return v
	case t.Equal(t.Truncate(24 * time.Hour)):
		return t.Format("2006-01-02")
	}
	v, _ := refDate(s, Property{Type: EdmDateTime})
	return v
}

var (
	sfDateRE  = regexp.MustCompile(`^/Date\(([-+]?[0-9]{1,16})([-+][0-9]{4})?\)/$`)
	decimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
)

var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// refScalar checks and converts a typed scalar by the plain way.
func refScalar(v any, p Property) (any, error) {
	str, isStr := v.(string)
	num, isNum := v.(json.Number)
	text := str
	if isNum {
		text = string(num)
	}
	switch p.Type {
	case EdmString:
		if isStr {
			return str, nil
		}
	case EdmBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if isStr && (str == "true" || str == "false") {
			return str == "true", nil
		}
	case EdmInt64:
		if _, err := strconv.ParseInt(text, 10, 64); (isStr || isNum) && err == nil && !strings.HasPrefix(text, "+") {
			return text, nil
		}
	case EdmDecimal:
		if (isStr || isNum) && decimalRE.MatchString(text) {
			return text, nil
		}
	case EdmInt32, EdmInt16, EdmByte, EdmSByte:
		bits := map[string]int{EdmInt32: 32, EdmInt16: 16, EdmByte: 8, EdmSByte: 8}[p.Type]
		var err error
		var n int64
		if p.Type == EdmByte {
			var u uint64
			u, err = strconv.ParseUint(text, 10, bits)
			n = int64(u)
		} else {
			n, err = strconv.ParseInt(text, 10, bits)
		}
		if (isStr || isNum) && err == nil && !strings.HasPrefix(text, "+") {
			return json.Number(strconv.FormatInt(n, 10)), nil
		}
	case EdmDouble, EdmSingle:
		bits := 64
		if p.Type == EdmSingle {
			bits = 32
		}
		_, err := strconv.ParseFloat(text, bits)
		if (isStr || isNum) && err == nil && jsonNumberRE.MatchString(text) {
			return json.Number(text), nil
		}
	default:
		if isStr {
			return str, nil // typed: no conversion by look
		}
		return refAny(nil, v)
	}
	return nil, fmt.Errorf("%v is not a valid %s", v, p.Type)
}

func refNav(d *DataType, v any, prefix string) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		if r, ok := v["results"].([]any); ok && len(v) == 1 {
			return refNav(d, r, prefix)
		}
		return refObject(d, v, prefix, false)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if m, ok := e.(map[string]any); ok {
				out[i], err = refObject(d, m, prefix, false)
			} else {
				out[i], err = refAny(d, e)
			}
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("navigation: want object, array or null")
}

func refDate(v any, p Property) (any, error) {
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("date is not a string")
	}
	var t time.Time
	if inner, ok := strings.CutPrefix(s, "/Date("); ok && strings.HasSuffix(inner, ")/") {
		inner = strings.TrimSuffix(inner, ")/")
		if i := strings.LastIndexAny(inner, "+-"); i > 0 {
			inner = inner[:i]
		}
		var ms int64
		if _, err := fmt.Sscanf(inner, "%d", &ms); err != nil {
			return nil, err
		}
		t = time.UnixMilli(ms).UTC()
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, err
		}
		if p.Type == EdmDateTimeOffset {
			t = t.UTC()
		}
	}
	layout := "2006-01-02T15:04:05"
	switch {
	case t.Nanosecond()%1e6 != 0:
		layout += ".999999999"
	case t.Nanosecond() != 0:
		layout += ".000"
	}
	switch {
	case p.DateOnly:
		return t.Format("2006-01-02"), nil
	case p.Type == EdmDateTimeOffset:
		return t.Format(layout + "Z07:00"), nil
	default:
		return t.Format(layout), nil
	}
}
