package connector

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

func TestTransformUntypedDatesByLook(t *testing.T) {
	// Case B07 for properties the catalog does not type: the server sent
	// more than $select asked for. The value's look is all there is.
	d := sampleType()
	d.Key = nil
	in := `{"xLastModified":"/Date(1618796144000+0000)/","xCreated":"/Date(1454332153030+0200)/",` +
		`"xEnd":"/Date(1583107200000)/","xEffStart":"/Date(-2208988800000)/","xModified":"\/Date(1564134316000)\/",` +
		`"xNested":{"at":"/Date(1583107200000)/","list":["/Date(1564134316000-0130)/",1]},` +
		`"xMs":"/Date(1564134316001)/","xText":"/Date(abc)/","xLike":"see /Date(1583107200000)/",` +
		`"xBadOffset":"/Date(1583107200000+00)/","xFar":"/Date(99999999999999999)/","xNum":12}`
	line, _ := transformOne(t, d, in)
	want := `{"xLastModified":"2021-04-19T01:35:44Z","xCreated":"2016-02-01T13:09:13.030Z",` +
		`"xEnd":"2020-03-02","xEffStart":"1900-01-01","xModified":"2019-07-26T09:45:16",` +
		`"xNested":{"at":"2020-03-02","list":["2019-07-26T09:45:16Z",1]},` +
		`"xMs":"2019-07-26T09:45:16.001","xText":"/Date(abc)/","xLike":"see /Date(1583107200000)/",` +
		`"xBadOffset":"/Date(1583107200000+00)/","xFar":"/Date(99999999999999999)/","xNum":12}`
	if line != want {
		t.Errorf("got  %s\nwant %s", line, want)
	}

	// A typed property keeps following its type, whatever it looks like.
	d.Properties["note"] = Property{Type: EdmString}
	d.Properties["code"] = Property{Type: EdmGUID}
	in = `{"note":"/Date(1583107200000)/","code":"/Date(1583107200000)/"}`
	if line, _ := transformOne(t, d, in); line != in {
		t.Errorf("typed: got %s, want %s", line, in)
	}
}

func TestTransformScalarsByType(t *testing.T) {
	d := &DataType{Name: "t", EntitySet: "T", Properties: map[string]Property{
		"i64": {Type: EdmInt64}, "dec": {Type: EdmDecimal}, "i32": {Type: EdmInt32},
		"i16": {Type: EdmInt16}, "u8": {Type: EdmByte}, "s8": {Type: EdmSByte},
		"dbl": {Type: EdmDouble}, "sgl": {Type: EdmSingle}, "b": {Type: EdmBoolean},
		"s": {Type: EdmString},
	}}
	for _, tc := range []struct{ in, want string }{
		// Case B15: Int64 and Decimal are staged as strings of the exact
		// digits, whether SF sent a string or a number.
		{`{"i64":"9007199254740993"}`, `{"i64":"9007199254740993"}`},
		{`{"i64":9007199254740993}`, `{"i64":"9007199254740993"}`},
		{`{"i64":"-9223372036854775808"}`, `{"i64":"-9223372036854775808"}`},
		{`{"i64":"9223372036854775807"}`, `{"i64":"9223372036854775807"}`},
		{`{"dec":"200.20"}`, `{"dec":"200.20"}`},
		{`{"dec":200.20}`, `{"dec":"200.20"}`},
		{`{"dec":"-12345678901234567890123.000"}`, `{"dec":"-12345678901234567890123.000"}`},
		{`{"i32":"42"}`, `{"i32":42}`},
		{`{"i32":-2147483648}`, `{"i32":-2147483648}`},
		{`{"i16":"-32768"}`, `{"i16":-32768}`},
		{`{"u8":"255"}`, `{"u8":255}`},
		{`{"s8":-128}`, `{"s8":-128}`},
		{`{"dbl":"1.0"}`, `{"dbl":1.0}`},
		{`{"dbl":"200.20"}`, `{"dbl":200.20}`},
		{`{"dbl":1.0}`, `{"dbl":1.0}`},
		{`{"dbl":0.1000000000000000055511151231257827}`, `{"dbl":0.1000000000000000055511151231257827}`},
		{`{"dbl":"-1.5e300"}`, `{"dbl":-1.5e300}`},
		{`{"sgl":"3.25"}`, `{"sgl":3.25}`},
		{`{"b":true}`, `{"b":true}`},
		{`{"b":"false"}`, `{"b":false}`},
		{`{"s":"x \"y\" \u00e9"}`, `{"s":"x \"y\" \u00e9"}`},
		{`{"i64":null,"dec":null,"i32":null,"dbl":null,"b":null,"s":null}`, `{"i64":null,"dec":null,"i32":null,"dbl":null,"b":null,"s":null}`},
	} {
		if got, _ := transformOne(t, d, tc.in); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}

	for _, tc := range []struct{ prop, in string }{
		{"i64", `"abc"`}, {"i64", `"1e3"`}, {"i64", `1e3`}, {"i64", `"12345678901234567890123"`},
		{"i64", `"9223372036854775808"`}, {"i64", `"1.5"`}, {"i64", `""`}, {"i64", `"+5"`},
		{"i64", `" 5"`}, {"i64", `true`}, {"i64", `{}`}, {"i64", `"\u0035"`},
		{"dec", `"abc"`}, {"dec", `"1e3"`}, {"dec", `1e3`}, {"dec", `"1."`}, {"dec", `".5"`}, {"dec", `[]`},
		{"i32", `"2147483648"`}, {"i32", `1.5`}, {"i32", `"x"`},
		{"i16", `32768`}, {"u8", `256`}, {"u8", `-1`}, {"s8", `128`},
		{"dbl", `"abc"`}, {"dbl", `""`}, {"sgl", `""`}, {"dec", `""`}, {"i32", `""`}, {"b", `""`}, {"dbl", `"NaN"`}, {"dbl", `"1,5"`}, {"dbl", `"01.5"`}, {"dbl", `"1e999"`}, {"dbl", `false`},
		{"sgl", `1e39`},
		{"b", `"yes"`}, {"b", `1`}, {"b", `"True"`},
		{"s", `5`}, {"s", `{"a":1}`}, {"s", `["a"]`}, {"s", `true`},
	} {
		rec := `{"i32":1,"` + tc.prop + `":` + tc.in + `}`
		_, _, err := d.Transformer().Append(nil, []byte(rec))
		var te *TransformError
		if !errors.As(err, &te) || te.Property != tc.prop {
			t.Errorf("%s: err = %v, want a TransformError naming %s", rec, err, tc.prop)
		} else if kindOf(err) != KindBadData {
			t.Errorf("%s: kind %s", rec, kindOf(err))
		}
	}
}

func TestTransformRequiresKey(t *testing.T) {
	d := sampleType()
	for _, tc := range []struct{ in, prop string }{
		{`{"userId":"u"}`, "backgroundElementId"},
		{`{"backgroundElementId":"1"}`, "userId"},
		{`{"backgroundElementId":null,"userId":"u"}`, "backgroundElementId"},
		{`{"backgroundElementId":"1","userId":null}`, "userId"},
		{`{}`, "backgroundElementId"},
	} {
		_, _, err := d.Transformer().Append(nil, []byte(tc.in))
		var te *TransformError
		if !errors.As(err, &te) || te.Property != tc.prop || kindOf(err) != KindBadData {
			t.Errorf("%s: err = %v, want a TransformError naming %s", tc.in, err, tc.prop)
		}
	}

	// A key property the output drops is still required.
	d.Output = Output{Drop: []string{"backgroundElementId"}}
	if _, _, err := d.Transformer().Append(nil, []byte(`{"userId":"u"}`)); err == nil {
		t.Error("record without its dropped key property accepted")
	}
}

func TestTransformKeyCanonicalForm(t *testing.T) {
	d := &DataType{Name: "t", EntitySet: "T", Key: []string{"id", "name", "amount"},
		Properties: map[string]Property{"id": {Type: EdmInt64}, "name": {Type: EdmString}, "amount": {Type: EdmDecimal}}}
	key := func(rec string) string {
		t.Helper()
		_, k, err := d.Transformer().Append(nil, []byte(rec))
		if err != nil {
			t.Fatalf("%s: %v", rec, err)
		}
		return string(k)
	}
	same := [][]string{
		{`{"id":"5","name":"ab","amount":"1.50"}`, `{"id":5,"name":"a\u0062","amount":1.5}`,
			`{"id":"005","name":"\u0061b","amount":"01.500"}`},
		{`{"id":"-0","name":"q\"\\","amount":"0.0"}`, `{"id":0,"name":"q\u0022\u005c","amount":"-0"}`},
	}
	for _, group := range same {
		k0 := key(group[0])
		for _, rec := range group[1:] {
			if k := key(rec); k != k0 {
				t.Errorf("%s and %s: keys %q and %q, want one", group[0], rec, k0, k)
			}
		}
	}
	for _, pair := range [][2]string{
		{`{"id":"5","name":"ab","amount":"1"}`, `{"id":"50","name":"ab","amount":"1"}`},
		{`{"id":"5","name":"ab","amount":"1"}`, `{"id":"5","name":"ab ","amount":"1"}`},
		{`{"id":"5","name":"ab","amount":"1"}`, `{"id":"5","name":"ab","amount":"10"}`},
		{`{"id":"5","name":"a\u0000","amount":"1"}`, `{"id":"5","name":"a","amount":"1"}`},
	} {
		if a, b := key(pair[0]), key(pair[1]); a == b {
			t.Errorf("%s and %s share key %q", pair[0], pair[1], a)
		}
	}
	// A string key holding a number is not the same value: it is refused.
	if _, _, err := d.Transformer().Append(nil, []byte(`{"id":5,"name":5,"amount":"1"}`)); err == nil {
		t.Error("number accepted for an Edm.String key")
	}
}

func TestTransformRecordSizeLimit(t *testing.T) {
	d := &DataType{Name: "t", EntitySet: "T", Key: []string{"id"}, Properties: map[string]Property{"id": {Type: EdmString}}}
	tr := d.Transformer()
	// The staged line of this record is exactly the limit: accepted.
	head, tail := `{"id":"1","blob":"`, `"}`
	fill := staging.MaxRecordBytes - len(head) - len(tail)
	rec := []byte(head + strings.Repeat("x", fill) + tail)
	line, _, err := tr.Append(nil, rec)
	if err != nil || len(line) != staging.MaxRecordBytes {
		t.Fatalf("record at the limit: %d bytes, err %v", len(line), err)
	}
	// The reader takes what the writer staged: the limits agree.
	enc := staging.NewPageEncoder()
	if err := enc.WriteRecord(line); err != nil {
		t.Fatal(err)
	}
	data, n, sha, err := enc.Finish()
	if err != nil {
		t.Fatal(err)
	}
	pr := staging.OpenPage(bytes.NewReader(data), staging.PageEntry{Key: "p", Records: n, Bytes: int64(len(data)), SHA256: sha})
	if got, err := pr.Next(); err != nil || len(got) != staging.MaxRecordBytes {
		t.Fatalf("reading the record back: %d bytes, err %v", len(got), err)
	}
	if _, err := pr.Next(); err != io.EOF {
		t.Fatalf("after the record: %v, want io.EOF", err)
	}
	// One byte more is refused, without quoting the record.
	rec = []byte(head + strings.Repeat("x", fill+1) + tail)
	prefix := []byte("kept")
	line, _, err = tr.Append(prefix, rec)
	var te *TransformError
	if !errors.As(err, &te) || kindOf(err) != KindBadData {
		t.Fatalf("record over the limit: err %v", err)
	}
	if !bytes.Equal(line, prefix) {
		t.Errorf("dst not restored: %d bytes", len(line))
	}
	if msg := err.Error(); strings.Contains(msg, "xxxx") || len(msg) > 200 {
		t.Errorf("error quotes the record: %.200s", msg)
	}
	// Metadata the transform drops does not count.
	rec = []byte(`{"__metadata":{"uri":"` + strings.Repeat("m", 64) + `"},` + head[1:] + strings.Repeat("x", fill) + tail)
	if _, _, err := tr.Append(nil, rec); err != nil {
		t.Errorf("record whose staged line fits: %v", err)
	}
}
