package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleType is a data type with one property of every kind the
// transform treats differently.
func sampleType() *DataType {
	return &DataType{
		Name: "sample", EntitySet: "Background_SpecialAssign",
		Key: []string{"backgroundElementId", "userId"},
		Properties: map[string]Property{
			"backgroundElementId":  {Type: EdmInt64},
			"userId":               {Type: EdmString},
			"bgOrderPos":           {Type: EdmInt64},
			"price":                {Type: EdmDecimal},
			"fte":                  {Type: EdmDouble},
			"amount":               {Type: EdmDecimal},
			"lastModifiedDateTime": {Type: EdmDateTimeOffset},
			"createdDateTime":      {Type: EdmDateTimeOffset},
			"lastModified":         {Type: EdmDateTime},
			"endDate":              {Type: EdmDateTime, DateOnly: true},
			"effStart":             {Type: EdmDateTime, DateOnly: true},
			"manager":              {Type: Navigation},
			"manager/hireDate":     {Type: EdmDateTime, DateOnly: true},
			"skills":               {Type: Navigation},
			"skills/rated":         {Type: EdmDateTimeOffset},
		},
	}
}

func transformOne(t *testing.T, d *DataType, rec string) (string, string) {
	t.Helper()
	line, key, err := d.Transformer().Append(nil, []byte(rec))
	if err != nil {
		t.Fatalf("Append(%s): %v", rec, err)
	}
	return string(line), string(key)
}

func TestTransformDates(t *testing.T) {
	// Case B07: the value's look says nothing; the property's type decides.
	d := sampleType()
	d.Key = nil // the key is tested elsewhere
	line, _ := transformOne(t, d, `{"lastModifiedDateTime":"/Date(1618796144000+0000)/",`+
		`"createdDateTime":"/Date(1454332153030+0200)/","endDate":"/Date(1583107200000)/",`+
		`"effStart":"/Date(-2208988800000)/","lastModified":"\/Date(1564134316000)\/"}`)
	want := `{"lastModifiedDateTime":"2021-04-19T01:35:44Z","createdDateTime":"2016-02-01T13:09:13.030Z",` +
		`"endDate":"2020-03-02","effStart":"1900-01-01","lastModified":"2019-07-26T09:45:16"}`
	if line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}

	for _, tc := range []struct{ in, want string }{
		{`{"lastModifiedDateTime":"/Date(1618796144000)/"}`, `{"lastModifiedDateTime":"2021-04-19T01:35:44Z"}`},
		{`{"lastModifiedDateTime":"/Date(1618796144000-0500)/"}`, `{"lastModifiedDateTime":"2021-04-19T01:35:44Z"}`},
		{`{"lastModifiedDateTime":"2021-04-19T03:35:44+02:00"}`, `{"lastModifiedDateTime":"2021-04-19T01:35:44Z"}`},
		{`{"lastModifiedDateTime":null}`, `{"lastModifiedDateTime":null}`},
		{`{"endDate":"/Date(253402214400000)/"}`, `{"endDate":"9999-12-31"}`},
		{`{"lastModified":"/Date(1564134316000+0000)/"}`, `{"lastModified":"2019-07-26T09:45:16"}`},
	} {
		if got, _ := transformOne(t, d, tc.in); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}

	for _, bad := range []string{
		`{"endDate":"/Date(abc)/"}`,
		`{"endDate":"/Date(1583107200000+00)/"}`,
		`{"endDate":"yesterday"}`,
		`{"endDate":12}`,
	} {
		_, _, err := d.Transformer().Append(nil, []byte(bad))
		var te *TransformError
		if !errors.As(err, &te) || te.Property != "endDate" {
			t.Errorf("%s: err = %v, want a TransformError naming endDate", bad, err)
		}
	}
}

func TestTransformNumbersStayExact(t *testing.T) {
	// Case B15: Int64 and Decimal arrive as strings and stay so; a Double
	// may be a number; null stays null.
	d := sampleType()
	in := `{"backgroundElementId":"9007199254740993","userId":"u","bgOrderPos":"2","price":"200.20","fte":1.0,"amount":null}`
	line, key := transformOne(t, d, in)
	if line != in {
		t.Errorf("got  %s\nwant %s", line, in)
	}
	if want := `9007199254740993` + "\x00" + `"u"`; key != want {
		t.Errorf("key %q, want %q", key, want)
	}
}

func TestTransformDropsMetadataAndDeferred(t *testing.T) {
	d := sampleType()
	in := `{"__metadata":{"uri":"https://api.example-sf.test:443/odata/v2/X(1L)","type":"SFOData.X"},
	 "backgroundElementId":"1","userId":"jdoe","manager":{"__deferred":{"uri":"https://api.example-sf.test/odata/v2/User('jdoe')/manager"}},
	 "hr":{"__deferred":{"uri":"x"}},"custom":{"__metadata":{"uri":"y"},"a":1}}`
	line, key := transformOne(t, d, in)
	want := `{"backgroundElementId":"1","userId":"jdoe","custom":{"a":1}}`
	if line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	if key != "1\x00"+`"jdoe"` {
		t.Errorf("key %q", key)
	}
}

func TestTransformExpanded(t *testing.T) {
	d := sampleType()
	in := `{"backgroundElementId":"1","userId":"a","manager":{"__metadata":{"uri":"m"},"userId":"b","hireDate":"/Date(1583107200000)/"},
	 "skills":{"results":[{"__metadata":{},"code":"go","rated":"/Date(1618796144000+0000)/"},{"code":"sql","rated":null}]}}`
	line, _ := transformOne(t, d, in)
	want := `{"backgroundElementId":"1","userId":"a","manager":{"userId":"b","hireDate":"2020-03-02"},` +
		`"skills":[{"code":"go","rated":"2021-04-19T01:35:44Z"},{"code":"sql","rated":null}]}`
	if line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
}

func TestTransformOutputMapping(t *testing.T) {
	d := sampleType()
	d.Output = Output{
		Select: []string{"userId", "backgroundElementId", "endDate", "price"},
		Rename: map[string]string{"userId": "user_id", "endDate": "end"},
		Drop:   []string{"backgroundElementId"},
	}
	in := `{"backgroundElementId":"7","userId":"u","endDate":"/Date(1583107200000)/","price":"1.50","bgOrderPos":"1","other":true}`
	line, key := transformOne(t, d, in)
	want := `{"user_id":"u","end":"2020-03-02","price":"1.50"}`
	if line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}
	// A dropped key property still identifies the record.
	if key != `7`+"\x00"+`"u"` {
		t.Errorf("key %q", key)
	}
}

func TestTransformKeyNormalisesDates(t *testing.T) {
	d := &DataType{Name: "jobs", EntitySet: "EmpJob", Key: []string{"userId", "startDate"},
		Properties: map[string]Property{"userId": {Type: EdmString}, "startDate": {Type: EdmDateTime, DateOnly: true}}}
	tr := d.Transformer()
	_, k1, _ := tr.Append(nil, []byte(`{"userId":"u","startDate":"/Date(1583107200000)/"}`))
	k1 = bytes.Clone(k1)
	_, k2, _ := tr.Append(nil, []byte(`{"startDate":"/Date(1583107200000+0000)/","userId":"u"}`))
	if !bytes.Equal(k1, k2) {
		t.Errorf("same record, keys %q and %q", k1, k2)
	}
}

func TestTransformRejectsMalformed(t *testing.T) {
	d := sampleType()
	for _, in := range []string{
		``, `[]`, `{`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{"a":"\x01"}`, `{"a":tru}`,
		`{"a":01}`, `{"a":"\q"}`, `{"a":"\u12"}`, "{\"a\":\"\xff\"}", `{"a" 1}`,
		`{"a":[1 2]}`, strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100),
	} {
		if _, _, err := d.Transformer().Append(nil, []byte(in)); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	da := json.NewDecoder(bytes.NewReader(a))
	da.UseNumber()
	db := json.NewDecoder(bytes.NewReader(b))
	db.UseNumber()
	if da.Decode(&x) != nil || db.Decode(&y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func TestTransformMatchesReference(t *testing.T) {
	d := sampleType()
	for _, rec := range sampleRecords(50) {
		got, _, err := d.Transformer().Append(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		want, err := refTransform(d, rec)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(got, want) {
			t.Fatalf("record %s\nfast %s\nref  %s", rec, got, want)
		}
	}
}

func FuzzTransform(f *testing.F) {
	for _, rec := range sampleRecords(5) {
		f.Add(rec)
	}
	f.Add([]byte(`{"lastModifiedDateTime":"/Date(1618796144000+0000)/","manager":{"__deferred":{}}}`))
	f.Add([]byte(`{"skills":{"results":[{"rated":"/Date(-1)/"}]},"x":[{"__metadata":1}]}`))
	f.Add([]byte(`{"endDate":"\/Date(0)\/","a\u0041":"\ud83d\ude00"}`))
	d := sampleType()
	tr := d.Transformer()
	f.Fuzz(func(t *testing.T, rec []byte) {
		got, _, err := tr.Append(nil, rec)
		if err != nil {
			return
		}
		if !json.Valid(got) {
			t.Fatalf("invalid output %q from %q", got, rec)
		}
		want, err := refTransform(d, rec)
		if err != nil {
			// The reference is stricter about duplicate names and dates
			// it cannot read; the fast path accepted valid JSON.
			if json.Valid(rec) {
				return
			}
			t.Fatalf("accepted invalid JSON %q", rec)
		}
		if !sameJSON(got, want) {
			// Duplicate property names: the map keeps the last, the
			// stream keeps both. Not a difference worth failing on.
			if hasDuplicateNames(rec) {
				return
			}
			t.Fatalf("record %q\nfast %s\nref  %s", rec, got, want)
		}
	})
}

func hasDuplicateNames(rec []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(rec))
	type frame struct {
		seen  map[string]bool
		isObj bool
		key   bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, frame{seen: map[string]bool{}, isObj: true, key: true})
				continue
			case '[':
				stack = append(stack, frame{})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].isObj && stack[n-1].key {
				if stack[n-1].seen[v] {
					return true
				}
				stack[n-1].seen[v] = true
				stack[n-1].key = false
				continue
			}
		}
		if n := len(stack); n > 0 && stack[n-1].isObj {
			stack[n-1].key = true
		}
		if len(stack) == 0 {
			return false
		}
	}
}

func TestTransformNestedDeferredKeysStayLinear(t *testing.T) {
	// {"a":{"__deferred":{"__deferred":{... "x":1},"x":1},"x":1}}: a
	// look-ahead that rescans at every level would take 2^depth steps.
	rec := `{"backgroundElementId":"1","userId":"u","a":` + strings.Repeat(`{"__deferred":`, 60) + `1` + strings.Repeat(`,"x":1}`, 60) + `}`
	d := sampleType()
	done := make(chan struct{})
	go func() {
		defer close(done)
		line, _, err := d.Transformer().Append(nil, []byte(rec))
		if err != nil {
			t.Error(err)
			return
		}
		if !json.Valid(line) || !strings.Contains(string(line), `"__deferred"`) {
			t.Errorf("line %s", line)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("transform of a nested record did not finish")
	}
}
