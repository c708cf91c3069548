package odata

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrMalformedBody is wrapped by every error about a 2xx body that is not
// the OData V2 JSON expected. A body that is cut short or not JSON at all
// is a transient failure and retried; well-formed JSON of the wrong shape
// is not.
var ErrMalformedBody = errors.New("odata: malformed OData JSON body")

// errShape marks well-formed JSON that is not an OData V2 response.
var errShape = fmt.Errorf("%w: unexpected shape", ErrMalformedBody)

// limitReader fails with ErrTooLarge once more than n bytes were read.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Look one byte further: a body of exactly the limit is fine.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// decodePage reads a collection response, {"d":{"results":[...],
// "__next":"...","__count":"..."}}, or the older {"d":[...]}, record by
// record from r. Every record is copied out as raw JSON, so the body is
// never held whole. The whole body must decode: a body cut short is an
// error, never a short page.
func decodePage(r io.Reader, p *Page) error {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	sawD := false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		if key != "d" {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		if sawD {
			return fmt.Errorf("%w: two \"d\" members", errShape)
		}
		sawD = true
		if err := decodeD(dec, p); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !sawD {
		return fmt.Errorf("%w: no \"d\" member", errShape)
	}
	return expectEOF(dec)
}

// decodeD reads the value of "d".
func decodeD(dec *json.Decoder, p *Page) error {
	tok, err := dec.Token()
	if err != nil {
		return bodyErr(err)
	}
	switch tok {
	case json.Delim('['):
		return decodeResults(dec, p)
	case json.Delim('{'):
	default:
		return fmt.Errorf("%w: \"d\" is not an object", errShape)
	}

	sawResults := false
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "results":
			if err := expectDelim(dec, '['); err != nil {
				return err
			}
			if err := decodeResults(dec, p); err != nil {
				return err
			}
			sawResults = true
		case "__next":
			if p.Next, err = nextValue(dec); err != nil {
				return err
			}
		case "__count":
			if p.Count, err = countValue(dec); err != nil {
				return err
			}
			p.HasCount = true
		default:
			if err := skipValue(dec); err != nil {
				return err
			}
		}
	}
	if !sawResults {
		return fmt.Errorf("%w: \"d\" has no \"results\" (a single entity?)", errShape)
	}
	return expectDelim(dec, '}')
}

// decodeResults reads array elements after the opening bracket.
func decodeResults(dec *json.Decoder, p *Page) error {
	for dec.More() {
		var rec json.RawMessage
		if err := dec.Decode(&rec); err != nil {
			return bodyErr(err)
		}
		p.Records = append(p.Records, rec)
	}
	return expectDelim(dec, ']')
}

// decodeEntity reads a single-entity response, {"d":{...}}, and returns
// the entity.
func decodeEntity(r io.Reader) (json.RawMessage, error) {
	dec := json.NewDecoder(r)
	var env struct {
		D json.RawMessage `json:"d"`
	}
	if err := dec.Decode(&env); err != nil {
		return nil, bodyErr(err)
	}
	if len(env.D) == 0 || env.D[0] != '{' {
		return nil, fmt.Errorf("%w: \"d\" is not an object", errShape)
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}
	return env.D, nil
}

// nextValue reads __next: a string, or null or "" meaning no next page.
func nextValue(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", bodyErr(err)
	}
	switch v := tok.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("%w: \"__next\" is not a string", errShape)
}

// countValue reads __count, which OData V2 sends as a string; a number is
// accepted too.
func countValue(dec *json.Decoder) (int64, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return 0, bodyErr(err)
	}
	n, ok, err := Int64Value(raw)
	if err != nil || !ok || n < 0 {
		return 0, fmt.Errorf("%w: bad \"__count\" %.40q", errShape, raw)
	}
	return n, nil
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", bodyErr(err)
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: expected a member name", errShape)
	}
	return key, nil
}

func skipValue(dec *json.Decoder) error {
	var skip json.RawMessage
	return bodyErr(dec.Decode(&skip))
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return bodyErr(err)
	}
	if tok != want {
		return fmt.Errorf("%w: expected %q", errShape, want)
	}
	return nil
}

func expectEOF(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return fmt.Errorf("%w: data after the document", errShape)
		}
		return bodyErr(err)
	}
	return nil
}

// bodyErr wraps a decode or read error; ErrTooLarge passes through.
func bodyErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTooLarge):
		return err
	case err == io.EOF:
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrMalformedBody, err)
}
