package sfsim

import (
	"net/url"
	"testing"
)

// FuzzFilter feeds arbitrary $filter text to the parser and evaluates what
// parses: no input may panic.
func FuzzFilter(f *testing.F) {
	for _, seed := range []string{
		"lastName eq 'O''Neil'",
		"lastModifiedDateTime ge datetimeoffset'2024-01-01T00:00:00Z' and status eq 't'",
		"hireDate lt datetime'2000-01-01T00:00:00' or not (totalTeamSize gt 3L)",
		"userId in ('a','b')",
		"startswith(lastName,'Mü') eq false",
		"salary gt 1.5e3",
		"((((",
		"'unterminated",
	} {
		f.Add(seed)
	}
	s := New(Options{Users: 20})
	es := s.sets["User"]
	rows := [][]any{es.row(0), es.row(1), es.newRow().row}
	f.Fuzz(func(t *testing.T, filter string) {
		pred, err := parseFilter(es, filter)
		if err != nil {
			if _, ok := err.(*queryError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		for _, r := range rows {
			pred(r)
		}
	})
}

// FuzzQuery feeds arbitrary query strings and key predicates to the
// request parsers.
func FuzzQuery(f *testing.F) {
	f.Add("$select=userId,manager&$expand=manager&$orderby=lastName desc&$top=3&$skip=1&paging=snapshot", "'10000001'")
	f.Add("fromDate=1900-01-01&toDate=2020-01-01&customPageSize=0", "seqNumber=1L,startDate=datetime'2020-01-01T00:00:00',userId='x'")
	f.Add("$skiptoken=eyJzdGFydFJvdyI6MTAwMH0=", "userId='a,b'")
	s := New(Options{Users: 20})
	f.Fuzz(func(t *testing.T, raw, key string) {
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		for _, name := range []string{"User", "EmpJob"} {
			es := s.sets[name]
			if q, err := s.parseQuery(es, vals); err == nil && q.skiptoken != "" {
				decodeToken(q.skiptoken)
			}
			if k, err := parseKey(es, key); err == nil {
				s.findByKey(es, k)
			}
		}
	})
}
