package connector

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/techwolf/sfconnector/odata"
)

//go:embed catalog.json
var defaultCatalogJSON []byte

// EDM type names the catalog and the transform know about. Any other type
// is staged as SF sent it.
const (
	// EdmString is text.
	EdmString = "Edm.String"
	// EdmBoolean is true or false.
	EdmBoolean = "Edm.Boolean"
	// EdmInt32 is a signed 32-bit integer.
	EdmInt32 = "Edm.Int32"
	// EdmInt16 is a signed 16-bit integer.
	EdmInt16 = "Edm.Int16"
	// EdmSByte is a signed 8-bit integer.
	EdmSByte = "Edm.SByte"
	// EdmInt64 is a signed 64-bit integer, sent by SF as a JSON string.
	EdmInt64 = "Edm.Int64"
	// EdmDecimal is an exact decimal, sent by SF as a JSON string.
	EdmDecimal = "Edm.Decimal"
	// EdmDouble is a 64-bit floating-point number.
	EdmDouble = "Edm.Double"
	// EdmSingle is a 32-bit floating-point number.
	EdmSingle = "Edm.Single"
	// EdmDateTime is a date and time without offset, sent as /Date(ms)/.
	EdmDateTime = "Edm.DateTime"
	// EdmDateTimeOffset is a date and time with a UTC offset.
	EdmDateTimeOffset = "Edm.DateTimeOffset"
	// EdmTime is a time of day, sent as an ISO 8601 duration.
	EdmTime = "Edm.Time"
	// EdmBinary is bytes, sent base64-encoded.
	EdmBinary = "Edm.Binary"
	// EdmGUID is a GUID.
	EdmGUID = "Edm.Guid"
	// EdmByte is an unsigned 8-bit integer.
	EdmByte = "Edm.Byte"

	// Navigation marks an expanded navigation property. Its own
	// properties are declared as "nav/property".
	Navigation = "Navigation"
)

var edmTypes = map[string]bool{
	EdmString: true, EdmBoolean: true, EdmInt32: true, EdmInt64: true,
	EdmDecimal: true, EdmDouble: true, EdmSingle: true, EdmDateTime: true,
	EdmDateTimeOffset: true, EdmTime: true, EdmBinary: true, EdmGUID: true,
	EdmByte: true, EdmInt16: true, EdmSByte: true, Navigation: true,
}

// Property is the EDM type of one property of an entity, as the metadata
// declares it.
type Property struct {
	// Type is an EDM type name such as "Edm.DateTime", or [Navigation].
	Type string `json:"type"`

	// DateOnly marks an Edm.DateTime the metadata shows as a date
	// (sap:display-format="Date"); it is staged as "2006-01-02".
	DateOnly bool `json:"dateOnly,omitempty"`
}

// Output maps an SF record to a staged line. The zero value stages every
// property SF returns, under SF's names.
type Output struct {
	// Select lists the SF properties to stage; empty means all.
	Select []string `json:"select,omitempty"`

	// Rename maps an SF property name to its staged name.
	Rename map[string]string `json:"rename,omitempty"`

	// Drop lists SF properties never staged, for instance ones read only
	// to filter or to build the key.
	Drop []string `json:"drop,omitempty"`
}

// DataType is one entry of a [Catalog]: a name callers may ask for and how
// it is read from SF and staged.
type DataType struct {
	// Name is the data type, [a-z][a-z0-9_]{0,63}; it is part of every key
	// the run writes.
	Name string `json:"name"`

	// EntitySet is the OData entity set read, e.g. "EmpJob".
	EntitySet string `json:"entitySet"`

	// Select lists the properties the OData query asks for ($select);
	// empty asks for all.
	Select []string `json:"select,omitempty"`

	// Filter is the query's $filter, sent as written; build literals
	// with odata's helpers.
	Filter string `json:"filter,omitempty"`

	// Expand lists the navigation properties expanded inline ($expand).
	Expand []string `json:"expand,omitempty"`

	// OrderBy lists the sort order ($orderby), "property" or
	// "property desc".
	OrderBy []string `json:"orderBy,omitempty"`

	// PageSize is customPageSize (or $top for skip paging); 0 means 500.
	PageSize int `json:"pageSize,omitempty"`

	// Paging is "snapshot" (the default when empty), "cursor", "server"
	// or "skip". Skip paging can lose and repeat rows on a set that
	// changes while it is read; it is used only when asked for.
	Paging string `json:"paging,omitempty"`

	// FromDate ("2006-01-02") asks an effective-dated entity for its
	// history from that day instead of the slice valid today.
	FromDate string `json:"fromDate,omitempty"`

	// ToDate ("2006-01-02") asks for that history up to that day; with
	// FromDate it bounds the effective dates read, alone it reads all
	// history until then.
	ToDate string `json:"toDate,omitempty"`

	// Key lists the properties that identify a record, effective date
	// included; a record repeated within a run is staged once.
	Key []string `json:"key"`

	// Modified names the property an incremental run filters on, e.g.
	// "lastModifiedDateTime". Empty: the data type has only full runs.
	Modified string `json:"modified,omitempty"`

	// Properties gives the EDM type of every property the entry reads.
	Properties map[string]Property `json:"properties"`

	// Output maps the record to the staged line.
	Output Output `json:"output,omitzero"`
}

// Query returns the OData query of a full run of d.
func (d *DataType) Query() odata.Query {
	q := odata.Query{
		EntitySet: d.EntitySet,
		Select:    slices.Clone(d.Select),
		Filter:    d.Filter,
		Expand:    slices.Clone(d.Expand),
		OrderBy:   slices.Clone(d.OrderBy),
		PageSize:  d.PageSize,
		Paging:    pagingMode(d.Paging),
	}
	if q.PageSize == 0 {
		q.PageSize = defaultPageSize
	}
	q.FromDate, _ = parseDay(d.FromDate)
	q.ToDate, _ = parseDay(d.ToDate)
	return q
}

const defaultPageSize = 500

func pagingMode(s string) odata.PagingMode {
	switch s {
	case "", "snapshot":
		return odata.PagingSnapshot
	case "cursor":
		return odata.PagingCursor
	case "skip":
		return odata.PagingSkip
	default: // "server"
		return odata.PagingServer
	}
}

func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, s)
}

// Catalog is the allowlist of data types and how each is read. A Catalog
// is not changed after it is built; [Catalog.With] returns a new one. It
// is safe for concurrent use.
type Catalog struct {
	types []*DataType
	index map[string]*DataType
}

// catalogDoc is the JSON form of a catalog.
type catalogDoc struct {
	Schema    int         `json:"schema"`
	DataTypes []*DataType `json:"dataTypes"`
}

// ErrUnknownDataType is wrapped by the error for a data type the catalog
// does not list.
var ErrUnknownDataType = errors.New("connector: unknown data type")

// CatalogError lists every problem found in a catalog.
type CatalogError struct {
	// Problems lists every problem, each naming the data type and field.
	Problems []string
}

// Error lists the problems.
func (e *CatalogError) Error() string {
	return "connector: invalid catalog: " + strings.Join(e.Problems, "; ")
}

// DefaultCatalog returns the catalog embedded in the package: the data
// SkillEngine ingests from SF.
func DefaultCatalog() *Catalog {
	c, err := LoadCatalog(bytes.NewReader(defaultCatalogJSON))
	if err != nil {
		panic("connector: embedded catalog: " + err.Error())
	}
	return c
}

// LoadCatalog reads a catalog in the JSON form of catalog.json and checks
// it; every problem found is listed in a [*CatalogError].
func LoadCatalog(r io.Reader) (*Catalog, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var doc catalogDoc
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("connector: catalog: %w", err)
	}
	if doc.Schema != 1 {
		return nil, &CatalogError{Problems: []string{fmt.Sprintf("schema %d, want 1", doc.Schema)}}
	}
	return NewCatalog(doc.DataTypes...)
}

// NewCatalog builds a catalog of the given entries, in that order.
func NewCatalog(types ...*DataType) (*Catalog, error) {
	c := &Catalog{index: map[string]*DataType{}}
	var problems []string
	for _, d := range types {
		if d == nil {
			continue
		}
		if _, dup := c.index[d.Name]; dup {
			problems = append(problems, fmt.Sprintf("%s: listed twice", d.Name))
			continue
		}
		problems = append(problems, d.check()...)
		d = d.clone()
		c.types = append(c.types, d)
		c.index[d.Name] = d
	}
	if len(problems) > 0 {
		return nil, &CatalogError{Problems: problems}
	}
	return c, nil
}

// With returns a new catalog holding c's entries with types added; an
// entry of the same name replaces c's.
func (c *Catalog) With(types ...*DataType) (*Catalog, error) {
	var all []*DataType
	replaced := map[string]*DataType{}
	for _, d := range types {
		if d != nil {
			replaced[d.Name] = d
		}
	}
	for _, d := range c.types {
		if r, ok := replaced[d.Name]; ok {
			all = append(all, r)
			delete(replaced, d.Name)
			continue
		}
		all = append(all, d)
	}
	for _, d := range types {
		if d != nil && replaced[d.Name] == d {
			all = append(all, d)
		}
	}
	return NewCatalog(all...)
}

// Add is [Catalog.With] for entries that must be new: a name c already
// lists is an error.
func (c *Catalog) Add(types ...*DataType) (*Catalog, error) {
	for _, d := range types {
		if d != nil && c.index[d.Name] != nil {
			return nil, &CatalogError{Problems: []string{d.Name + ": already in the catalog"}}
		}
	}
	return c.With(types...)
}

// Names lists the data types in catalog order.
func (c *Catalog) Names() []string {
	names := make([]string, len(c.types))
	for i, d := range c.types {
		names[i] = d.Name
	}
	return names
}

// Lookup returns a copy of the entry for name; the error wraps
// [ErrUnknownDataType] when the catalog does not list it.
func (c *Catalog) Lookup(name string) (*DataType, error) {
	d, ok := c.index[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownDataType, truncate(name, 80))
	}
	return d.clone(), nil
}

func (c *Catalog) lookup(name string) (*DataType, bool) {
	d, ok := c.index[name]
	return d, ok
}

// MarshalJSON writes the catalog in the form LoadCatalog reads.
func (c *Catalog) MarshalJSON() ([]byte, error) {
	return json.Marshal(catalogDoc{Schema: 1, DataTypes: c.types})
}

var (
	nameRE       = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	identifierRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// check lists the problems of one entry.
func (d *DataType) check() []string {
	var p []string
	bad := func(format string, args ...any) {
		p = append(p, d.label()+": "+fmt.Sprintf(format, args...))
	}
	if !nameRE.MatchString(d.Name) {
		bad("name must match [a-z][a-z0-9_]{0,63}")
	}
	if !identifierRE.MatchString(d.EntitySet) {
		bad("entity set %q is not an OData identifier", truncate(d.EntitySet, 80))
	}
	if d.PageSize < 0 || d.PageSize > 1000 {
		bad("page size %d outside 0..1000", d.PageSize)
	}
	switch d.Paging {
	case "", "snapshot", "cursor", "server", "skip":
	default:
		bad("paging %q: want snapshot, cursor, server or skip", d.Paging)
	}
	if d.Paging == "cursor" && len(d.OrderBy) > 0 {
		bad("cursor paging does not allow orderBy")
	}
	if d.Paging == "skip" && len(d.OrderBy) == 0 {
		bad("skip paging needs orderBy")
	}
	from, errFrom := parseDay(d.FromDate)
	to, errTo := parseDay(d.ToDate)
	if errFrom != nil {
		bad("fromDate %q: want yyyy-mm-dd", d.FromDate)
	}
	if errTo != nil {
		bad("toDate %q: want yyyy-mm-dd", d.ToDate)
	}
	if errFrom == nil && errTo == nil && !from.IsZero() && !to.IsZero() && to.Before(from) {
		bad("toDate before fromDate")
	}

	for name, prop := range d.Properties {
		if !edmTypes[prop.Type] {
			bad("property %s: unknown type %q", name, prop.Type)
		}
		if prop.DateOnly && prop.Type != EdmDateTime {
			bad("property %s: dateOnly needs Edm.DateTime", name)
		}
		if parent, _, nested := strings.Cut(name, "/"); nested && d.Properties[parent].Type != Navigation {
			bad("property %s: %s is not declared as a navigation", name, parent)
		}
	}
	typed := func(what, name string) {
		if _, ok := d.Properties[name]; !ok {
			bad("%s %s has no declared type", what, name)
		}
	}
	for _, s := range d.Select {
		typed("selected property", s)
	}
	for _, e := range d.Expand {
		if d.Properties[e].Type != Navigation {
			bad("expanded %s is not declared as a navigation", e)
		}
		if len(d.Select) > 0 && !slices.ContainsFunc(d.Select, func(s string) bool {
			return s == e || strings.HasPrefix(s, e+"/")
		}) {
			bad("expanded %s is not selected (as %s or %s/property)", e, e, e)
		}
	}
	for _, o := range d.OrderBy {
		name, _, _ := strings.Cut(o, " ")
		typed("orderBy property", name)
	}
	if len(d.Key) == 0 {
		bad("no key")
	}
	for _, k := range d.Key {
		typed("key property", k)
		if len(d.Select) > 0 && !slices.Contains(d.Select, k) {
			bad("key property %s is not selected", k)
		}
		if d.Properties[k].Type == Navigation {
			bad("key property %s is a navigation", k)
		}
	}
	if d.Modified != "" {
		typed("modified property", d.Modified)
		if t := d.Properties[d.Modified].Type; t != EdmDateTimeOffset && t != EdmDateTime {
			bad("modified property %s is %s, want a date type", d.Modified, t)
		}
	}

	out := map[string]string{}
	for _, s := range d.Output.Select {
		typed("output property", s)
	}
	for from, to := range d.Output.Rename {
		typed("renamed property", from)
		if !nameOK(to) {
			bad("rename %s: %q is not a usable name", from, truncate(to, 80))
		}
	}
	for _, s := range d.Output.Drop {
		typed("dropped property", s)
	}
	for _, name := range d.stagedProperties() {
		staged := d.stagedName(name)
		if other, dup := out[staged]; dup {
			bad("%s and %s are both staged as %s", other, name, staged)
		}
		out[staged] = name
	}
	slices.Sort(p)
	return p
}

func (d *DataType) label() string {
	if d.Name == "" {
		return "(unnamed)"
	}
	return truncate(d.Name, 80)
}

// stagedProperties lists the top-level properties that reach a staged
// line, as far as the catalog knows them.
func (d *DataType) stagedProperties() []string {
	var names []string
	src := d.Output.Select
	if len(src) == 0 {
		src = d.Select
	}
	if len(src) == 0 {
		for name := range d.Properties {
			if !strings.Contains(name, "/") {
				src = append(src, name)
			}
		}
		slices.Sort(src)
	}
	for _, name := range src {
		if !slices.Contains(d.Output.Drop, name) {
			names = append(names, name)
		}
	}
	return names
}

func (d *DataType) stagedName(name string) string {
	if to, ok := d.Output.Rename[name]; ok {
		return to
	}
	return name
}

// nameOK accepts staged property names: short, printable, no quote or
// backslash, so they can be written without escaping.
func nameOK(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func (d *DataType) clone() *DataType {
	c := *d
	c.Select = slices.Clone(d.Select)
	c.Expand = slices.Clone(d.Expand)
	c.OrderBy = slices.Clone(d.OrderBy)
	c.Key = slices.Clone(d.Key)
	c.Properties = make(map[string]Property, len(d.Properties))
	for k, v := range d.Properties {
		c.Properties[k] = v
	}
	c.Output.Select = slices.Clone(d.Output.Select)
	c.Output.Drop = slices.Clone(d.Output.Drop)
	if d.Output.Rename != nil {
		c.Output.Rename = make(map[string]string, len(d.Output.Rename))
		for k, v := range d.Output.Rename {
			c.Output.Rename[k] = v
		}
	}
	return &c
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
