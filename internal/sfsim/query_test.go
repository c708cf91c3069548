package sfsim

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// where returns the keys of the records for which keep is true.
func where(recs []map[string]any, keep func(map[string]any) bool) []string {
	var out []string
	for _, r := range recs {
		if keep(r) {
			out = append(out, keyOf(r))
		}
	}
	return out
}

var dateRE = regexp.MustCompile(`^/Date\((-?\d+)(\+0000)?\)/$`)

// ms reads a /Date(ms)/ or /Date(ms+0000)/ value.
func ms(t testing.TB, v any) int64 {
	t.Helper()
	m := dateRE.FindStringSubmatch(v.(string))
	if m == nil {
		t.Fatalf("%v is not a /Date()/ value", v)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

func TestFilters(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 400, Now: clock.Now})
	c := newClient(t, s, ts)
	users := s.Records("User")
	reqs := s.Records("JobRequisition")
	jobs := s.Records("EmpJob")
	cut := time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

	cases := []struct {
		set, filter, extra string
		want               []string
	}{
		{"User", "lastName eq 'O''Neil'", "", where(users, func(r map[string]any) bool { return r["lastName"] == "O'Neil" })},
		{"User", "department eq 'R&D' and status eq 't'", "", where(users, func(r map[string]any) bool {
			return r["department"] == "R&D" && r["status"] == "t"
		})},
		{"User", "firstName eq 'Zoë' or firstName eq '山田' or lastName eq '山田'", "", where(users, func(r map[string]any) bool {
			return r["firstName"] == "Zoë" || r["lastName"] == "山田"
		})},
		{"User", "lastModifiedDateTime ge datetimeoffset'2022-06-01T00:00:00Z'", "", where(users, func(r map[string]any) bool {
			return ms(t, r["lastModifiedDateTime"]) >= cut
		})},
		{"User", "hireDate lt datetime'2000-01-01T00:00:00'", "", where(users, func(r map[string]any) bool {
			return ms(t, r["hireDate"]) < time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
		})},
		{"User", "email eq null", "", where(users, func(r map[string]any) bool { return r["email"] == nil })},
		{"User", "not (status eq 't')", "", where(users, func(r map[string]any) bool { return r["status"] != "t" })},
		{"User", "userId in '10000003','10000010','nobody'", "", []string{"User('10000003')", "User('10000010')"}},
		{"User", "startswith(lastName,'Nguy') eq true", "", where(users, func(r map[string]any) bool {
			return strings.HasPrefix(r["lastName"].(string), "Nguy")
		})},
		{"User", "totalTeamSize gt 9L", "", where(users, func(r map[string]any) bool {
			n, _ := strconv.Atoi(r["totalTeamSize"].(string))
			return n > 9
		})},
		{"JobRequisition", "numberOpenings ge 3 and salaryMax le 80000.5M", "", where(reqs, func(r map[string]any) bool {
			n, _ := strconv.Atoi(r["numberOpenings"].(string))
			f, _ := strconv.ParseFloat(r["salaryMax"].(string), 64)
			return n >= 3 && f <= 80000.5
		})},
		{"JobRequisition", "jobReqId ne 1001 and (status eq 'Open' or status eq 'Filled')", "", where(reqs, func(r map[string]any) bool {
			return r["jobReqId"] != "1001" && (r["status"] == "Open" || r["status"] == "Filled")
		})},
		{"EmpJob", "fte lt 1 and emplStatus eq 'A'", "&fromDate=1900-01-01", where(jobs, func(r map[string]any) bool {
			return r["fte"].(float64) < 1 && r["emplStatus"] == "A"
		})},
	}
	for _, tc := range cases {
		t.Run(tc.set+" "+tc.filter, func(t *testing.T) {
			if len(tc.want) == 0 && !strings.Contains(tc.filter, "nobody") {
				t.Fatalf("the data has no match; the case tests nothing")
			}
			u := ts.URL + "/odata/v2/" + tc.set + "?$filter=" + strings.ReplaceAll(url.QueryEscape(tc.filter), "+", "%20") +
				tc.extra + "&customPageSize=50"
			sub := *c
			sub.t = t
			got, _ := sub.all(u)
			if !slices.Equal(keys(got), tc.want) {
				t.Fatalf("got %d records %.200v, want %d %.200v", len(got), keys(got), len(tc.want), tc.want)
			}
		})
	}
}

func TestQueryErrors(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 10})
	c := newClient(t, s, ts)
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"/odata/v2/Userz", 404, "COE_ENTITY_NOT_FOUND"},
		{"/odata/v2/EmpJob%20", 404, "COE_ENTITY_NOT_FOUND"},
		{"/odata/v2/User?$select=userId,nope", 400, "COE_PROPERTY_NOT_FOUND"},
		{"/odata/v2/User?$filter=nope%20eq%201", 400, "COE_PROPERTY_NOT_FOUND"},
		{"/odata/v2/User?$orderby=nope", 400, "COE_PROPERTY_NOT_FOUND"},
		{"/odata/v2/User?$filter=lastName%20eq%20'O'Neil'", 400, "COE_BAD_REQUEST"},
		{"/odata/v2/User?$filter=hireDate%20gt%20'yesterday'", 400, "COE_BAD_PROPERTY_VALUE"},
		{"/odata/v2/User?$format=atom", 400, "COE_BAD_REQUEST"},
		{"/odata/v2/EmpJob?asOfDate=2020-01-01&fromDate=2019-01-01", 400, "COE_BAD_REQUEST"},
		{"/odata/v2/User('99999999')", 404, "COE_RESOURCE_NOT_FOUND"},
	}
	for _, tc := range cases {
		st, env := c.page(ts.URL + tc.path)
		if st != tc.status || env.Error == nil || env.Error.Code != tc.code || env.Error.Message.Lang != "en-US" ||
			env.Error.Message.Value == "" {
			t.Errorf("%s: got %d %+v, want %d %s", tc.path, st, env.Error, tc.status, tc.code)
		}
	}
}

func TestSelectOrderbyAndSingleEntity(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 120})
	c := newClient(t, s, ts)
	got, _ := c.all(ts.URL + "/odata/v2/User?$select=lastName,userId,manager&$orderby=lastName%20desc,userId")
	if len(got) != 120 {
		t.Fatalf("%d records", len(got))
	}
	for i, r := range got {
		if len(r) != 4 || r["manager"].(map[string]any)["__deferred"] == nil {
			t.Fatalf("projection: %v", r)
		}
		if i > 0 {
			p := got[i-1]
			if pl, l := p["lastName"].(string), r["lastName"].(string); pl < l || (pl == l && p["userId"].(string) > r["userId"].(string)) {
				t.Fatalf("order broken at %d: %v then %v", i, p, r)
			}
		}
	}

	// Single entities, by simple and composite key, read back as served.
	for _, set := range []string{"User", "EmpJob", "Background_Education", "JobRequisition", "Position"} {
		recs := s.Records(set)
		want := recs[len(recs)/2]
		st, b := c.get(uri(want))
		if st.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", uri(want), st.StatusCode, b)
		}
		var one struct{ D map[string]any }
		if err := jsonUnmarshal(b, &one); err != nil || keyOf(one.D) != keyOf(want) || len(one.D) != len(want) {
			t.Fatalf("%s: got %v", uri(want), one.D)
		}
	}
	// A navigation from a single entity.
	_, b := c.get(ts.URL + "/odata/v2/User('10000009')/manager")
	if !strings.Contains(string(b), `"userId":"10000002"`) {
		t.Fatalf("User('10000009')/manager: %.300s", b)
	}
}

func TestEffectiveDating(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 200, Now: clock.Now})
	c := newClient(t, s, ts)
	all := s.Records("EmpJob")
	today := s.today()
	eff := func(r map[string]any, d int64) bool {
		return ms(t, r["startDate"]) <= d && d <= ms(t, r["endDate"])
	}
	perUser := map[string]int{}
	for _, r := range all {
		perUser[r["userId"].(string)]++
	}
	multi := 0
	for _, n := range perUser {
		if n > 1 {
			multi++
		}
	}
	if len(perUser) != 200 || multi < 100 {
		t.Fatalf("%d users with jobs, %d with history", len(perUser), multi)
	}

	current, _ := c.all(ts.URL + "/odata/v2/EmpJob?$select=userId,startDate,endDate,seqNumber")
	if want := where(all, func(r map[string]any) bool { return eff(r, today) }); !slices.Equal(keys(current), want) {
		t.Fatalf("no dates: %d records, want %d effective today", len(current), len(want))
	}
	asOf := time.Date(2010, 7, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	old, _ := c.all(ts.URL + "/odata/v2/EmpJob?$select=userId,startDate,endDate&asOfDate=2010-07-01")
	if want := where(all, func(r map[string]any) bool { return eff(r, asOf) }); !slices.Equal(keys(old), want) || len(want) == 0 {
		t.Fatalf("asOfDate: %d records, want %d", len(old), len(want))
	}
	if got := keys(s.RecordsAsOf("EmpJob", time.Date(2010, 7, 1, 15, 0, 0, 0, time.UTC))); !slices.Equal(got, keys(old)) {
		t.Fatalf("RecordsAsOf: %d records, served %d", len(got), len(old))
	}
	if got := keys(s.Current("EmpJob")); !slices.Equal(got, keys(current)) {
		t.Fatalf("Current: %d records, served %d", len(got), len(current))
	}
	from, to := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), time.Date(2016, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()
	win, _ := c.all(ts.URL + "/odata/v2/EmpJob?$select=userId&fromDate=2015-01-01&toDate=2016-12-31")
	if want := where(all, func(r map[string]any) bool {
		return ms(t, r["startDate"]) <= to && ms(t, r["endDate"]) >= from
	}); !slices.Equal(keys(win), want) {
		t.Fatalf("window: %d records, want %d", len(win), len(want))
	}
	// Future-dated rows exist and appear only in a window reaching them.
	future := where(all, func(r map[string]any) bool { return ms(t, r["startDate"]) > today })
	if len(future) == 0 {
		t.Fatal("no future-dated job rows")
	}
	// A user's rows tile time without gaps or overlaps (seqNumber aside).
	byUser := map[string][]map[string]any{}
	for _, r := range all {
		byUser[r["userId"].(string)] = append(byUser[r["userId"].(string)], r)
	}
	for u, rows := range byUser {
		if ms(t, rows[len(rows)-1]["endDate"]) != farFuture {
			t.Fatalf("%s: last row not open-ended", u)
		}
		for i := 1; i < len(rows); i++ {
			ps, pe, cs := ms(t, rows[i-1]["startDate"]), ms(t, rows[i-1]["endDate"]), ms(t, rows[i]["startDate"])
			if !(pe+msPerDay == cs || (ps == cs && rows[i]["seqNumber"] != rows[i-1]["seqNumber"])) {
				t.Fatalf("%s: row %d ends %d, next starts %d", u, i-1, pe, cs)
			}
		}
	}
	// Non-effective-dated sets ignore the date parameters.
	users, _ := c.all(ts.URL + "/odata/v2/User?$select=userId&asOfDate=1990-01-01")
	if len(users) != 200 {
		t.Fatalf("User with asOfDate: %d", len(users))
	}
}

func TestExpand(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 60, Now: clock.Now})
	c := newClient(t, s, ts)
	got, _ := c.all(ts.URL + "/odata/v2/EmpJob?$select=userId,position,startDate&$expand=positionNav,employmentNav&fromDate=1900-01-01")
	n := 0
	for _, r := range got {
		pos, ok := r["positionNav"].(map[string]any)
		if !ok {
			continue
		}
		n++
		if pos["code"] != r["position"] || !strings.Contains(uri(pos), "/odata/v2/Position(") {
			t.Fatalf("positionNav %v for %v", pos["code"], r["position"])
		}
		if emp := r["employmentNav"].(map[string]any); emp["userId"] != r["userId"] {
			t.Fatalf("employmentNav %v for %v", emp["userId"], r["userId"])
		}
	}
	if n < len(got)/2 {
		t.Fatalf("only %d of %d rows have a position as of their start", n, len(got))
	}
	_, env := c.page(ts.URL + "/odata/v2/User?$expand=manager&$select=userId,manager/userId&$top=3")
	if env.D.Results[0]["manager"] != nil || env.D.Results[2]["manager"].(map[string]any)["userId"] != "10000001" {
		t.Fatalf("User manager expand: %v", env.D.Results)
	}
}

func TestValuesAsSFSendsThem(t *testing.T) {
	s := New(Options{Users: 200, Seed: 3})
	users := s.Records("User")
	ids := map[string]bool{}
	for _, u := range users {
		ids[u["userId"].(string)] = true
	}
	seen := map[string]bool{}
	for _, u := range users {
		for _, name := range []string{u["firstName"].(string), u["lastName"].(string)} {
			for _, want := range []string{"Zoë", "José", "Łukasz", "山田", "Дмитрий", "محمد", "O'Neil"} {
				if name == want {
					seen[want] = true
				}
			}
		}
		if u["__metadata"].(map[string]any)["type"] != "SFOData.User" {
			t.Fatalf("type %v", u["__metadata"])
		}
		if _, ok := u["totalTeamSize"].(string); !ok {
			t.Fatalf("Int64 not a string: %T", u["totalTeamSize"])
		}
		if !strings.HasSuffix(u["lastModifiedDateTime"].(string), "+0000)/") || strings.Contains(u["hireDate"].(string), "+") {
			t.Fatalf("date forms: %v %v", u["lastModifiedDateTime"], u["hireDate"])
		}
		if _, ok := u["married"].(bool); !ok {
			t.Fatalf("boolean: %T", u["married"])
		}
	}
	if len(seen) != 7 {
		t.Fatalf("names seen: %v", seen)
	}
	// Managers exist.
	for _, j := range s.Records("EmpJob") {
		if m, ok := j["managerId"].(string); ok && !ids[m] {
			t.Fatalf("EmpJob manager %s does not exist", m)
		}
		if _, ok := j["fte"].(float64); !ok {
			t.Fatalf("fte (Edm.Double) is %T", j["fte"])
		}
	}
	jc := map[string]bool{}
	for _, r := range s.Records("FOJobCode") {
		jc[r["externalCode"].(string)] = true
	}
	if len(jc) != 20 {
		t.Fatalf("%d job codes for 200 users, want the minimum of 20", len(jc))
	}
	for _, p := range s.Records("Position") {
		if _, ok := p["targetFTE"].(string); !ok || !jc[p["jobCode"].(string)] {
			t.Fatalf("Position: targetFTE %T, jobCode %v", p["targetFTE"], p["jobCode"])
		}
	}
	// Background element ids pass 2^53 and stay exact as strings.
	bg := s.Records("Background_OutsideWorkExperience")
	if id := bg[0]["backgroundElementId"].(string); len(id) < 16 {
		t.Fatalf("backgroundElementId %s", id)
	}
	// Same seed, same data; another seed, other data.
	again := New(Options{Users: 200, Seed: 3}).Records("User")
	other := New(Options{Users: 200, Seed: 4}).Records("User")
	if !equalJSON(users, again) || equalJSON(users, other) {
		t.Fatal("data is not a function of the seed")
	}
	// Every set is served and has a lastModified field.
	for _, name := range s.EntitySets() {
		recs := s.Records(name)
		if len(recs) == 0 {
			t.Fatalf("%s is empty", name)
		}
		found := false
		for k := range recs[0] {
			if strings.HasPrefix(k, "lastModified") {
				found = true
			}
		}
		if !found {
			t.Fatalf("%s has no lastModified field", name)
		}
	}
	names := s.EntitySets()
	if !sort.StringsAreSorted(names) || len(names) != 12 {
		t.Fatalf("entity sets %v", names)
	}
}

// The fast date check used for effective-dated windows agrees with the
// generated rows.
func TestEffectiveDatesMatchRows(t *testing.T) {
	s := New(Options{Users: 300, Seed: 9})
	for _, name := range s.EntitySets() {
		es := s.sets[name]
		if (es.dates == nil) != (es.effStart < 0) {
			t.Fatalf("%s: effective-dated without a date function, or the reverse", name)
		}
		if es.dates == nil {
			continue
		}
		for i := 0; i < es.base; i++ {
			row := es.row(i)
			start, end := es.dates(i)
			if row[es.effStart] != start || row[es.effEnd] != end {
				t.Fatalf("%s row %d: dates %d-%d, row %v-%v", name, i, start, end, row[es.effStart], row[es.effEnd])
			}
		}
	}
}

func TestMetadataAndCount(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 40})
	c := newClient(t, s, ts)
	resp, b := c.get(ts.URL + "/odata/v2/$metadata")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `<EntitySet Name="Position" EntityType="SFOData.Position"/>`) ||
		!strings.Contains(string(b), `<Property Name="hireDate" Type="Edm.DateTime" sap:display-format="Date"`) {
		t.Fatalf("$metadata: %d %.300s", resp.StatusCode, b)
	}
	var doc struct{}
	if err := xmlUnmarshal(b, &doc); err != nil {
		t.Fatalf("$metadata is not XML: %v", err)
	}
	resp, b = c.get(ts.URL + "/odata/v2/EmpJob/$metadata")
	if resp.StatusCode != 200 || strings.Contains(string(b), `EntityType Name="User"`) ||
		!strings.Contains(string(b), `<Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset"`) {
		t.Fatalf("EmpJob/$metadata: %d %.300s", resp.StatusCode, b)
	}
	resp, b = c.get(ts.URL + "/odata/v2/User/$count?$filter=status%20eq%20't'")
	want := 0
	for _, u := range s.Records("User") {
		if u["status"] == "t" {
			want++
		}
	}
	if resp.StatusCode != 200 || string(b) != strconv.Itoa(want) {
		t.Fatalf("$count: %d %s, want %d", resp.StatusCode, b, want)
	}
}

func TestSnapshotRestartLimit(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 30, Now: clock.Now, SnapshotRestartLimit: 3})
	c := newClient(t, s, ts)
	u := ts.URL + "/odata/v2/User?paging=snapshot&customPageSize=10&$select=userId"
	for i := 0; i < 3; i++ {
		if st, _ := c.page(u); st != 200 {
			t.Fatalf("first page %d: %d", i, st)
		}
	}
	st, env := c.page(u)
	if st != 400 || env.Error.Code != "COE_SNAPSHOT_BAD_REQUEST" {
		t.Fatalf("fourth restart: %d %+v", st, env.Error)
	}
	if st, _ := c.page(ts.URL + "/odata/v2/EmpJob?paging=snapshot&$select=userId"); st != 200 {
		t.Fatalf("another set is blocked: %d", st)
	}
	clock.Add(29 * time.Minute)
	if st, _ := c.page(u); st != 400 {
		t.Fatalf("still blocked after 29 min: %d", st)
	}
	clock.Add(2 * time.Minute)
	if st, _ := c.page(u); st != 200 {
		t.Fatalf("after the block: %d", st)
	}
}

func TestEscapedDates(t *testing.T) {
	plain := New(Options{Users: 5})
	esc, ts := startTLS(t, Options{Users: 5, EscapedDates: true})
	c := newClient(t, esc, ts)
	_, b := c.get(ts.URL + "/odata/v2/User?$select=userId,hireDate,lastModifiedDateTime&$top=1")
	if !strings.Contains(string(b), `"hireDate":"\/Date(`) || !strings.Contains(string(b), `+0000)\/"`) {
		t.Fatalf("escaped dates: %s", b)
	}
	// Decoded, the values are the same as without escaping.
	if !equalJSON(plain.Records("User")[0]["hireDate"], esc.Records("User")[0]["hireDate"]) {
		t.Fatal("escaped and plain dates decode differently")
	}
}

func TestGzip(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 30, Gzip: true})
	c := newClient(t, s, ts)
	// Go's transport asks for gzip and decompresses transparently.
	resp, b := c.get(ts.URL + "/odata/v2/User?$select=userId")
	if resp.StatusCode != 200 || !resp.Uncompressed || !strings.Contains(string(b), `"userId":"10000030"`) {
		t.Fatalf("gzip page: %d uncompressed=%v %.100s", resp.StatusCode, resp.Uncompressed, b)
	}
}
