package staging

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
)

var (
	// ErrNotFound: no object at the key.
	ErrNotFound = errors.New("staging: not found")
	// ErrPrecondition: a conditional put lost (object exists, or ETag differs).
	ErrPrecondition = errors.New("staging: precondition failed")
)

// Condition makes a Put conditional. The zero value is unconditional.
type Condition struct {
	IfAbsent bool   // If-None-Match: *
	IfMatch  string // If-Match: etag
}

// Object is the result of Get. The caller closes Body.
type Object struct {
	Body io.ReadCloser
	ETag string
	Size int64
}

// ObjectInfo is one entry of List.
type ObjectInfo struct {
	Key          string
	Size         int64
	ETag         string
	LastModified time.Time
}

// Store is the object store the library writes to. Implementations are safe
// for concurrent use.
type Store interface {
	Put(ctx context.Context, key string, body io.Reader, size int64, cond Condition) (etag string, err error)
	Get(ctx context.Context, key string) (*Object, error)
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	Delete(ctx context.Context, key string) error
}

// Layout builds the keys of staged data (layout version 1). Every part is
// checked before it is used.
type Layout struct {
	BasePath string // "" or a relative path without ".." and without a leading slash
}

func (l Layout) RunPrefix(dataType, runID string) (string, error)   { panic("unimplemented") }
func (l Layout) StateKey(dataType, runID string) (string, error)    { panic("unimplemented") }
func (l Layout) ManifestKey(dataType, runID string) (string, error) { panic("unimplemented") }
func (l Layout) PageKey(dataType, runID string, attempt, seq int) (string, error) {
	panic("unimplemented")
}
func (l Layout) DataTypePrefix(dataType string) (string, error) { panic("unimplemented") }

// CheckDataType reports whether name matches [a-z][a-z0-9_]{0,63}.
func CheckDataType(name string) error { panic("unimplemented") }

// CheckRunID reports whether id is a canonical UUID.
func CheckRunID(id string) error { panic("unimplemented") }

// PageEntry is one page in a manifest.
type PageEntry struct {
	Key     string `json:"key"`
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
	SHA256  string `json:"sha256"`
}

// Manifest lists the pages of a finished run.
type Manifest struct {
	Schema     int             `json:"schema"`
	RunID      string          `json:"runId"`
	DataType   string          `json:"dataType"`
	Attempt    int             `json:"attempt"`
	Query      string          `json:"query"`
	Pages      []PageEntry     `json:"pages"`
	Records    int64           `json:"records"`
	Bytes      int64           `json:"bytes"`
	Duplicates int64           `json:"duplicates"`
	Created    time.Time       `json:"created"`
	Extra      json.RawMessage `json:"extra,omitempty"`
}

// PageEncoder builds one gzip NDJSON page. Reuse it across pages with Reset.
type PageEncoder struct{}

func NewPageEncoder() *PageEncoder { panic("unimplemented") }

// Reset starts a new page.
func (e *PageEncoder) Reset() { panic("unimplemented") }

// WriteRecord adds one JSON object (no trailing newline) as a line.
func (e *PageEncoder) WriteRecord(rec []byte) error { panic("unimplemented") }

// Finish closes the gzip stream and returns the page bytes, record count and
// hex SHA-256 of the bytes. The bytes are valid until the next Reset.
func (e *PageEncoder) Finish() (data []byte, records int64, sha256hex string, err error) {
	panic("unimplemented")
}

// WritePage stores an encoded page unconditionally and returns its entry.
func WritePage(ctx context.Context, s Store, key string, data []byte, records int64, sha string) (PageEntry, error) {
	panic("unimplemented")
}

// WriteManifest stores the manifest with If-None-Match: *.
func WriteManifest(ctx context.Context, s Store, key string, m *Manifest) error {
	panic("unimplemented")
}

// ReadManifest loads a manifest.
func ReadManifest(ctx context.Context, s Store, key string) (*Manifest, error) {
	panic("unimplemented")
}
