package sfsim

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// view is the effective-dating window of a request.
type view struct {
	kind     byte // 'n' not effective-dated, 'a' as of a day, 'r' a range
	from, to int64
}

func (v view) String() string {
	return string(v.kind) + strconv.FormatInt(v.from, 10) + "-" + strconv.FormatInt(v.to, 10)
}

// match reports whether a row with the given effective dates is visible.
func (v view) match(start, end any) bool {
	s, _ := start.(int64)
	e, ok := end.(int64)
	if !ok {
		e = farFuture
	}
	switch v.kind {
	case 'a':
		return s <= v.from && v.from <= e
	case 'r':
		return s <= v.to && e >= v.from
	}
	return true
}

type orderKey struct {
	prop int
	desc bool
}

// query is a parsed OData collection request.
type query struct {
	es          *entitySet
	sel         []int    // properties to render; nil means all
	selNav      []string // navigation properties to render; nil means all
	expand      []string
	filterText  string
	filter      predicate
	orderText   string
	order       []orderKey
	top, skip   int // top < 0: no $top
	pageSize    int
	paging      string // "", "cursor" or "snapshot"
	skiptoken   string
	inlinecount bool
	view        view
}

var dateOnly = "2006-01-02"

func parseDay(name, s string) (int64, error) {
	t, err := time.Parse(dateOnly, s)
	if err != nil {
		// SF also takes a full timestamp here; keep its day.
		t2, err2 := time.Parse("2006-01-02T15:04:05", s)
		if err2 != nil {
			return 0, badQuery("Invalid value %q for %s: expected yyyy-MM-dd.", s, name)
		}
		t = t2
	}
	return t.UnixMilli(), nil
}

// parseQuery reads the system and SF-specific query options.
func (s *Server) parseQuery(es *entitySet, vals url.Values) (*query, error) {
	q := &query{es: es, top: -1, pageSize: s.opts.PageSize}
	if f := vals.Get("$format"); f != "" && !strings.EqualFold(f, "json") {
		return nil, badQuery("The simulator serves only $format=json, not %q.", f)
	}
	if sel := strings.TrimSpace(vals.Get("$select")); sel != "" && sel != "*" {
		q.sel = []int{}
		q.selNav = []string{}
		seen := map[int]bool{}
		for _, name := range strings.Split(sel, ",") {
			name = strings.TrimSpace(name)
			if nav, _, ok := strings.Cut(name, "/"); ok {
				name = nav
			}
			if i, ok := es.idx[name]; ok {
				if !seen[i] {
					seen[i] = true
					q.sel = append(q.sel, i)
				}
				continue
			}
			if !es.hasNav(name) {
				return nil, propertyNotFound(es.name, name)
			}
			q.selNav = append(q.selNav, name)
		}
		sort.Ints(q.sel)
	}
	if exp := strings.TrimSpace(vals.Get("$expand")); exp != "" {
		for _, name := range strings.Split(exp, ",") {
			name = strings.TrimSpace(name)
			if nav, _, ok := strings.Cut(name, "/"); ok {
				name = nav
			}
			if _, ok := es.expand[name]; !ok {
				if es.hasNav(name) {
					return nil, badQuery("The simulator cannot expand %s/%s.", es.name, name)
				}
				return nil, propertyNotFound(es.name, name)
			}
			q.expand = append(q.expand, name)
		}
	}
	if q.selNav != nil {
		// An expanded navigation is rendered even when $select omits it.
		for _, nav := range q.expand {
			if indexOf(q.selNav, nav) < 0 {
				q.selNav = append(q.selNav, nav)
			}
		}
	}
	if f := strings.TrimSpace(vals.Get("$filter")); f != "" {
		pred, err := parseFilter(es, f)
		if err != nil {
			return nil, err
		}
		q.filterText, q.filter = f, pred
	}
	if o := strings.TrimSpace(vals.Get("$orderby")); o != "" {
		for _, part := range strings.Split(o, ",") {
			fields := strings.Fields(part)
			if len(fields) == 0 || len(fields) > 2 {
				return nil, badQuery("Invalid $orderby %q.", o)
			}
			i, ok := es.idx[fields[0]]
			if !ok {
				return nil, propertyNotFound(es.name, fields[0])
			}
			k := orderKey{prop: i}
			if len(fields) == 2 {
				switch strings.ToLower(fields[1]) {
				case "asc":
				case "desc":
					k.desc = true
				default:
					return nil, badQuery("Invalid $orderby %q.", o)
				}
			}
			q.order = append(q.order, k)
		}
		q.orderText = o
	}
	var err error
	if q.top, err = intOption(vals, "$top", -1); err != nil {
		return nil, err
	}
	if q.skip, err = intOption(vals, "$skip", 0); err != nil {
		return nil, err
	}
	ps, err := intOption(vals, "customPageSize", s.opts.PageSize)
	if err != nil {
		return nil, err
	}
	if ps <= 0 {
		return nil, badQuery("Invalid customPageSize %d.", ps)
	}
	q.pageSize = min(ps, maxPageSize)
	switch p := vals.Get("paging"); p {
	case "", "cursor", "snapshot":
		q.paging = p
	default:
		return nil, badQuery("Invalid paging %q: use cursor or snapshot.", p)
	}
	if q.paging == "cursor" && len(q.order) > 0 {
		return nil, badQuery("$orderby is not supported with cursor-based paging.")
	}
	q.skiptoken = vals.Get("$skiptoken")
	switch ic := vals.Get("$inlinecount"); ic {
	case "", "none":
	case "allpages":
		q.inlinecount = true
	default:
		return nil, badQuery("Invalid $inlinecount %q.", ic)
	}
	q.view, err = s.parseView(es, vals)
	return q, err
}

func intOption(vals url.Values, name string, def int) (int, error) {
	v := vals.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badQuery("Invalid value %q for %s.", v, name)
	}
	return n, nil
}

// parseView applies SF's effective-dating rules: no dates means the record
// effective today; asOfDate picks one day; fromDate/toDate return every
// record overlapping the window.
func (s *Server) parseView(es *entitySet, vals url.Values) (view, error) {
	asOf, from, to := vals.Get("asOfDate"), vals.Get("fromDate"), vals.Get("toDate")
	if asOf != "" && (from != "" || to != "") {
		return view{}, badQuery("asOfDate cannot be combined with fromDate or toDate.")
	}
	v := view{kind: 'a', from: s.today()}
	switch {
	case asOf != "":
		d, err := parseDay("asOfDate", asOf)
		if err != nil {
			return view{}, err
		}
		v.from = d
	case from != "" || to != "":
		v = view{kind: 'r', from: farPast, to: farFuture}
		var err error
		if from != "" {
			if v.from, err = parseDay("fromDate", from); err != nil {
				return view{}, err
			}
		}
		if to != "" {
			if v.to, err = parseDay("toDate", to); err != nil {
				return view{}, err
			}
		}
	}
	if es.effStart < 0 {
		// Not effective-dated; remember the day for $expand only.
		v.kind = 'n'
	}
	return v, nil
}

// today is midnight UTC of the simulator's current day.
func (s *Server) today() int64 {
	t := s.now().UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).UnixMilli()
}

// selSig names the projection of a query, for the render cache.
func (q *query) selSig() string {
	if q.sel == nil && q.selNav == nil {
		return "*"
	}
	var b strings.Builder
	for _, i := range q.sel {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(',')
	}
	b.WriteByte('/')
	b.WriteString(strings.Join(q.selNav, ","))
	return b.String()
}

func (es *entitySet) hasNav(name string) bool {
	for _, n := range es.typ.navs {
		if n == name {
			return true
		}
	}
	return false
}

// cachedResult is the ordered list of row indexes a query matches, kept
// while the data does not change so that paging a large set does not
// evaluate the filter for every page.
const maxCachedRows = 16 << 20

type cachedResult struct {
	rows []int32
}

func (q *query) resultKey() string {
	return q.es.name + "\x00" + strconv.FormatUint(q.es.version, 10) + "\x00" + q.view.String() +
		"\x00" + q.filterText + "\x00" + q.orderText
}

// matches returns the rows the query selects, in served order. The caller
// holds s.mu for reading.
func (s *Server) matches(q *query) []int32 {
	key := q.resultKey()
	s.pageMu.Lock()
	c, ok := s.results[key]
	s.pageMu.Unlock()
	if ok {
		return c.rows
	}
	es := q.es
	n := es.size()
	rows := make([]int32, 0, n)
	v := q.view
	if v.kind == 'r' && v.from <= farPast && v.to >= farFuture {
		v.kind = 'n' // the whole history
	}
	for i := 0; i < n; i++ {
		if es.deleted[i] {
			continue
		}
		if v.kind == 'n' && q.filter == nil {
			rows = append(rows, int32(i))
			continue
		}
		var row []any
		if v.kind != 'n' {
			if _, changed := es.over[i]; es.dates != nil && i < es.base && !changed {
				start, end := es.dates(i)
				if !v.match(start, end) {
					continue
				}
			} else {
				row = es.row(i)
				if !v.match(row[es.effStart], row[es.effEnd]) {
					continue
				}
			}
		}
		if q.filter != nil {
			if row == nil {
				row = es.row(i)
			}
			if !q.filter(row) {
				continue
			}
		}
		rows = append(rows, int32(i))
	}
	if len(q.order) > 0 {
		s.sortRows(q, rows)
	}
	s.pageMu.Lock()
	// Bound the cache by rows held (4 bytes each), not by entries: one
	// entry of a large tenant can hold millions.
	if len(s.results) >= 64 || s.resultRows+len(rows) > maxCachedRows {
		clear(s.results)
		s.resultRows = 0
	}
	s.results[key] = &cachedResult{rows: rows}
	s.resultRows += len(rows)
	s.pageMu.Unlock()
	return rows
}

func (s *Server) sortRows(q *query, rows []int32) {
	es := q.es
	keys := make([][]any, len(rows))
	for n, i := range rows {
		row := es.row(int(i))
		k := make([]any, len(q.order))
		for x, o := range q.order {
			v := row[o.prop]
			if es.typ.props[o.prop].typ == tDecimal {
				if str, ok := v.(string); ok {
					f, _ := strconv.ParseFloat(str, 64)
					v = f
				}
			}
			k[x] = v
		}
		keys[n] = k
	}
	perm := make([]int, len(rows))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool {
		ka, kb := keys[perm[a]], keys[perm[b]]
		for x, o := range q.order {
			c := compareValues(ka[x], kb[x])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
	sorted := make([]int32, len(rows))
	for n, p := range perm {
		sorted[n] = rows[p]
	}
	copy(rows, sorted)
}
