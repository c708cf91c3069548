package staging

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

var (
	// ErrNotFound means there is no object at the key.
	ErrNotFound = errors.New("staging: not found")
	// ErrPrecondition means a conditional put lost: the object exists
	// (Condition.IfAbsent) or its ETag differs (Condition.IfMatch).
	ErrPrecondition = errors.New("staging: precondition failed")
	// ErrInvalidKey is wrapped by [*KeyError] and [*LayoutError]: a key or
	// a part of one was refused before any I/O.
	ErrInvalidKey = errors.New("staging: invalid key")
)

// Condition makes a Put conditional. The zero value is unconditional.
// Setting both fields is an error.
type Condition struct {
	IfAbsent bool   // If-None-Match: *
	IfMatch  string // If-Match: etag, as returned by Put, Get or List
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
//
// Put stores body under key; size is the body's length, or negative when
// unknown. A Put with a Condition that does not hold returns an error
// wrapping [ErrPrecondition] and changes nothing. Get of a missing key
// returns an error wrapping [ErrNotFound]. List returns every object whose
// key starts with prefix, sorted by key. Delete of a missing key is not an
// error. ETags are opaque strings compared for equality only.
type Store interface {
	Put(ctx context.Context, key string, body io.Reader, size int64, cond Condition) (etag string, err error)
	Get(ctx context.Context, key string) (*Object, error)
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
	Delete(ctx context.Context, key string) error
}

// KeyError reports an object key a store refuses to use.
type KeyError struct {
	Key    string
	Reason string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("staging: invalid key %s: %s", quoteShort(e.Key), e.Reason)
}

// Unwrap returns [ErrInvalidKey].
func (e *KeyError) Unwrap() error { return ErrInvalidKey }

// maxKeyLen is S3's limit on the UTF-8 length of a key.
const maxKeyLen = 1024

// CheckKey reports whether key is usable in every store: non-empty, valid
// UTF-8, at most 1024 bytes, no NUL or other control characters, no
// leading slash, no empty, "." or ".." segments. It returns a [*KeyError].
func CheckKey(key string) error {
	bad := func(reason string) error { return &KeyError{Key: key, Reason: reason} }
	switch {
	case key == "":
		return bad("empty")
	case len(key) > maxKeyLen:
		return bad("longer than 1024 bytes")
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("leading slash")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad("dot segment")
		}
	}
	return nil
}

// checkPrefix is CheckKey for List prefixes, which may be empty or end
// in a slash.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := CheckKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return &KeyError{Key: prefix, Reason: err.(*KeyError).Reason}
	}
	return nil
}

func checkCondition(cond Condition) error {
	if cond.IfAbsent && cond.IfMatch != "" {
		return errors.New("staging: condition sets both IfAbsent and IfMatch")
	}
	return nil
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
