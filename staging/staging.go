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
	// Body streams the object's content. It is never nil; the caller
	// must close it, even after reading it to the end.
	Body io.ReadCloser

	// ETag identifies the version of the object that Body holds, for a
	// later Put with Condition.IfMatch.
	ETag string

	// Size is the content length in bytes, as the store reported it.
	Size int64
}

// ObjectInfo is one entry of List.
type ObjectInfo struct {
	// Key is the object's full key, prefix included.
	Key string

	// Size is the content length in bytes.
	Size int64

	// ETag identifies the version of the object listed; it equals the
	// ETag that Get returns for the same version.
	ETag string

	// LastModified is when the object was last written, as the store
	// records it; DirStore gives the file's modification time in UTC.
	LastModified time.Time
}

// Store is the object store the library writes to. Implementations are safe
// for concurrent use.
//
// Keys are checked with [CheckKey] before any I/O; a refused key is a
// [*KeyError]. A Put with a [Condition] that does not hold returns an error
// wrapping [ErrPrecondition] and changes nothing; a Get of a missing key
// returns an error wrapping [ErrNotFound]. ETags are opaque strings,
// compared for equality only.
type Store interface {
	// Put stores body under key and returns the new ETag. size is the
	// body's length, or negative when unknown. If cond does not hold the
	// error wraps ErrPrecondition and nothing changes.
	Put(ctx context.Context, key string, body io.Reader, size int64, cond Condition) (etag string, err error)

	// Get opens the object at key. A missing key is an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) (*Object, error)

	// List returns every object whose key starts with prefix, sorted by
	// key. An empty prefix lists the whole store.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)

	// Delete removes the object at key. A missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// KeyError reports an object key a store refuses to use.
type KeyError struct {
	// Key is the refused key or List prefix, as the caller gave it.
	Key string

	// Reason says what is wrong with Key, such as "dot segment".
	Reason string
}

// Error returns "staging: invalid key", the quoted key (cut to 80 bytes)
// and the reason.
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
