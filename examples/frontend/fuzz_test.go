package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeRunRequest feeds arbitrary bodies to the request decoder
// behind the same size limit as the handler. It must not panic; it must
// either refuse the body with a caller error or return a non-empty data
// type; and its error text must not quote the body.
func FuzzDecodeRunRequest(f *testing.F) {
	for _, seed := range []string{
		`{"dataType":"users"}`,
		`{"dataType":""}`,
		`{"dataType":7}`,
		`{"dataType":"users"} {}`,
		`{"dataType":"users","extra":1}`,
		`{"dataType":"\u0000\ud800"}`,
		`[]`, `null`, ``, `{`, `"users"`,
		`{"dataType":"users"}` + strings.Repeat(" ", 100),
		strings.Repeat("[", 5000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := http.MaxBytesReader(w, io.NopCloser(bytes.NewReader(body)), maxBodyBytes)
		req, err := decodeRunRequest(r)
		var maxErr *http.MaxBytesError
		switch {
		case err == nil:
			if req.DataType == "" {
				t.Fatal("accepted an empty data type")
			}
		case errors.As(err, &maxErr):
			if len(body) <= maxBodyBytes {
				t.Fatalf("size error for %d bytes", len(body))
			}
		case errors.Is(err, errBadBody):
			if len(body) >= 8 && strings.Contains(err.Error(), string(body)) {
				t.Fatalf("error quotes the body: %v", err)
			}
		default:
			t.Fatalf("error of no known kind: %v", err)
		}
	})
}
