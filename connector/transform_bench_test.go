package connector

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

// sampleRecords makes n records shaped like SF's, for sampleType.
func sampleRecords(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	recs := make([][]byte, n)
	for i := range recs {
		ms := 1500000000000 + r.Int64N(300000000000)
		recs[i] = fmt.Appendf(nil, `{"__metadata":{"uri":"https://api.example-sf.test:443/odata/v2/Background_SpecialAssign(backgroundElementId=%dL,userId='user%d')","type":"SFOData.Background_SpecialAssign"},`+
			`"backgroundElementId":"%d","userId":"user%d","bgOrderPos":"%d","price":"%d.%02d","fte":%d.5,"amount":null,`+
			`"lastModifiedDateTime":"/Date(%d+0000)/","createdDateTime":"/Date(%d)/","lastModified":"/Date(%d)/",`+
			`"endDate":"/Date(%d)/","effStart":"/Date(-2208988800000)/","description":"Provided expertise for \"Project %d\" \u00e9 / caf\u00e9",`+
			`"manager":{"__deferred":{"uri":"https://api.example-sf.test:443/odata/v2/User('user%d')/manager"}},`+
			`"skills":{"results":[{"__metadata":{"uri":"s"},"code":"go","rated":"/Date(%d+0000)/"}]}}`,
			130000+i, i, 130000+i, i, r.IntN(9), r.IntN(1000), r.IntN(100), r.IntN(2),
			ms, ms-r.Int64N(1e9), ms, ms/86400000*86400000, i, i, ms)
	}
	return recs
}

// BenchmarkStagePage compares staging a page of 1000 records the fast way
// (byte scanner and the staging page encoder) with the plain way (decode
// to a map, encoding/json, the standard library's gzip). Compare ns/op or
// MB/s of the two sub-benchmarks.
func BenchmarkStagePage(b *testing.B) {
	d := sampleType()
	recs := sampleRecords(1000)
	var size int64
	for _, r := range recs {
		size += int64(len(r))
	}

	b.Run("fast", func(b *testing.B) {
		stage := fastStager(d)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if err := stage(recs); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("map", func(b *testing.B) {
		stage := mapStager(d)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if err := stage(recs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// fastStager stages a page the way a run does.
func fastStager(d *DataType) func([][]byte) error {
	tr := d.Transformer()
	enc := staging.NewPageEncoder()
	var line []byte
	return func(recs [][]byte) error {
		enc.Reset()
		for _, r := range recs {
			var err error
			if line, _, err = tr.Append(line[:0], r); err != nil {
				return err
			}
			if err := enc.WriteRecord(line); err != nil {
				return err
			}
		}
		_, _, _, err := enc.Finish()
		return err
	}
}

// mapStager stages a page the plain way.
func mapStager(d *DataType) func([][]byte) error {
	var buf bytes.Buffer
	return func(recs [][]byte) error {
		buf.Reset()
		zw := gzip.NewWriter(&buf)
		for _, r := range recs {
			line, err := refTransform(d, r)
			if err != nil {
				return err
			}
			zw.Write(line)
			zw.Write([]byte{'\n'})
		}
		return zw.Close()
	}
}
