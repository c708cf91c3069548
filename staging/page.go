package staging

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"runtime"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// PageEncoder builds one gzip NDJSON page in memory: one JSON object per
// line. Reuse it across pages with Reset; its buffers are kept. The
// compressor, the larger part, is held only from Reset to Finish, so that
// encoders whose pages are uploading share one. A PageEncoder is not safe
// for concurrent use.
type PageEncoder struct {
	buf     bytes.Buffer
	zw      *gzip.Writer // nil after Finish
	pending []byte       // lines not yet handed to zw
	scratch bytes.Buffer
	records int64
	done    bool
}

// pendingSize is how many bytes of lines are collected before they are
// compressed: one large write costs the compressor less than two small
// ones a record.
const pendingSize = 32 << 10

// NewPageEncoder returns an encoder ready for the first page.
func NewPageEncoder() *PageEncoder {
	e := &PageEncoder{pending: make([]byte, 0, pendingSize)}
	e.Reset()
	return e
}

// compressors holds idle gzip writers. Each holds about 700 KiB of match
// tables, far more than a compressed page, so a page that is only
// uploading gives its writer back for the next page to be encoded. A
// plain list rather than a sync.Pool: a writer put back on one processor
// must be found by an encoder on any other.
var compressors struct {
	sync.Mutex
	idle []*gzip.Writer
}

// getCompressor returns an idle gzip writer, or a new one.
func getCompressor() *gzip.Writer {
	compressors.Lock()
	defer compressors.Unlock()
	if n := len(compressors.idle); n > 0 {
		zw := compressors.idle[n-1]
		compressors.idle = compressors.idle[:n-1]
		return zw
	}
	zw, _ := gzip.NewWriterLevel(nil, gzip.DefaultCompression)
	return zw
}

// putCompressor keeps zw for a later page, unless one for each processor
// is kept already.
func putCompressor(zw *gzip.Writer) {
	zw.Reset(nil) // hold no page buffer
	compressors.Lock()
	defer compressors.Unlock()
	if len(compressors.idle) < runtime.GOMAXPROCS(0) {
		compressors.idle = append(compressors.idle, zw)
	}
}

// Reset starts a new page, discarding the previous one.
func (e *PageEncoder) Reset() {
	e.buf.Reset()
	if e.zw == nil {
		e.zw = getCompressor()
	}
	e.zw.Reset(&e.buf)
	e.pending = e.pending[:0]
	e.records = 0
	e.done = false
}

// WriteRecord adds one JSON object as a line. rec must be valid JSON; the
// encoder checks only that it is an object, and folds a multi-line object
// onto one line.
func (e *PageEncoder) WriteRecord(rec []byte) error {
	if e.done {
		return errors.New("staging: WriteRecord after Finish")
	}
	rec = bytes.TrimSpace(rec)
	if len(rec) < 2 || rec[0] != '{' || rec[len(rec)-1] != '}' {
		return errors.New("staging: page record is not a JSON object")
	}
	if bytes.IndexByte(rec, '\n') >= 0 || bytes.IndexByte(rec, '\r') >= 0 {
		e.scratch.Reset()
		if err := json.Compact(&e.scratch, rec); err != nil {
			return fmt.Errorf("staging: page record: %w", err)
		}
		rec = e.scratch.Bytes()
	}
	e.pending = append(append(e.pending, rec...), '\n')
	e.records++
	if len(e.pending) >= pendingSize {
		return e.flush()
	}
	return nil
}

// flush compresses the pending lines.
func (e *PageEncoder) flush() error {
	_, err := e.zw.Write(e.pending)
	e.pending = e.pending[:0]
	if err != nil {
		return fmt.Errorf("staging: compress page: %w", err)
	}
	return nil
}

// Records returns the number of records written since Reset.
func (e *PageEncoder) Records() int64 { return e.records }

// Finish closes the gzip stream and returns the page bytes, record count and
// hex SHA-256 of the bytes. The bytes are valid until the next Reset.
func (e *PageEncoder) Finish() (data []byte, records int64, sha256hex string, err error) {
	if !e.done {
		if err := e.flush(); err != nil {
			return nil, 0, "", err
		}
		if err := e.zw.Close(); err != nil {
			return nil, 0, "", fmt.Errorf("staging: compress page: %w", err)
		}
		putCompressor(e.zw)
		e.zw = nil
		e.done = true
	}
	sum := sha256.Sum256(e.buf.Bytes())
	return e.buf.Bytes(), e.records, hex.EncodeToString(sum[:]), nil
}

// WritePage stores an encoded page unconditionally and returns its entry.
// data is uploaded in place, without a copy. A retried attempt may rewrite
// its own page, so the write is not conditional.
func WritePage(ctx context.Context, s Store, key string, data []byte, records int64, sha string) (PageEntry, error) {
	if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), Condition{}); err != nil {
		return PageEntry{}, fmt.Errorf("staging: write page %q: %w", key, err)
	}
	return PageEntry{Key: key, Records: records, Bytes: int64(len(data)), SHA256: sha}, nil
}

// ErrBadPage is wrapped by every [*PageError].
var ErrBadPage = errors.New("staging: bad page")

// PageError reports a page that does not match its manifest entry or is
// not valid gzip NDJSON.
type PageError struct {
	// Key is the page's object key, from its manifest entry.
	Key string

	// Reason says what is wrong, such as "SHA-256 differs from the
	// manifest" or "not gzip".
	Reason string

	// Err is the underlying cause, such as a gzip or read error; nil
	// when the content itself is wrong.
	Err error
}

// Error returns "staging: page", the quoted key, the reason and the
// cause if there is one.
func (e *PageError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("staging: page %q: %s: %v", e.Key, e.Reason, e.Err)
	}
	return fmt.Sprintf("staging: page %q: %s", e.Key, e.Reason)
}

// Unwrap returns [ErrBadPage] and the cause.
func (e *PageError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBadPage, e.Err}
	}
	return []error{ErrBadPage}
}

// MaxRecordBytes bounds the length of one line of a page read by
// [PageReader].
const MaxRecordBytes = 16 << 20

// PageReader reads the records of one page back and checks the page
// against its manifest entry. It is not safe for concurrent use.
type PageReader struct {
	want    PageEntry
	src     io.Reader
	counted *hashCounter
	zr      *gzip.Reader
	br      *bufio.Reader
	line    []byte
	records int64
	err     error
}

// OpenPage returns a reader of the page in r, which is checked against
// want: its SHA-256, byte size and record count. The checks complete when
// Next returns io.EOF; a mismatch or broken stream is a [*PageError]
// naming want.Key.
func OpenPage(r io.Reader, want PageEntry) *PageReader {
	hc := &hashCounter{h: sha256.New()}
	return &PageReader{want: want, src: r, counted: hc}
}

type hashCounter struct {
	h hash.Hash
	n int64
}

func (c *hashCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (p *PageReader) fail(reason string, err error) error {
	p.err = &PageError{Key: p.want.Key, Reason: reason, Err: err}
	return p.err
}

// Next returns the next record, without its newline. The slice is valid
// until the next call. At the end of a page that matches its entry Next
// returns io.EOF.
func (p *PageReader) Next() ([]byte, error) {
	if p.err != nil {
		return nil, p.err
	}
	if p.zr == nil {
		tee := io.TeeReader(p.src, p.counted)
		zr, err := gzip.NewReader(bufio.NewReader(tee))
		if err != nil {
			return nil, p.fail("not gzip", err)
		}
		p.zr = zr
		p.br = bufio.NewReaderSize(zr, 64<<10)
	}
	line, err := p.readLine()
	switch {
	case err == io.EOF && len(line) == 0:
		return nil, p.finish()
	case err == io.EOF:
		return nil, p.fail("last record not terminated by a newline", nil)
	case err != nil:
		return nil, p.fail("read", err)
	}
	p.records++
	return line, nil
}

// readLine returns one line without its newline, up to MaxRecordBytes.
func (p *PageReader) readLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		chunk, err := p.br.ReadSlice('\n')
		p.line = append(p.line, chunk...)
		if len(p.line) > MaxRecordBytes+1 {
			return nil, fmt.Errorf("record longer than %d bytes", MaxRecordBytes)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return p.line, err
		}
		return p.line[:len(p.line)-1], nil
	}
}

// finish drains what the gzip reader left of the source, so that trailing
// bytes count in the hash, and checks the page against its entry.
func (p *PageReader) finish() error {
	if _, err := io.Copy(p.counted, p.src); err != nil {
		return p.fail("read", err)
	}
	got := hex.EncodeToString(p.counted.h.Sum(nil))
	switch {
	case p.counted.n != p.want.Bytes:
		return p.fail(fmt.Sprintf("%d bytes, manifest says %d", p.counted.n, p.want.Bytes), nil)
	case got != p.want.SHA256:
		return p.fail("SHA-256 differs from the manifest", nil)
	case p.records != p.want.Records:
		return p.fail(fmt.Sprintf("%d records, manifest says %d", p.records, p.want.Records), nil)
	}
	p.err = io.EOF
	return io.EOF
}

// ReadPage fetches the page of entry from s and yields its records, each
// a fresh copy. A page that does not match entry ends with a
// [*PageError]; the records yielded before it came from a bad page.
func ReadPage(ctx context.Context, s Store, entry PageEntry) iter.Seq2[json.RawMessage, error] {
	return func(yield func(json.RawMessage, error) bool) {
		obj, err := s.Get(ctx, entry.Key)
		if err != nil {
			yield(nil, fmt.Errorf("staging: read page %q: %w", entry.Key, err))
			return
		}
		defer obj.Body.Close()
		pr := OpenPage(obj.Body, entry)
		for {
			line, err := pr.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(bytes.Clone(line), nil) {
				return
			}
		}
	}
}
