package odata

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"sync"
)

// bodyBuffers holds idle buffers for page bodies, each as large as a
// page. A plain list rather than a sync.Pool: a buffer put back on one
// processor must be found by the next page's decode on any other, or
// every processor grows a page-sized buffer of its own.
var bodyBuffers struct {
	sync.Mutex
	idle []*bytes.Buffer
}

// getBodyBuffer returns an idle body buffer, or a new one.
func getBodyBuffer() *bytes.Buffer {
	bodyBuffers.Lock()
	defer bodyBuffers.Unlock()
	if n := len(bodyBuffers.idle); n > 0 {
		buf := bodyBuffers.idle[n-1]
		bodyBuffers.idle = bodyBuffers.idle[:n-1]
		return buf
	}
	return new(bytes.Buffer)
}

// putBodyBuffer keeps buf for a later page, unless it is too large or one
// for each processor is kept already.
func putBodyBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	bodyBuffers.Lock()
	defer bodyBuffers.Unlock()
	if len(bodyBuffers.idle) < runtime.GOMAXPROCS(0) {
		bodyBuffers.idle = append(bodyBuffers.idle, buf)
	}
}

// maxPooledBody is the largest buffer kept for the next page.
const maxPooledBody = 16 << 20

// decodePageFast is [decodePage] for the common case, in about half the
// time: it reads the whole body, checks it is valid JSON in one pass and
// then finds the records without checking them again. The records are
// slices of one copy of the records' part of the body. Any body that is
// not a plain, valid page (cut short, not JSON, of another shape, with
// escaped or repeated member names) is decoded again by decodePage, so
// every error is exactly decodePage's.
func decodePageFast(r io.Reader, p *Page) error {
	buf := getBodyBuffer()
	buf.Reset()
	defer putBodyBuffer(buf)
	if _, err := buf.ReadFrom(r); err != nil {
		// decodePage sees the same bytes, then the same error.
		return decodePage(io.MultiReader(bytes.NewReader(buf.Bytes()), errReader{err}), p)
	}
	body := buf.Bytes()
	var fast Page
	if !json.Valid(body) || !scanPage(body, &fast) {
		return decodePage(bytes.NewReader(body), p)
	}
	if n := len(fast.Records); n > 0 {
		// One copy for all records; each record's capacity ends where
		// it does, so appending to one never overwrites the next.
		first := cap(body) - cap(fast.Records[0])
		last := cap(body) - cap(fast.Records[n-1]) + len(fast.Records[n-1])
		own := bytes.Clone(body[first:last])
		for i, rec := range fast.Records {
			at := cap(body) - cap(rec) - first
			fast.Records[i] = own[at : at+len(rec) : at+len(rec)]
		}
	}
	p.Records, p.Next, p.Count, p.HasCount = fast.Records, fast.Next, fast.Count, fast.HasCount
	return nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// scanPage reads a page from body, which is valid JSON, and reports
// whether it is a plain OData V2 collection response. Its records are
// slices of body that keep body's capacity, which gives their offsets.
func scanPage(b []byte, p *Page) bool {
	i := ws(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	sawD := false
	for i = ws(b, i+1); i < len(b) && b[i] != '}'; {
		key, j, ok := member(b, i)
		if !ok {
			return false
		}
		if string(key) == "d" {
			if sawD {
				return false
			}
			sawD = true
			if j, ok = scanD(b, j, p); !ok {
				return false
			}
		} else {
			j = skip(b, j)
		}
		if i, ok = next(b, j, '}'); !ok {
			return false
		}
	}
	return sawD
}

// scanD reads the value of "d" at i and returns the offset after it.
func scanD(b []byte, i int, p *Page) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	if b[i] == '[' {
		return scanResults(b, i, p)
	}
	if b[i] != '{' {
		return 0, false
	}
	var sawResults, sawNext, sawCount bool
	for i = ws(b, i+1); i < len(b) && b[i] != '}'; {
		key, j, ok := member(b, i)
		if !ok {
			return 0, false
		}
		switch string(key) {
		case "results":
			if sawResults || j >= len(b) || b[j] != '[' {
				return 0, false
			}
			sawResults = true
			j, ok = scanResults(b, j, p)
		case "__next":
			if sawNext {
				return 0, false
			}
			sawNext = true
			end := skip(b, j)
			switch b[j] {
			case 'n': // null: no next page
			case '"':
				ok = json.Unmarshal(b[j:end], &p.Next) == nil
			default:
				ok = false
			}
			j = end
		case "__count":
			if sawCount {
				return 0, false
			}
			sawCount = true
			end := skip(b, j)
			n, has, err := Int64Value(b[j:end])
			ok = err == nil && has && n >= 0
			p.Count, p.HasCount, j = n, true, end
		default:
			j = skip(b, j)
		}
		if !ok {
			return 0, false
		}
		if i, ok = next(b, j, '}'); !ok {
			return 0, false
		}
	}
	return i + 1, sawResults
}

// scanResults reads the array of records at i.
func scanResults(b []byte, i int, p *Page) (int, bool) {
	for i = ws(b, i+1); i < len(b) && b[i] != ']'; {
		end := skip(b, i)
		if end <= i {
			return 0, false
		}
		p.Records = append(p.Records, b[i:end]) // capacity tells the offset
		var ok bool
		if i, ok = next(b, end, ']'); !ok {
			return 0, false
		}
	}
	return i + 1, i < len(b)
}

// member reads a member name and its colon at i, and returns the name
// and the offset of the value. A name with an escape is refused: its
// meaning is for decodePage to work out.
func member(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	end := skip(b, i)
	key := b[i+1 : end-1]
	if bytes.IndexByte(key, '\\') >= 0 {
		return nil, 0, false
	}
	j := ws(b, end)
	if j >= len(b) || b[j] != ':' {
		return nil, 0, false
	}
	return key, ws(b, j+1), true
}

// next moves past the whitespace and comma after a value to the next
// element, or to the closing delimiter.
func next(b []byte, i int, closing byte) (int, bool) {
	i = ws(b, i)
	switch {
	case i >= len(b):
		return 0, false
	case b[i] == ',':
		return ws(b, i+1), true
	case b[i] == closing:
		return i, true
	}
	return 0, false
}

func ws(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skip returns the offset after the value at i of valid JSON.
func skip(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the offset after the string at i.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return len(b)
		}
		j += k
		// The quote is escaped when an odd number of backslashes
		// precede it.
		n := 0
		for n < j-i-1 && b[j-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
	return len(b)
}
