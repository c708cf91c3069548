package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// facts is the shape of testdata/sf_facts*.json, written by
// internal/edmxfacts from SF's metadata.
type facts struct {
	EntitySets map[string]factsEntitySet `json:"entitySets"`
}

func loadFacts(t *testing.T, path string) facts {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f facts
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// filterNames finds the property names a $filter expression uses.
var (
	filterLiteral = regexp.MustCompile(`'(?:[^']|'')*'`)
	filterWord    = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_/]*`)
	filterKeyword = map[string]bool{
		"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true,
		"and": true, "or": true, "not": true, "in": true, "null": true,
		"true": true, "false": true, "datetime": true, "datetimeoffset": true,
	}
)

func filterNames(filter string) []string {
	var names []string
	for _, w := range filterWord.FindAllString(filterLiteral.ReplaceAllString(filter, ""), -1) {
		if !filterKeyword[w] {
			names = append(names, w)
		}
	}
	return names
}

// factsEntitySet is one entity set of a facts file.
type factsEntitySet = struct {
	EntityType string   `json:"entityType"`
	Keys       []string `json:"keys"`
	Properties map[string]struct {
		Type          string `json:"type"`
		DateOnly      bool   `json:"dateOnly"`
		NotFilterable bool   `json:"notFilterable"`
		NotSortable   bool   `json:"notSortable"`
	} `json:"properties"`
	Navigation map[string]string `json:"navigation"`
}

// metadataProblems lists where a catalog entry disagrees with the facts
// of its entity set: names, types, keys, expands, filter and order
// properties, effective dating and paging.
func metadataProblems(d *DataType, es factsEntitySet) []string {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if key := slices.Sorted(slices.Values(d.Key)); !slices.Equal(key, es.Keys) {
		bad("key %v, metadata says %v", key, es.Keys)
	}
	check := func(what, name string) {
		mp, ok := es.Properties[name]
		if !ok {
			bad("%s %s: no such property of %s", what, name, es.EntityType)
			return
		}
		if cp := d.Properties[name]; cp.Type != mp.Type || cp.DateOnly != mp.DateOnly {
			bad("%s %s: catalog says %+v, metadata says %s dateOnly=%v", what, name, cp, mp.Type, mp.DateOnly)
		}
	}
	for _, name := range d.Select {
		if nav, _, nested := strings.Cut(name, "/"); nested || d.Properties[name].Type == Navigation {
			if _, ok := es.Navigation[nav]; !ok {
				bad("selected navigation %s: not in metadata", nav)
			}
			continue
		}
		check("selected", name)
	}
	for _, name := range d.Key {
		check("key", name)
	}
	for _, name := range d.Output.Select {
		check("output", name)
	}
	for _, o := range d.OrderBy {
		name, _, _ := strings.Cut(o, " ")
		check("orderBy", name)
		if es.Properties[name].NotSortable {
			bad("orderBy %s: not sortable", name)
		}
	}
	for _, name := range filterNames(d.Filter) {
		check("filter", name)
		if es.Properties[name].NotFilterable {
			bad("filter %s: not filterable", name)
		}
	}
	if d.Modified != "" {
		check("modified", d.Modified)
		if es.Properties[d.Modified].NotFilterable {
			bad("modified %s: not filterable", d.Modified)
		}
	}
	for _, e := range d.Expand {
		if _, ok := es.Navigation[e]; !ok {
			bad("expand %s: no such navigation of %s", e, es.EntityType)
		}
	}

	// An entity whose key holds a date is effective-dated: without
	// fromDate SF returns only the slice valid today.
	dated := false
	for _, k := range es.Keys {
		if es.Properties[k].Type == EdmDateTime {
			dated = true
		}
	}
	if dated && d.FromDate != "1900-01-01" {
		bad("effective-dated, but fromDate is %q, want 1900-01-01", d.FromDate)
	}
	if !dated && (d.FromDate != "" || d.ToDate != "") {
		bad("not effective-dated, but asks for fromDate/toDate")
	}
	if d.Paging != "snapshot" && d.Paging != "cursor" {
		bad("paging %q: want snapshot or cursor", d.Paging)
	}
	return p
}

func TestDefaultCatalogAgainstMetadata(t *testing.T) {
	fromEDMX := loadFacts(t, "testdata/sf_facts.json")
	fromReference := loadFacts(t, "testdata/sf_facts_public_api.json")
	cat := DefaultCatalog()

	want := []string{"users", "employment", "job_information", "job_codes",
		"job_functions", "job_profiles", "positions", "job_requisitions",
		"competencies", "skills", "education", "work_experience"}
	if got := cat.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}

	for _, name := range cat.Names() {
		d, _ := cat.Lookup(name)
		t.Run(name, func(t *testing.T) {
			es, inEDMX := fromEDMX.EntitySets[d.EntitySet]
			ref, inReference := fromReference.EntitySets[d.EntitySet]
			switch {
			case inEDMX && inReference:
				t.Fatalf("%s is in both facts files", d.EntitySet)
			case inReference:
				es = ref
			case !inEDMX:
				t.Fatalf("entity set %s is in neither facts file", d.EntitySet)
			}
			for _, p := range metadataProblems(d, es) {
				t.Error(p)
			}
		})
	}
}

// The check above can fail: an entry with every kind of mistake.
func TestMetadataProblemsFindsMistakes(t *testing.T) {
	es := loadFacts(t, "testdata/sf_facts.json").EntitySets["EmpJob"]
	d, _ := DefaultCatalog().Lookup("job_information")
	d.Key = []string{"userId", "seqNumber"}
	d.Select = append(d.Select, "jobCde", "employmentNav/userId")
	d.Properties["fte"] = Property{Type: EdmDecimal}
	d.Properties["endDate"] = Property{Type: EdmDateTime}
	d.Expand = []string{"employmentNav", "positionNav"}
	d.Filter = "operation eq 'x' and (emplStatus eq 'A' or locaton eq 'B')"
	d.OrderBy = []string{"notes desc"}
	d.FromDate, d.Paging = "", "skip"

	got := strings.Join(metadataProblems(d, es), "\n")
	for _, want := range []string{
		"key [seqNumber userId], metadata says [seqNumber startDate userId]",
		"selected jobCde: no such property",
		"selected fte: catalog says {Type:Edm.Decimal DateOnly:false}, metadata says Edm.Double",
		"selected endDate: catalog says {Type:Edm.DateTime DateOnly:false}, metadata says Edm.DateTime dateOnly=true",
		"expand positionNav: no such navigation",
		"filter operation: not filterable",
		"filter locaton: no such property",
		"orderBy notes: not sortable",
		`effective-dated, but fromDate is ""`,
		`paging "skip"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "employmentNav") {
		t.Errorf("a real navigation was reported:\n%s", got)
	}
}

func TestEffectiveDatedQueriesAskForHistory(t *testing.T) {
	cat := DefaultCatalog()
	for _, name := range []string{"job_information", "job_codes", "job_functions", "positions"} {
		d, err := cat.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		q := d.Query()
		if got := q.FromDate.Format("2006-01-02"); got != "1900-01-01" {
			t.Errorf("%s: FromDate %s, want 1900-01-01", name, got)
		}
		if q.Paging != "snapshot" {
			t.Errorf("%s: paging %q, want snapshot", name, q.Paging)
		}
	}
}

func TestLoadCatalogListsEveryProblem(t *testing.T) {
	const doc = `{"schema":1,"dataTypes":[
	 {"name":"Bad-Name","entitySet":"User","key":["userId"],"properties":{"userId":{"type":"Edm.String"}}},
	 {"name":"dates","entitySet":"EmpJob","select":["userId","startDate"],"paging":"sideways",
	  "fromDate":"1900-1-1","key":["userId","seqNumber"],"modified":"userId",
	  "properties":{"userId":{"type":"Edm.Strin"},"startDate":{"type":"Edm.String","dateOnly":true}}},
	 {"name":"dates","entitySet":"User","key":["userId"],"properties":{"userId":{"type":"Edm.String"}}}
	]}`
	_, err := LoadCatalog(strings.NewReader(doc))
	var ce *CatalogError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *CatalogError", err)
	}
	for _, want := range []string{
		"Bad-Name: name must match",
		`dates: paging "sideways"`,
		`dates: fromDate "1900-1-1"`,
		"dates: key property seqNumber has no declared type",
		"dates: key property seqNumber is not selected",
		`dates: property userId: unknown type "Edm.Strin"`,
		"dates: property startDate: dateOnly needs Edm.DateTime",
		"dates: modified property userId is Edm.Strin, want a date type",
		"dates: listed twice",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}

	if _, err := LoadCatalog(strings.NewReader(`{"schema":1,"dataTypes":[],"extra":1}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestCatalogWithAndAdd(t *testing.T) {
	base := DefaultCatalog()
	users, _ := base.Lookup("users")
	users.PageSize = 100
	extra := &DataType{
		Name: "picklists", EntitySet: "PicklistOption", Key: []string{"id"},
		Properties: map[string]Property{"id": {Type: EdmInt64}},
	}

	c, err := base.With(users, extra)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Lookup("users"); got.PageSize != 100 {
		t.Errorf("replaced users has page size %d", got.PageSize)
	}
	if got, _ := base.Lookup("users"); got.PageSize != 500 {
		t.Errorf("With changed the original catalog: page size %d", got.PageSize)
	}
	names := c.Names()
	if names[0] != "users" || names[len(names)-1] != "picklists" {
		t.Errorf("order %v: want users first, picklists appended", names)
	}

	if _, err := base.Add(users); err == nil {
		t.Error("Add of an existing name succeeded")
	}
	if _, err := base.Add(extra); err != nil {
		t.Errorf("Add: %v", err)
	}

	_, err = base.Lookup("nope")
	if !errors.Is(err, ErrUnknownDataType) {
		t.Errorf("Lookup(nope) = %v, want ErrUnknownDataType", err)
	}

	// The catalog survives a round trip through its JSON form.
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := LoadCatalog(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Names(), c.Names()) {
		t.Errorf("round trip names %v, want %v", back.Names(), c.Names())
	}
}
