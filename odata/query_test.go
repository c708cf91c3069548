package odata

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// B17: the encoder, golden.
func TestB17FilterEncoding(t *testing.T) {
	for _, tc := range []struct {
		q    Query
		want string
	}{
		{Query{EntitySet: "User", Filter: Eq("lastName", String("O'Neil"))},
			"User?$format=json&$filter=lastName%20eq%20'O''Neil'"},
		{Query{EntitySet: "FOBusinessUnit", Filter: Eq("externalCode", String("R&D"))},
			"FOBusinessUnit?$format=json&$filter=externalCode%20eq%20'R%26D'"},
		{Query{EntitySet: "User", Filter: Eq("firstName", String("Zoë #1"))},
			"User?$format=json&$filter=firstName%20eq%20'Zo%C3%AB%20%231'"},
		{Query{EntitySet: "EmpJob ", Filter: Eq("userId", String("a+b=c;d?e"))},
			"EmpJob?$format=json&$filter=userId%20eq%20'a%2Bb%3Dc%3Bd%3Fe'"},
		{Query{
			EntitySet: " EmpJob\t",
			Select:    []string{"userId", "startDate", "jobCode"},
			Expand:    []string{"employmentNav", "positionNav/parentPosition"},
			Filter: And(
				Ge("lastModifiedDateTime", DateTimeOffset(time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("X", 3600)))),
				Or(Eq("jobCode", String("JC1")), Lt("startDate", DateTime(time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC))))),
			PageSize:    500,
			Paging:      PagingSnapshot,
			FromDate:    time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC),
			ToDate:      time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
			InlineCount: true,
		}, "EmpJob?$format=json&$select=userId,startDate,jobCode&$expand=employmentNav,positionNav/parentPosition" +
			"&$filter=(lastModifiedDateTime%20ge%20datetimeoffset'2023-12-31T23:00:00Z')%20and%20" +
			"((jobCode%20eq%20'JC1')%20or%20(startDate%20lt%20datetime'2020-03-02T00:00:00'))" +
			"&$inlinecount=allpages&paging=snapshot&customPageSize=500&fromDate=1900-01-01&toDate=9999-12-31"},
		{Query{EntitySet: "User", Paging: PagingCursor, PageSize: 1000, AsOfDate: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
			"User?$format=json&paging=cursor&customPageSize=1000&asOfDate=2024-02-29"},
		{Query{EntitySet: "User", Paging: PagingSkip, PageSize: 100, OrderBy: []string{"userId asc"}},
			"User?$format=json&$orderby=userId%20asc&$top=100&$skip=0"},
		{Query{EntitySet: "Background_Education", Filter: Or(Eq("backgroundElementId", Int64(130166)),
			In("bgOrderPos", Int(1), Int(2)), Eq("price", Decimal("200.20")), Ne("active", Bool(true)),
			Gt("fte", Double(1)), Le("x", Null()), Not(Eq("y", String(""))))},
			"Background_Education?$format=json&$filter=(backgroundElementId%20eq%20130166L)%20or%20" +
				"(bgOrderPos%20in%201,2)%20or%20(price%20eq%20200.20M)%20or%20(active%20ne%20true)%20or%20" +
				"(fte%20gt%201.0)%20or%20(x%20le%20null)%20or%20(not%20(y%20eq%20''))"},
	} {
		got, err := tc.q.Encode()
		if err != nil || got != tc.want {
			t.Errorf("Encode(%+v)\n got %s (%v)\nwant %s", tc.q, got, err, tc.want)
		}
	}
}

func TestLiterals(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{String("it's").String(), "'it''s'"},
		{String("''").String(), "''''''"},
		{Decimal("-1.5").String(), "-1.5M"},
		{Decimal("1e5").String(), "null"},
		{Decimal("1.").String(), "null"},
		{Double(0.1).String(), "0.1"},
		{Double(1e300).String(), "1e+300"},
		{Lit{}.String(), "null"},
		{And("", "a eq 1", ""), "a eq 1"},
		{And(), ""},
		{DateTimeOffset(time.Date(2016, 2, 1, 13, 9, 13, 30e6, time.UTC)).String(), "datetimeoffset'2016-02-01T13:09:13.030Z'"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

// B17: entity set names are trimmed and checked; bad option combinations
// are refused before a request.
func TestQueryValidation(t *testing.T) {
	for _, q := range []Query{
		{EntitySet: ""},
		{EntitySet: "Emp Job"},
		{EntitySet: "EmpJob?$top=1"},
		{EntitySet: "../x"},
		{EntitySet: "1User"},
		{EntitySet: "User", PageSize: 1001},
		{EntitySet: "User", PageSize: -1},
		{EntitySet: "User", Paging: "bogus"},
		{EntitySet: "User", Paging: PagingCursor, OrderBy: []string{"userId"}},
		{EntitySet: "User", Paging: PagingSkip, OrderBy: []string{"userId"}},
		{EntitySet: "User", AsOfDate: time.Now(), FromDate: time.Now()},
		{EntitySet: "User", Select: []string{"a,b"}},
		{EntitySet: "User", Select: []string{" "}},
	} {
		if _, err := q.Encode(); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("Encode(%+v): %v", q, err)
		}
	}
	got, err := Query{EntitySet: "EmpJob "}.Encode()
	if err != nil || !strings.HasPrefix(got, "EmpJob?") {
		t.Errorf("trimmed name: %q %v", got, err)
	}
}

func TestNewClientRoots(t *testing.T) {
	for _, tc := range []struct {
		root     string
		loopback bool
		ok       bool
	}{
		{"https://api.example-sf.test/odata/v2", false, true},
		{"https://api.example-sf.test/odata/v2/", false, true},
		{"http://api.example-sf.test/odata/v2", false, false},
		{"http://api.example-sf.test/odata/v2", true, false},
		{"http://127.0.0.1:8080/odata/v2", false, false},
		{"http://127.0.0.1:8080/odata/v2", true, true},
		{"http://[::1]:8080/odata/v2", true, true},
		{"http://localhost:8080/odata/v2", true, true},
		{"ftp://api.example-sf.test/odata/v2", false, false},
		{"https://user:pw@api.example-sf.test/odata/v2", false, false},
		{"https://api.example-sf.test/odata/v2?x=1", false, false},
		{"/odata/v2", false, false},
	} {
		c, err := NewClient(tc.root, nil, &Options{AllowInsecureLoopback: tc.loopback})
		if (err == nil) != tc.ok {
			t.Errorf("NewClient(%q, loopback %v): %v", tc.root, tc.loopback, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error shows the password: %v", err)
		}
		if c != nil {
			u, _ := c.URL(Query{EntitySet: "User"})
			if !strings.HasSuffix(u, "/odata/v2/User?$format=json") {
				t.Errorf("URL %q", u)
			}
		}
	}
}
