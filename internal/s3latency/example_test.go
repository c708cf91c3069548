package s3latency_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/techwolf/sfconnector/internal/s3latency"
)

// A proxy in front of a server (here a stand-in that answers "ok"; in
// tests the S3 server of internal/s3test) delays page uploads and answers
// one SlowDown.
func Example() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()

	p, err := s3latency.Start(backend.URL, &s3latency.Options{
		Latency: 20 * time.Millisecond,
		Match:   s3latency.PagePuts,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	p.Inject(s3latency.Fault{Kind: s3latency.SlowDown, Method: http.MethodGet})

	for range 2 {
		resp, err := http.Get(p.URL() + "/bucket/run/manifest.json")
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		code := string(body)
		if i := strings.Index(code, "<Code>"); i >= 0 {
			code = code[i+6 : strings.Index(code, "</Code>")]
		}
		fmt.Println(resp.StatusCode, code)
	}

	req, _ := http.NewRequest(http.MethodPut, p.URL()+"/bucket/run/pages/1/000000.jsonl.gz", strings.NewReader("x"))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, time.Since(start) >= 20*time.Millisecond)
	// Output:
	// 503 SlowDown
	// 200 ok
	// 200 true
}
