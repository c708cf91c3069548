package odata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzDecodePage: the decoder never panics, accepts only valid JSON, and
// returns records that are themselves valid JSON.
func FuzzDecodePage(f *testing.F) {
	for _, s := range []string{
		`{"d":{"results":[{"userId":"a"}],"__next":"https://h/odata/v2/User?$skiptoken=x","__count":"2"}}`,
		`{"d":{"__count":"0","results":[]}}`,
		`{"d":[{"a":1},{"b":[1,2,{"c":null}]}]}`,
		`{"d":{"results":[{"userId":"c1"},{"userId":"c2"`,
		`{"error":{"code":"X","message":{"value":"y"}}}`,
		`{"d":{"results":[],"__next":null,"__count":17}}`,
		`{"d":{"results":[1,"x",true,null]},"x":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p Page
		err := decodePage(bytes.NewReader(body), &p)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		for _, r := range p.Records {
			if !json.Valid(r) {
				t.Fatalf("record %q is not valid JSON", r)
			}
		}
		if p.Count < 0 {
			t.Fatalf("negative count %d", p.Count)
		}
		// A limit one byte short of the body must fail, never truncate.
		if len(body) > 0 {
			var q Page
			lr := &limitReader{r: bytes.NewReader(body), n: int64(len(body) - 1)}
			if decodePage(lr, &q) == nil && len(bytes.TrimSpace(body)) == len(body) {
				t.Fatalf("decoded %q within %d bytes", body, len(body)-1)
			}
		}
	})
}

// FuzzParseDate: never panics, returns UTC, and agrees with the
// formatter.
func FuzzParseDate(f *testing.F) {
	for _, s := range []string{
		"/Date(1618796144000+0000)/", "/Date(1454332153030+0200)/", "/Date(-2208988800000)/",
		`\/Date(1583107200000)\/`, "/Date(abc)/", "/Date(1-1)/", "2021-01-05T15:16:23Z", "/Date(-)/",
		"/Date(1583107200000+02)/", "/Date(1583107200000+9999)/", "/Date(1583107200000+2400)/",
		"/Date(1583107200000-0060)/", "/Date(1583107200000+2359)/", "/Date(1583107200000+02:00)/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseDate(s)
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", clip(s))) {
				t.Fatalf("error %q does not quote %q", err, s)
			}
			return
		}
		if inner, ok := dateInner(s); ok {
			if i := strings.LastIndexAny(inner, "+-"); i > 0 {
				off := inner[i+1:]
				if len(off) != 4 || off[:2] > "23" || off[2:] > "59" {
					t.Fatalf("ParseDate(%q) accepted offset %q", s, off)
				}
			}
		}
		if tm.Location() != time.UTC {
			t.Fatalf("ParseDate(%q) not in UTC", s)
		}
		back, err := ParseDate(fmt.Sprintf("/Date(%d)/", tm.UnixMilli()))
		if err != nil || !back.Equal(tm.Truncate(time.Millisecond)) && tm.Year() > 0 {
			t.Fatalf("ParseDate(%q) = %v; millisecond round trip gave %v, %v", s, tm, back, err)
		}
		if y := tm.Year(); y >= 1 && y <= 9999 {
			text := FormatDateTimeOffset(tm)
			again, err := time.Parse(time.RFC3339Nano, text)
			if err != nil || !again.Equal(tm.Truncate(time.Millisecond)) {
				t.Fatalf("FormatDateTimeOffset(%v) = %q, parses back as %v, %v", tm, text, again, err)
			}
		}
	})
}

// FuzzNextLink: an accepted link always names the service's origin, as
// net/http will read it, and an absolute link is kept verbatim.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		"https://api.example-sf.test:443/odata/v2/User?$skiptoken=x",
		"http://api.example-sf.test/odata/v2/User?$skiptoken=x",
		"https://evil.test/odata/v2/User?$skiptoken=x",
		"/odata/v2/User?$skiptoken=eyJz%2B==",
		"User?$skiptoken=a b",
		"//evil.test/x",
		"https://api.example-sf.test@evil.test/",
		"https://api.example-sf.test%2F@evil.test/",
		"HTTPS://API.EXAMPLE-SF.TEST./x",
		"https://[::1]:443/x",
		"/odata/v2/Other?$skiptoken=x",
		"https://api.example-sf.test/odata/v2/User/./?$skiptoken=x",
		"Other?$skiptoken=x",
		"/odata/v2/User%2F..%2FOther?$skiptoken=x",
	} {
		f.Add(s)
	}
	root, _ := url.Parse("https://api.example-sf.test/odata/v2")
	base := "https://api.example-sf.test/odata/v2/User?$format=json"
	c, err := NewClient(root.String()+"/", nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, link string) {
		got, err := resolveLink(root, base, link)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("resolved %q does not parse: %v", got, err)
		}
		if u.Scheme != "https" && u.Scheme != "HTTPS" && !strings.EqualFold(u.Scheme, "https") {
			t.Fatalf("%q: scheme %q", link, u.Scheme)
		}
		if !strings.EqualFold(u.Hostname(), "api.example-sf.test") || (u.Port() != "" && u.Port() != "443") {
			t.Fatalf("%q: host %q port %q", link, u.Hostname(), u.Port())
		}
		if u.User != nil {
			t.Fatalf("%q: user information kept", link)
		}
		if ref, _ := url.Parse(link); ref.IsAbs() && got != link {
			t.Fatalf("absolute link %q rewritten to %q", link, got)
		}

		// A link the pager follows also names the query's entity set.
		next, err := c.resolveNext(Query{EntitySet: "User"}, base, link)
		if err != nil {
			if !errors.Is(err, ErrUnsafeLink) {
				t.Fatalf("%q: error %v", link, err)
			}
			return
		}
		n, _ := url.Parse(next)
		if p := strings.TrimSuffix(n.Path, "/"); p != "/odata/v2/User" {
			t.Fatalf("%q: followed to path %q", link, n.Path)
		}
	})
}
