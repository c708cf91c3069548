package sfsim

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
)

// entityRows returns the row range [lo, hi) of the entity whose
// single-string business key is key, for the generated part of a set.
func (s *Server) entityRows(es *entitySet, key string) (lo, hi int, ok bool) {
	w := s.w
	num := func(prefix string, n int) (int, bool) {
		if !strings.HasPrefix(key, prefix) {
			return 0, false
		}
		v, err := strconv.Atoi(key[len(prefix):])
		if err != nil || v < 1 || v > n || code(prefix, len(key)-len(prefix), v-1) != key {
			return 0, false
		}
		return v - 1, true
	}
	switch es.name {
	case "User", "EmpEmployment":
		u, ok := userIndex(key)
		if !ok || u >= es.size() {
			return 0, 0, false
		}
		return u, u + 1, true
	case "EmpJob":
		u, ok := userIndex(key)
		if !ok || u >= w.users {
			return 0, 0, false
		}
		return int(w.pEmpJob[u]), int(w.pEmpJob[u+1]), true
	case "FOJobCode":
		e, ok := num("JC", w.jobCodes)
		if !ok {
			return 0, 0, false
		}
		return int(w.pJobCode[e]), int(w.pJobCode[e+1]), true
	case "FOJobFunction":
		e, ok := num("JF", w.jobFuncs)
		if !ok {
			return 0, 0, false
		}
		return int(w.pJobFunc[e]), int(w.pJobFunc[e+1]), true
	case "Position":
		e, ok := num("POS", w.positions)
		if !ok {
			return 0, 0, false
		}
		return int(w.pPosition[e]), int(w.pPosition[e+1]), true
	}
	return 0, 0, false
}

// resolve finds the target of a to-one navigation for $expand. An
// effective-dated target is taken as of the parent's start date when the
// parent is effective-dated, else as of the request's day.
func (s *Server) resolve(q *query, row []any, nav string) []any {
	es := q.es
	t := es.expand[nav]
	target := s.sets[t.set]
	var key string
	if t.fk == "@manager" {
		u, ok := userIndex(row[es.idx["userId"]].(string))
		if !ok {
			return nil
		}
		m := s.w.managerOf(u)
		if m < 0 {
			return nil
		}
		key = userID(m)
	} else {
		k, ok := row[es.idx[t.fk]].(string)
		if !ok {
			return nil
		}
		key = k
	}
	lo, hi, ok := s.entityRows(target, key)
	if !ok {
		return nil
	}
	asOf := q.view.from
	if q.view.kind == 'r' || q.view.kind == 'n' {
		asOf = s.today()
	}
	if es.effStart >= 0 {
		if d, ok := row[es.effStart].(int64); ok {
			asOf = d
		}
	}
	av := view{kind: 'a', from: asOf}
	for i := lo; i < hi; i++ {
		if target.deleted[i] {
			continue
		}
		r := target.row(i)
		if target.effStart < 0 || av.match(r[target.effStart], r[target.effEnd]) {
			return r
		}
	}
	return nil
}

// parseKey reads a key predicate: 'x' for a single key, or
// name=value pairs for a composite one.
func parseKey(es *entitySet, pred string) (map[int]any, error) {
	out := map[int]any{}
	if len(es.keys) == 1 && !strings.Contains(strings.SplitN(pred, "'", 2)[0], "=") {
		toks, err := lexFilter(pred)
		if err != nil {
			return nil, err
		}
		if len(toks) != 1 {
			return nil, badQuery("Malformed key predicate.")
		}
		k := es.keys[0]
		v, err := literal(es.typ.props[k], toks[0])
		if err != nil {
			return nil, err
		}
		out[k] = v
		return out, nil
	}
	for _, part := range splitKeyParts(pred) {
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return nil, badQuery("Malformed key predicate.")
		}
		i, ok := es.idx[strings.TrimSpace(name)]
		if !ok {
			return nil, propertyNotFound(es.name, name)
		}
		vt, err := lexFilter(strings.TrimSpace(val))
		if err != nil || len(vt) != 1 {
			return nil, badQuery("Malformed key predicate.")
		}
		v, err := literal(es.typ.props[i], vt[0])
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	if len(out) != len(es.keys) {
		return nil, badQuery("Key predicate must name every key property of %s.", es.name)
	}
	return out, nil
}

// splitKeyParts splits on commas outside quotes.
func splitKeyParts(s string) []string {
	var parts []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'':
			inQuote = !inQuote
		case ',':
			if !inQuote {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func (s *Server) findByKey(es *entitySet, key map[int]any) []any {
	match := func(row []any) bool {
		for k, v := range key {
			if compareValues(row[k], v) != 0 || row[k] == nil {
				return false
			}
		}
		return true
	}
	lo, hi := 0, es.size()
	// Narrow the scan with the entity's business key when there is one.
	for _, k := range []string{"userId", "externalCode", "code"} {
		if i, ok := es.idx[k]; ok {
			if v, ok := key[i].(string); ok {
				if l, h, ok := s.entityRows(es, v); ok {
					lo, hi = l, h
				}
			}
			break
		}
	}
	for i := lo; i < hi; i++ {
		if es.deleted[i] {
			continue
		}
		if row := es.row(i); match(row) {
			return row
		}
	}
	if lo != 0 || hi != es.size() {
		for i := es.base; i < es.size(); i++ {
			if row := es.row(i); !es.deleted[i] && match(row) {
				return row
			}
		}
	}
	return nil
}

// serveEntity answers EntitySet(key): d is the record itself.
func (s *Server) serveEntity(w *statusRecorder, r *http.Request, q *query, pred, sub string) {
	key, err := parseKey(q.es, pred)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	s.mu.RLock()
	row := s.findByKey(q.es, key)
	var exp [][]any
	if row != nil {
		for _, nav := range q.expand {
			exp = append(exp, s.resolve(q, row, nav))
		}
	}
	s.mu.RUnlock()
	if row == nil {
		writeError(w, http.StatusNotFound, "COE_RESOURCE_NOT_FOUND",
			"[COE0005]Entity not found: "+q.es.name+"("+pred+")")
		return
	}
	if sub != "" {
		nav := strings.TrimPrefix(sub, "/")
		if _, ok := q.es.expand[nav]; !ok {
			writeError(w, http.StatusNotFound, "COE_PROPERTY_NOT_FOUND",
				"[COE0021]Invalid property names: "+q.es.name+"/"+nav+".")
			return
		}
		t := s.resolve(q, row, nav)
		if t == nil {
			w.Header().Set("Content-Type", "application/json;charset=utf-8")
			w.Write([]byte(`{"d":null}`))
			return
		}
		q = &query{es: s.sets[q.es.expand[nav].set]}
		row, exp = t, nil
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	b := append([]byte(nil), `{"d":`...)
	b = s.appendRecord(b, jsonText(baseOf(r)), q.es, row, q.sel, q.selNav, q.expand, exp)
	b = append(b, '}')
	bw.Write(b)
	bw.Flush()
}
