package odata

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidQuery is wrapped by every error about a malformed [Query].
var ErrInvalidQuery = errors.New("odata: invalid query")

// maxCustomPageSize is SF's largest server page.
const maxCustomPageSize = 1000

// Encode returns the query as a relative URL, entity set name then query
// string, percent-encoded for SF, for example:
//
//	User?$format=json&$filter=lastName%20eq%20'O''Neil'
//
// $format=json is always present. The entity set name is trimmed of surrounding spaces and
// must be an OData identifier.
func (q Query) Encode() (string, error) {
	return q.encode(q.PageSize, 0, q.InlineCount)
}

// encode builds the URL with the given page size and, for PagingSkip, the
// given $skip.
func (q Query) encode(pageSize, skip int, inlineCount bool) (string, error) {
	set, err := entitySetName(q.EntitySet)
	if err != nil {
		return "", err
	}
	if err := q.check(); err != nil {
		return "", err
	}

	var b strings.Builder
	b.WriteString(set)
	b.WriteString("?$format=json")
	q.writeCommon(&b)
	if q.Filter != "" {
		writeParam(&b, "$filter", q.Filter)
	}
	if len(q.OrderBy) > 0 {
		writeParam(&b, "$orderby", strings.Join(q.OrderBy, ","))
	}
	if inlineCount {
		writeParam(&b, "$inlinecount", "allpages")
	}
	switch q.Paging {
	case PagingSkip:
		writeParam(&b, "$top", strconv.Itoa(pageSize))
		writeParam(&b, "$skip", strconv.Itoa(skip))
	case PagingCursor, PagingSnapshot:
		writeParam(&b, "paging", string(q.Paging))
		fallthrough
	default:
		if pageSize > 0 {
			writeParam(&b, "customPageSize", strconv.Itoa(pageSize))
		}
	}
	q.writeDates(&b)
	return b.String(), nil
}

// writeCommon adds $select and $expand, shared by collection and entity
// reads.
func (q Query) writeCommon(b *strings.Builder) {
	if len(q.Select) > 0 {
		writeParam(b, "$select", strings.Join(q.Select, ","))
	}
	if len(q.Expand) > 0 {
		writeParam(b, "$expand", strings.Join(q.Expand, ","))
	}
}

// writeDates adds SF's effective-dating parameters.
func (q Query) writeDates(b *strings.Builder) {
	for _, d := range []struct {
		name string
		t    time.Time
	}{{"asOfDate", q.AsOfDate}, {"fromDate", q.FromDate}, {"toDate", q.ToDate}} {
		if !d.t.IsZero() {
			writeParam(b, d.name, d.t.Format(time.DateOnly))
		}
	}
}

// check reports option combinations SF rejects or that cannot page.
func (q Query) check() error {
	switch q.Paging {
	case PagingServer, PagingCursor, PagingSnapshot:
		if q.PageSize < 0 || q.PageSize > maxCustomPageSize {
			return fmt.Errorf("%w: page size %d outside 1..%d", ErrInvalidQuery,
				q.PageSize, maxCustomPageSize)
		}
	case PagingSkip:
		if q.PageSize <= 0 {
			return fmt.Errorf("%w: $top/$skip paging needs a page size", ErrInvalidQuery)
		}
		if len(q.OrderBy) == 0 {
			return fmt.Errorf("%w: $top/$skip paging needs a stable $orderby on the key",
				ErrInvalidQuery)
		}
	default:
		return fmt.Errorf("%w: unknown paging mode %q", ErrInvalidQuery, string(q.Paging))
	}
	if q.Paging == PagingCursor && len(q.OrderBy) > 0 {
		return fmt.Errorf("%w: SF does not support $orderby with paging=cursor", ErrInvalidQuery)
	}
	if !q.AsOfDate.IsZero() && (!q.FromDate.IsZero() || !q.ToDate.IsZero()) {
		return fmt.Errorf("%w: asOfDate excludes fromDate and toDate", ErrInvalidQuery)
	}
	for _, list := range [][]string{q.Select, q.Expand, q.OrderBy} {
		for _, s := range list {
			if strings.TrimSpace(s) == "" || strings.Contains(s, ",") {
				return fmt.Errorf("%w: bad list item %q", ErrInvalidQuery, s)
			}
		}
	}
	return nil
}

// entitySetName trims name and checks it is an OData identifier: a
// trailing space makes SF answer COE_ENTITY_NOT_FOUND.
func entitySetName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if !isIdentifier(name) {
		return "", fmt.Errorf("%w: entity set name %q", ErrInvalidQuery, name)
	}
	return name, nil
}

// isIdentifier reports whether s is a letter or underscore followed by
// letters, digits or underscores, at most 128 bytes.
func isIdentifier(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func writeParam(b *strings.Builder, name, value string) {
	b.WriteByte('&')
	b.WriteString(name)
	b.WriteByte('=')
	b.WriteString(escapeValue(value))
}

// escapeValue percent-encodes a query value. It keeps the characters OData
// expressions are made of and that carry no meaning inside a query value
// (quotes, parentheses, commas, colons, slashes), and encodes everything
// else, including space, '&', '#', '+', '=' and all non-ASCII bytes.
func escapeValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keepInValue(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func keepInValue(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~'(),:/*!@$", c) >= 0
}
