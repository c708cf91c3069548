package sfsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func keys(recs []map[string]any) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = keyOf(r)
	}
	return out
}

func TestPagingModesReachEveryRecordOnce(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 150, Now: clock.Now, Seed: 7})
	c := newClient(t, s, ts)
	sets := []struct{ set, dates string }{
		{"User", ""},
		{"EmpJob", "&fromDate=1900-01-01&toDate=9999-12-31"},
		{"EmpJob", ""},
		{"FOJobCode", "&fromDate=1900-01-01"},
		{"Position", "&fromDate=1900-01-01"},
		{"Background_Education", ""},
		{"JobRequisition", ""},
	}
	for _, st := range sets {
		want := keys(s.Records(st.set))
		if st.dates == "" {
			want = keys(s.Current(st.set))
		}
		if len(want) == 0 {
			t.Fatalf("%s: no records", st.set)
		}
		// Key properties keep the pages light; full records are paged in
		// the default mode once.
		sel := "&$select=" + strings.Join(s.sets[st.set].typ.keys, ",")
		for _, mode := range []string{"", "&paging=cursor", "&paging=snapshot", "&paging=snapshot&full"} {
			if strings.HasSuffix(mode, "&full") {
				mode, sel = strings.TrimSuffix(mode, "&full"), ""
			}
			u := ts.URL + "/odata/v2/" + st.set + "?$format=json&customPageSize=37&$inlinecount=allpages" + st.dates + mode + sel
			_, first := c.page(u)
			if first.D.Count != strconv.Itoa(len(want)) {
				t.Errorf("%s%s: __count %q, want %d", st.set, mode, first.D.Count, len(want))
			}
			if len(first.D.Results) > 0 && !strings.HasPrefix(uri(first.D.Results[0]), ts.URL+"/odata/v2/") {
				t.Errorf("%s: __metadata uri %s not on the request host", st.set, uri(first.D.Results[0]))
			}
			if first.D.Next != "" && !strings.HasPrefix(first.D.Next, ts.URL+"/odata/v2/"+st.set+"?") {
				t.Errorf("%s: __next %s is not absolute on the request host", st.set, first.D.Next)
			}
			got, pages := c.all(u)
			if !slices.Equal(keys(got), want) {
				t.Errorf("%s%s%s: %d records in %d pages, want the %d of Records in order",
					st.set, st.dates, mode, len(got), pages, len(want))
			}
			if wantPages := (len(want) + 36) / 37; pages != wantPages {
				t.Errorf("%s%s: %d pages, want %d", st.set, mode, pages, wantPages)
			}
		}
	}
}

func TestPageSizeDefaultsAndLimits(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 2500})
	c := newClient(t, s, ts)
	_, env := c.page(ts.URL + "/odata/v2/User?$select=userId")
	if len(env.D.Results) != 1000 || env.D.Next == "" {
		t.Fatalf("default page: %d records, next %q", len(env.D.Results), env.D.Next)
	}
	_, env = c.page(ts.URL + "/odata/v2/User?$select=userId&customPageSize=5000")
	if len(env.D.Results) != 1000 {
		t.Fatalf("customPageSize over the maximum: %d records", len(env.D.Results))
	}
	s2, ts2 := startTLS(t, Options{Users: 30, PageSize: 8})
	c2 := newClient(t, s2, ts2)
	_, env = c2.page(ts2.URL + "/odata/v2/User?$select=userId")
	if len(env.D.Results) != 8 {
		t.Fatalf("Options.PageSize 8: %d records", len(env.D.Results))
	}
}

func TestClientSidePaging(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 50})
	c := newClient(t, s, ts)
	all := keys(s.Records("User"))
	_, env := c.page(ts.URL + "/odata/v2/User?$top=10&$skip=20&$inlinecount=allpages")
	if !slices.Equal(keys(env.D.Results), all[20:30]) || env.D.Next != "" || env.D.Count != "50" {
		t.Fatalf("$top/$skip: got %v next %q count %q", keys(env.D.Results), env.D.Next, env.D.Count)
	}
	// $top larger than a page is served in pages up to $top.
	got, pages := c.all(ts.URL + "/odata/v2/User?$top=25&customPageSize=10")
	if !slices.Equal(keys(got), all[:25]) || pages != 3 {
		t.Fatalf("$top over pages: %d records in %d pages", len(got), pages)
	}
	// Offset paging drifts when rows go away between calls (case B01).
	_, p1 := c.page(ts.URL + "/odata/v2/User?$top=2&$skip=0")
	s.Delete("User", keyOf(p1.D.Results[1]))
	_, p2 := c.page(ts.URL + "/odata/v2/User?$top=2&$skip=2")
	if keyOf(p2.D.Results[0]) != all[3] {
		t.Fatalf("after a delete, $skip=2 starts at %s, want %s (the row that slid is skipped)", keyOf(p2.D.Results[0]), all[3])
	}
}

func TestSnapshotSurvivesChangesAndExpires(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 40, Now: clock.Now})
	c := newClient(t, s, ts)
	all := keys(s.Records("User"))
	u := ts.URL + "/odata/v2/User?$select=userId&paging=snapshot&customPageSize=10"
	_, p1 := c.page(u)
	// Changes after the first page do not shift a snapshot.
	s.Delete("User", all[0], all[1])
	if _, err := s.Add("User", 3); err != nil {
		t.Fatal(err)
	}
	var got []string
	next := p1.D.Next
	for next != "" {
		_, env := c.page(next)
		got = append(got, keys(env.D.Results)...)
		next = env.D.Next
	}
	if !slices.Equal(got, all[10:]) {
		t.Fatalf("snapshot pages 2..: %v, want %v", got, all[10:])
	}

	// 15 minutes idle loses the snapshot.
	_, p1 = c.page(u)
	clock.Add(15*time.Minute + time.Second)
	st, env := c.page(p1.D.Next)
	if st != http.StatusInternalServerError || env.Error == nil || env.Error.Code != "COE_GENERAL_SERVER_FAILURE" ||
		!strings.HasPrefix(env.Error.Message.Value, "[COE0019][SNP]Snapshot lost") {
		t.Fatalf("idle snapshot: %d %+v", st, env.Error)
	}

	// Just under 15 minutes between pages is fine, and the last page can
	// be served only once.
	_, p1 = c.page(u)
	var last string
	for next := p1.D.Next; next != ""; {
		clock.Add(14 * time.Minute)
		st, env := c.page(next)
		if st != http.StatusOK {
			t.Fatalf("page after 14 min: %d %+v", st, env.Error)
		}
		last, next = next, env.D.Next
	}
	if st, env := c.page(last); st != http.StatusInternalServerError || !strings.Contains(env.Error.Message.Value, "COE0019") {
		t.Fatalf("last page again: %d %+v", st, env.Error)
	}
}

func TestCursorPagingRules(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 40, Now: clock.Now})
	c := newClient(t, s, ts)
	if st, env := c.page(ts.URL + "/odata/v2/User?paging=cursor&$orderby=lastName"); st != http.StatusBadRequest || env.Error == nil {
		t.Fatalf("cursor with $orderby: %d", st)
	}
	all := keys(s.Records("User"))
	u := ts.URL + "/odata/v2/User?$select=userId&paging=cursor&customPageSize=10"
	_, p1 := c.page(u)
	// A cursor continues after the last key served, so a delete before it
	// does not make the next page skip a row.
	s.Delete("User", all[3])
	_, p2 := c.page(p1.D.Next)
	if !slices.Equal(keys(p2.D.Results), all[10:20]) {
		t.Fatalf("cursor page 2 after a delete: %v", keys(p2.D.Results))
	}
	clock.Add(16 * time.Minute)
	if st, env := c.page(p2.D.Next); st != http.StatusInternalServerError || !strings.Contains(env.Error.Message.Value, "COE0019") {
		t.Fatalf("idle cursor: %d %+v", st, env.Error)
	}
}

func TestRequestLog(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 10})
	c := newClient(t, s, ts)
	c.page(ts.URL + "/odata/v2/User?$top=1")
	c.page(ts.URL + "/odata/v2/Nope")
	log := s.Requests()
	if len(log) != 2 || log[0].EntitySet != "User" || log[0].Status != 200 || log[0].RunHeader != "run-1/1/w1" ||
		log[0].RawQuery != "$top=1" || log[1].Status != 404 || log[1].EntitySet != "Nope" {
		t.Fatalf("log: %+v", log)
	}
	s.ResetRequests()
	if len(s.Requests()) != 0 {
		t.Fatal("ResetRequests left entries")
	}
}
