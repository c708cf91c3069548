package staging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// ManifestSchema is the schema version of manifests this package writes
// and reads.
const ManifestSchema = 1

// maxManifestBytes bounds a manifest read back; a run of a million pages
// stays well below it.
const maxManifestBytes = 256 << 20

// PageEntry is one page in a manifest.
type PageEntry struct {
	// Key is the page's object key, under the pages prefix of the run
	// and attempt (see [Layout.PageKey]).
	Key string `json:"key"`

	// Records is the number of lines, one record each, in the
	// decompressed page.
	Records int64 `json:"records"`

	// Bytes is the size of the stored, compressed object.
	Bytes int64 `json:"bytes"`

	// SHA256 is the lower-case hex SHA-256 of the stored, compressed
	// bytes.
	SHA256 string `json:"sha256"`
}

// Manifest lists the pages of a finished run. A reader ingests only the
// pages listed here.
type Manifest struct {
	// Schema is the manifest's schema version, [ManifestSchema]. Zero is
	// set to it by [WriteManifest]; a reader refuses any other value.
	Schema int `json:"schema"`

	// RunID is the run's id, a lower-case canonical UUID.
	RunID string `json:"runId"`

	// DataType is the catalog name of the run's data type.
	DataType string `json:"dataType"`

	// Attempt is the attempt whose pages are listed. Pages that other
	// attempts left behind are not part of the run.
	Attempt int `json:"attempt"`

	// Query is the OData request that produced the first page, without
	// credentials, for people tracing where the data came from. Empty
	// if unknown.
	Query string `json:"query"`

	// Pages lists the pages in the order they were read; a run that
	// found no records has none.
	Pages []PageEntry `json:"pages"`

	// Records is the sum of the pages' records.
	Records int64 `json:"records"`

	// Bytes is the sum of the pages' compressed sizes.
	Bytes int64 `json:"bytes"`

	// Duplicates counts records dropped because an earlier page of the
	// run held the same entity key. They are not in Records.
	Duplicates int64 `json:"duplicates"`

	// Created is when the manifest was written, in UTC.
	Created time.Time `json:"created"`

	// Extra is reserved for host programs: any valid JSON, stored and
	// read back unchanged. Nil leaves the field out.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// Check reports whether m is consistent in itself: schema 1, valid data
// type and run id, valid page keys, and totals equal to the sums over its
// pages. Whether the pages belong to the run and attempt is for the reader
// to check, which knows the run's record.
func (m *Manifest) Check() error {
	if m.Schema != ManifestSchema {
		return fmt.Errorf("staging: manifest schema %d, want %d", m.Schema, ManifestSchema)
	}
	if err := CheckDataType(m.DataType); err != nil {
		return fmt.Errorf("staging: manifest: %w", err)
	}
	if err := CheckRunID(m.RunID); err != nil {
		return fmt.Errorf("staging: manifest: %w", err)
	}
	var records, size int64
	for _, p := range m.Pages {
		if err := CheckKey(p.Key); err != nil {
			return fmt.Errorf("staging: manifest page: %w", err)
		}
		records += p.Records
		size += p.Bytes
	}
	if records != m.Records || size != m.Bytes {
		return fmt.Errorf("staging: manifest totals (%d records, %d bytes) differ from its pages (%d records, %d bytes)",
			m.Records, m.Bytes, records, size)
	}
	return nil
}

// WriteManifest stores the manifest with If-None-Match: *, so a run has
// one manifest. A zero Schema is set to 1; m is checked first (see
// [Manifest.Check]). A manifest already present is an error wrapping
// [ErrPrecondition].
func WriteManifest(ctx context.Context, s Store, key string, m *Manifest) error {
	if m.Schema == 0 {
		m.Schema = ManifestSchema
	}
	if err := m.Check(); err != nil {
		return err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("staging: encode manifest: %w", err)
	}
	if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), Condition{IfAbsent: true}); err != nil {
		return fmt.Errorf("staging: write manifest %q: %w", key, err)
	}
	return nil
}

// ReadManifest loads a manifest and checks it (see [Manifest.Check]). A
// missing manifest is an error wrapping [ErrNotFound].
func ReadManifest(ctx context.Context, s Store, key string) (*Manifest, error) {
	obj, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("staging: read manifest %q: %w", key, err)
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(io.LimitReader(obj.Body, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("staging: read manifest %q: %w", key, err)
	}
	if len(data) > maxManifestBytes {
		return nil, fmt.Errorf("staging: manifest %q larger than %d bytes", key, maxManifestBytes)
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("staging: decode manifest %q: %w", key, err)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("staging: manifest %q: %w", key, err)
	}
	return &m, nil
}
