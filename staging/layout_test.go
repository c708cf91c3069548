package staging_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

const runID = "0190f5c2-7b1e-7c3a-9d4e-5f6a7b8c9d0e"

func TestLayoutKeys(t *testing.T) {
	for _, tc := range []struct {
		base, prefix string
	}{
		{"", ""},
		{"exports/sf", "exports/sf/"},
		{"exports/sf/", "exports/sf/"},
		{"tenant-a", "tenant-a/"},
	} {
		l := staging.Layout{BasePath: tc.base}
		p := tc.prefix + "employee/" + runID + "/"
		check := func(what, got string, err error, want string) {
			t.Helper()
			if err != nil || got != want {
				t.Errorf("base %q: %s = %q, %v; want %q", tc.base, what, got, err, want)
			}
		}
		got, err := l.DataTypePrefix("employee")
		check("DataTypePrefix", got, err, tc.prefix+"employee/")
		got, err = l.RunPrefix("employee", runID)
		check("RunPrefix", got, err, p)
		got, err = l.StateKey("employee", runID)
		check("StateKey", got, err, p+"state.json")
		got, err = l.ManifestKey("employee", runID)
		check("ManifestKey", got, err, p+"manifest.json")
		got, err = l.PageKey("employee", runID, 2, 17)
		check("PageKey", got, err, p+"pages/2/000017.jsonl.gz")
		got, err = l.PagesPrefix("employee", runID, 2)
		check("PagesPrefix", got, err, p+"pages/2/")
	}
}

func TestLayoutPageKeysSortInOrder(t *testing.T) {
	l := staging.Layout{}
	prev := ""
	for _, seq := range []int{0, 1, 9, 10, 99, 100, 12345, 999999} {
		k, err := l.PageKey("employee", runID, 1, seq)
		if err != nil {
			t.Fatal(err)
		}
		if k <= prev {
			t.Errorf("page key %q does not sort after %q", k, prev)
		}
		prev = k
	}
}

func TestLayoutRefuses(t *testing.T) {
	type call func(staging.Layout) (string, error)
	state := func(dt, id string) call {
		return func(l staging.Layout) (string, error) { return l.StateKey(dt, id) }
	}
	page := func(attempt, seq int) call {
		return func(l staging.Layout) (string, error) { return l.PageKey("employee", runID, attempt, seq) }
	}
	ok := state("employee", runID)
	for _, tc := range []struct {
		name, base string
		call       call
		part       string
	}{
		{"parent base", "../up", ok, "base path"},
		{"parent inside base", "a/../b", ok, "base path"},
		{"dot base", "a/./b", ok, "base path"},
		{"absolute base", "/etc", ok, "base path"},
		{"empty segment", "a//b", ok, "base path"},
		{"double trailing slash", "a//", ok, "base path"},
		{"encoded slash", "a%2Fb", ok, "base path"},
		{"encoded dots", "%2e%2e/x", ok, "base path"},
		{"backslash", `a\..\b`, ok, "base path"},
		{"NUL in base", "a\x00b", ok, "base path"},
		{"newline in base", "a\nb", ok, "base path"},
		{"bad UTF-8 base", "a\xffb", ok, "base path"},
		{"over-long base", strings.Repeat("a/", 300), ok, "base path"},
		{"data type traversal", "", state("../x", runID), "data type"},
		{"data type slash", "", state("a/b", runID), "data type"},
		{"data type upper", "", state("Employee", runID), "data type"},
		{"data type digit first", "", state("1emp", runID), "data type"},
		{"data type empty", "", state("", runID), "data type"},
		{"data type NUL", "", state("emp\x00", runID), "data type"},
		{"data type encoded", "", state("a%2Fb", runID), "data type"},
		{"data type 65 chars", "", state("a"+strings.Repeat("b", 64), runID), "data type"},
		{"run id upper", "", state("employee", strings.ToUpper(runID)), "run id"},
		{"run id braces", "", state("employee", "{"+runID+"}"), "run id"},
		{"run id no dashes", "", state("employee", strings.ReplaceAll(runID, "-", "")), "run id"},
		{"run id traversal", "", state("employee", "../../../../etc/passwd"), "run id"},
		{"run id trailing newline", "", state("employee", runID+"\n"), "run id"},
		{"negative attempt", "", page(-1, 0), "attempt"},
		{"negative seq", "", page(1, -1), "seq"},
		{"seq over six digits", "", page(1, 1000000), "seq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, err := tc.call(staging.Layout{BasePath: tc.base})
			var le *staging.LayoutError
			if !errors.As(err, &le) {
				t.Fatalf("got key %q, err %v; want a *LayoutError", key, err)
			}
			if le.Part != tc.part {
				t.Errorf("error names part %q, want %q", le.Part, tc.part)
			}
			if !errors.Is(err, staging.ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
			if key != "" {
				t.Errorf("returned key %q with the error", key)
			}
			if strings.ContainsRune(err.Error(), 0) || len(err.Error()) > 300 {
				t.Errorf("error message not printable or too long: %q", err.Error())
			}
		})
	}
}

func TestCheckDataTypeAccepts(t *testing.T) {
	for _, name := range []string{"a", "employee", "per_person", "emp_job_2", "a" + strings.Repeat("b", 63)} {
		if err := staging.CheckDataType(name); err != nil {
			t.Errorf("CheckDataType(%q) = %v", name, err)
		}
	}
}
