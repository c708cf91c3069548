package staging

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Layout builds the keys of staged data (layout version 1). Every part is
// checked before it is used; a refused part is a [*LayoutError]. The zero
// value puts runs at the root of the store.
type Layout struct {
	// BasePath is "" or a relative path such as "exports/sf": no leading
	// slash, no empty, "." or ".." segments, no backslash, percent sign or
	// control character. One trailing slash is ignored.
	BasePath string
}

// LayoutError reports a part of a key that [Layout] refuses.
type LayoutError struct {
	// Part names the refused part: "base path", "data type", "run id",
	// "attempt" or "seq".
	Part string

	// Value is the refused part as given; a number is in decimal.
	Value string

	// Reason says what a valid value looks like or what is wrong, such
	// as "want 0..999999" or "dot segment".
	Reason string
}

// Error returns "staging: invalid", the part, the quoted value (cut to
// 80 bytes) and the reason.
func (e *LayoutError) Error() string {
	return fmt.Sprintf("staging: invalid %s %s: %s", e.Part, quoteShort(e.Value), e.Reason)
}

// Unwrap returns [ErrInvalidKey].
func (e *LayoutError) Unwrap() error { return ErrInvalidKey }

const (
	maxBasePathLen = 512
	maxPageNumber  = 999999 // seq is printed with six digits; more would break key order
)

var (
	dataTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	runIDRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// CheckDataType reports whether name matches [a-z][a-z0-9_]{0,63}. It
// returns a [*LayoutError].
func CheckDataType(name string) error {
	if !dataTypeRE.MatchString(name) {
		return &LayoutError{Part: "data type", Value: name, Reason: "want [a-z][a-z0-9_]{0,63}"}
	}
	return nil
}

// CheckRunID reports whether id is a canonical UUID: lower-case hex in
// the 8-4-4-4-12 form. It returns a [*LayoutError].
func CheckRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return &LayoutError{Part: "run id", Value: id, Reason: "want a lower-case canonical UUID"}
	}
	return nil
}

// CheckBasePath reports whether p is usable as [Layout.BasePath]. It
// returns a [*LayoutError].
func CheckBasePath(p string) error {
	_, err := cleanBase(p)
	return err
}

// cleanBase checks p and returns it with one trailing slash removed.
func cleanBase(p string) (string, error) {
	bad := func(reason string) (string, error) {
		return "", &LayoutError{Part: "base path", Value: p, Reason: reason}
	}
	q := strings.TrimSuffix(p, "/")
	switch {
	case p == "":
		return "", nil
	case len(p) > maxBasePathLen:
		return bad("longer than 512 bytes")
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return bad("leading slash")
	case strings.ContainsRune(p, '\\'):
		return bad("backslash")
	case strings.ContainsRune(p, '%'):
		// Refused outright: an escaped "/" or "." (%2F, %2E) means one
		// thing here and another to whoever decodes the key later.
		return bad("percent sign")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	for seg := range strings.SplitSeq(q, "/") {
		switch seg {
		case "":
			return bad("empty path segment")
		case ".", "..":
			return bad("dot segment")
		}
	}
	return q, nil
}

// DataTypePrefix returns "{base}/{dataType}/", the prefix under which all
// runs of dataType live.
func (l Layout) DataTypePrefix(dataType string) (string, error) {
	base, err := cleanBase(l.BasePath)
	if err != nil {
		return "", err
	}
	if err := CheckDataType(dataType); err != nil {
		return "", err
	}
	if base == "" {
		return dataType + "/", nil
	}
	return base + "/" + dataType + "/", nil
}

// RunPrefix returns "{base}/{dataType}/{runID}/".
func (l Layout) RunPrefix(dataType, runID string) (string, error) {
	p, err := l.DataTypePrefix(dataType)
	if err != nil {
		return "", err
	}
	if err := CheckRunID(runID); err != nil {
		return "", err
	}
	return p + runID + "/", nil
}

// StateKey returns the key of a run's state record.
func (l Layout) StateKey(dataType, runID string) (string, error) {
	return l.runKey(dataType, runID, "state.json")
}

// ManifestKey returns the key of a run's manifest.
func (l Layout) ManifestKey(dataType, runID string) (string, error) {
	return l.runKey(dataType, runID, "manifest.json")
}

// PagesPrefix returns the prefix under which the pages of one attempt
// live: "{base}/{dataType}/{runID}/pages/{attempt}/".
func (l Layout) PagesPrefix(dataType, runID string, attempt int) (string, error) {
	if err := checkNumber("attempt", attempt); err != nil {
		return "", err
	}
	return l.runKey(dataType, runID, fmt.Sprintf("pages/%d/", attempt))
}

// PageKey returns the key of page seq of an attempt. Both numbers lie in
// 0..999999, so that page keys sort in page order.
func (l Layout) PageKey(dataType, runID string, attempt, seq int) (string, error) {
	p, err := l.PagesPrefix(dataType, runID, attempt)
	if err != nil {
		return "", err
	}
	if err := checkNumber("seq", seq); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s%06d.jsonl.gz", p, seq), nil
}

func (l Layout) runKey(dataType, runID, name string) (string, error) {
	p, err := l.RunPrefix(dataType, runID)
	if err != nil {
		return "", err
	}
	return p + name, nil
}

func checkNumber(part string, n int) error {
	if n < 0 || n > maxPageNumber {
		return &LayoutError{Part: part, Value: fmt.Sprint(n), Reason: "want 0..999999"}
	}
	return nil
}
