package sfsim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Touch changes n records of an entity set as an edit in SF would: one
// visible field gets a new value and every lastModified* field becomes
// Options.Now. For effective-dated sets it picks records effective today.
// It returns the touched entities' paths, e.g. User('10000042'), the same
// text as the end of their __metadata uri.
func (s *Server) Touch(entitySet string, n int) []string {
	es := s.mustSet(entitySet)
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	q := &query{es: es, view: view{kind: 'n'}}
	if es.effStart >= 0 {
		q.view = view{kind: 'a', from: s.today()}
	}
	rows := s.matches(q)
	if n > len(rows) {
		n = len(rows)
	}
	s.touches++
	var keys []string
	for k := 0; k < n; k++ {
		// Spread the edits over the set, and move on between calls.
		i := int(rows[(k*len(rows)/max(n, 1)+s.touches*7919)%len(rows)])
		row := append([]any(nil), es.row(i)...)
		if es.touch >= 0 {
			row[es.touch] = "touched " + strconv.Itoa(s.touches)
		}
		for _, p := range es.lastMod {
			row[p] = now
		}
		es.over[i] = row
		es.forget(i)
		keys = append(keys, es.keyString(row))
	}
	s.changed(es)
	return keys
}

// Add appends n new entities to a set whose records have one row per
// entity (User, EmpEmployment, JobProfile, SkillEntity, CompetencyEntity,
// JobRequisition) and returns their paths. New users are active and report
// to existing managers. Their lastModified* fields are Options.Now.
func (s *Server) Add(entitySet string, n int) ([]string, error) {
	es := s.mustSet(entitySet)
	switch entitySet {
	case "User", "EmpEmployment", "JobProfile", "SkillEntity", "CompetencyEntity", "JobRequisition":
	default:
		return nil, fmt.Errorf("sfsim: Add is not supported for %s", entitySet)
	}
	now := s.now().UnixMilli()
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := 0; k < n; k++ {
		row := append([]any(nil), es.gen(es, es.size())...)
		if p, ok := es.idx["status"]; ok && entitySet == "User" {
			row[p] = "t"
		}
		for _, p := range es.lastMod {
			row[p] = now
		}
		es.added = append(es.added, row)
		keys = append(keys, es.keyString(row))
	}
	s.changed(es)
	return keys, nil
}

// Delete removes entities by the paths Touch, Add or Records' __metadata
// give (e.g. User('10000042')) and reports how many it found.
func (s *Server) Delete(entitySet string, paths ...string) int {
	es := s.mustSet(entitySet)
	want := map[string]bool{}
	for _, p := range paths {
		want[p] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	found := 0
	for i := 0; i < es.size() && found < len(want); i++ {
		if es.deleted[i] {
			continue
		}
		if want[es.keyString(es.row(i))] {
			es.deleted[i] = true
			found++
		}
	}
	s.changed(es)
	return found
}

// changed invalidates cached results after a mutation; the caller holds
// s.mu for writing.
func (s *Server) changed(es *entitySet) {
	es.version++
	s.pageMu.Lock()
	clear(s.results)
	s.resultRows = 0
	s.pageMu.Unlock()
}

func (s *Server) mustSet(name string) *entitySet {
	es, ok := s.sets[name]
	if !ok {
		panic("sfsim: unknown entity set " + name)
	}
	return es
}

// Records returns the records the simulator holds for an entity set, as
// SF would serve them, in key order: every row (all of an effective-dated
// set's history), each decoded from its JSON rendering with
// encoding/json, so numbers are float64, Int64 and Decimal values are
// strings, and __metadata and __deferred stubs are present.
func (s *Server) Records(entitySet string) []map[string]any {
	return s.records(entitySet, view{kind: 'n'})
}

// RecordsAsOf returns the records an effective-dated set serves for
// asOfDate=day (only the UTC calendar day counts); other sets return all.
func (s *Server) RecordsAsOf(entitySet string, day time.Time) []map[string]any {
	d := day.UTC()
	midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	return s.records(entitySet, view{kind: 'a', from: midnight.UnixMilli()})
}

// Current returns what a request without date parameters returns: for
// effective-dated sets the records effective on Options.Now's day.
func (s *Server) Current(entitySet string) []map[string]any {
	return s.records(entitySet, view{kind: 'a', from: s.today()})
}

// Count returns how many rows Records would return, without rendering them.
func (s *Server) Count(entitySet string) int {
	es := s.mustSet(entitySet)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return es.size() - len(es.deleted)
}

func (s *Server) records(entitySet string, v view) []map[string]any {
	es := s.mustSet(entitySet)
	if es.effStart < 0 {
		v.kind = 'n'
	}
	q := &query{es: es, view: v}
	s.mu.RLock()
	idx := s.matches(q)
	rows := make([][]any, len(idx))
	for n, i := range idx {
		rows[n] = es.row(int(i))
	}
	s.mu.RUnlock()
	s.logMu.Lock()
	base := jsonText(s.baseURL)
	s.logMu.Unlock()
	out := make([]map[string]any, len(rows))
	var b []byte
	for n, row := range rows {
		b = s.appendRecord(b[:0], base, es, row, nil, nil, nil, nil)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			panic("sfsim: rendered invalid JSON: " + err.Error())
		}
		out[n] = m
	}
	return out
}
