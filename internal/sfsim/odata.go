package sfsim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// serveOData answers /odata/v2/... and returns the entity set named.
func (s *Server) serveOData(w *statusRecorder, r *http.Request) string {
	rest := strings.TrimPrefix(r.URL.Path, "/odata/v2/")
	name, keyPred, sub := rest, "", ""
	if i := strings.IndexAny(rest, "(/"); i >= 0 {
		name, sub = rest[:i], rest[i:]
		if sub[0] == '(' {
			j := strings.LastIndex(sub, ")")
			if j < 0 {
				writeError(w, http.StatusBadRequest, "COE_BAD_REQUEST", "[COE0026]Malformed key predicate.")
				return name
			}
			keyPred, sub = sub[1:j], sub[j+1:]
		}
	}
	if name == "$metadata" && sub == "" && keyPred == "" {
		if s.authorize(w, r) {
			var all []*entitySet
			for _, n := range s.EntitySets() {
				all = append(all, s.sets[n])
			}
			s.serveMetadata(w, all)
		}
		return ""
	}
	es, ok := s.sets[name]
	if !ok {
		writeError(w, http.StatusNotFound, "COE_ENTITY_NOT_FOUND", "[COE0007]invalid entity (or function) name: "+name)
		return name
	}
	if !s.authorize(w, r) {
		return name
	}
	if sub == "/$metadata" && keyPred == "" {
		s.serveMetadata(w, []*entitySet{es})
		return name
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, "COE_BAD_REQUEST", "[COE0026]The simulator is read-only.")
		return name
	}
	if s.throttle(w) {
		return name
	}
	if err := sleep(r, s.opts.Latency); err != nil {
		return name
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "COE_BAD_REQUEST", "[COE0026]Malformed query string.")
		return name
	}
	q, err := s.parseQuery(es, vals)
	if err != nil {
		writeQueryError(w, err)
		return name
	}
	switch {
	case keyPred != "":
		s.serveEntity(w, r, q, keyPred, sub)
	case sub == "/$count":
		s.serveCount(w, r, q)
	case sub == "":
		s.serveCollection(w, r, q)
	default:
		writeError(w, http.StatusNotFound, "COE_RESOURCE_NOT_FOUND", "[COE0005]Resource not found: "+rest)
	}
	return name
}

func writeQueryError(w http.ResponseWriter, err error) {
	if qe, ok := err.(*queryError); ok {
		writeError(w, qe.status, qe.code, qe.msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "COE_GENERAL_SERVER_FAILURE", "[COE0000]"+err.Error())
}

func sleep(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}

func (s *Server) serveCount(w *statusRecorder, r *http.Request, q *query) {
	s.mu.RLock()
	n := len(s.matches(q))
	s.mu.RUnlock()
	w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	w.Write([]byte(strconv.Itoa(n)))
}

// pageToken is the decoded $skiptoken. Default paging carries row offsets
// (SF's own token decodes to {"startRow":..,"endRow":..}); cursor paging
// the last row served; snapshot paging the snapshot id and page number.
type pageToken struct {
	StartRow int    `json:"startRow,omitempty"`
	EndRow   int    `json:"endRow,omitempty"`
	Cursor   *int   `json:"cursor,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	Page     int    `json:"page,omitempty"`
	Issued   int64  `json:"issued,omitempty"`
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.StdEncoding.EncodeToString(b)
}

func decodeToken(s string) (pageToken, error) {
	var t pageToken
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.StartRow < 0 || t.Page < 0 {
		return t, badQuery("Invalid $skiptoken.")
	}
	return t, nil
}

// snapshot is the frozen list of rows of a paging=snapshot query.
type snapshot struct {
	rows     []int32
	pageSize int
	last     time.Time
}

func snapshotLost() *queryError {
	return &queryError{status: http.StatusInternalServerError, code: "COE_GENERAL_SERVER_FAILURE",
		msg: "[COE0019][SNP]Snapshot lost for current pagination query, pls relaunch query and start from 1st page"}
}

// page is one page to serve: its rows and what comes after it.
type page struct {
	rows  []int32 // row indexes
	total int     // __count
	next  string  // $skiptoken of the next page, "" on the last page
}

// pageIndex is the 0-based page a request asks for, read from its
// $skiptoken before the page is planned, so that a fault can replace the
// page without consuming it.
func pageIndex(q *query) (int, error) {
	if q.skiptoken == "" {
		return 0, nil
	}
	tok, err := decodeToken(q.skiptoken)
	if err != nil {
		return 0, err
	}
	if q.paging == "" {
		return tok.StartRow / q.pageSize, nil
	}
	return tok.Page, nil
}

// plan decides which rows a collection request gets. keep leaves a
// snapshot in place even when its last page is served, for a response a
// fault spoils: the client's retry must find it.
func (s *Server) plan(q *query, keep bool) (page, error) {
	s.mu.RLock()
	all := s.matches(q)
	s.mu.RUnlock()
	total := len(all)
	window := all[min(q.skip, len(all)):]
	if q.top >= 0 && q.top < len(window) {
		window = window[:q.top]
	}
	ps := q.pageSize
	var tok pageToken
	if q.skiptoken != "" {
		var err error
		if tok, err = decodeToken(q.skiptoken); err != nil {
			return page{}, err
		}
	}
	switch q.paging {
	case "snapshot":
		return s.planSnapshot(q, window, total, tok, keep)
	case "cursor":
		start := 0
		if tok.Cursor != nil {
			if idle := s.now().Sub(time.UnixMilli(tok.Issued)); idle > s.opts.SnapshotIdle {
				return page{}, &queryError{status: http.StatusInternalServerError, code: "COE_GENERAL_SERVER_FAILURE",
					msg: "[COE0019][CUR]Cursor expired for current pagination query, pls relaunch query and start from 1st page"}
			}
			last := int32(*tok.Cursor)
			start = sort.Search(len(window), func(i int) bool { return window[i] > last })
		}
		end := min(start+ps, len(window))
		p := page{rows: window[start:end], total: total}
		if end < len(window) {
			c := int(window[end-1])
			p.next = encodeToken(pageToken{Cursor: &c, Page: tok.Page + 1, Issued: s.now().UnixMilli()})
		}
		return p, nil
	}
	start := min(tok.StartRow, len(window))
	end := min(start+ps, len(window))
	p := page{rows: window[start:end], total: total}
	if end < len(window) {
		p.next = encodeToken(pageToken{StartRow: end, EndRow: end + ps})
	}
	return p, nil
}

func (s *Server) planSnapshot(q *query, window []int32, total int, tok pageToken, keep bool) (page, error) {
	now := s.now()
	s.pageMu.Lock()
	defer s.pageMu.Unlock()
	var snap *snapshot
	id := tok.Snapshot
	if id == "" {
		if err := s.snapshotGuard(q.es.name, now); err != nil {
			return page{}, err
		}
		// Abandoned snapshots are dropped when new ones are made, so
		// their row lists do not pile up.
		for k, old := range s.snapshots {
			if now.Sub(old.last) > s.opts.SnapshotIdle {
				delete(s.snapshots, k)
			}
		}
		snap = &snapshot{rows: append([]int32(nil), window...), pageSize: q.pageSize}
		var b [12]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	} else {
		snap = s.snapshots[id]
		if snap == nil {
			return page{}, snapshotLost()
		}
		if now.Sub(snap.last) > s.opts.SnapshotIdle {
			delete(s.snapshots, id)
			return page{}, snapshotLost()
		}
	}
	snap.last = now
	ps := snap.pageSize
	start := min(tok.Page*ps, len(snap.rows))
	end := min(start+ps, len(snap.rows))
	p := page{rows: snap.rows[start:end], total: total}
	if tok.Snapshot != "" {
		p.total = len(snap.rows)
	}
	if end < len(snap.rows) {
		s.snapshots[id] = snap
		p.next = encodeToken(pageToken{Snapshot: id, Page: tok.Page + 1})
	} else if !keep {
		// SF drops the snapshot once its last page is served.
		delete(s.snapshots, id)
	}
	return p, nil
}

// snapshotGuard applies Options.SnapshotRestartLimit; the caller holds
// s.pageMu.
func (s *Server) snapshotGuard(set string, now time.Time) error {
	limit := s.opts.SnapshotRestartLimit
	if limit <= 0 {
		return nil
	}
	const window = 30 * time.Minute
	if until, ok := s.blocked[set]; ok && now.Before(until) {
		return snapshotBlocked(set)
	}
	recent := s.restarts[set][:0]
	for _, t := range s.restarts[set] {
		if now.Sub(t) < window {
			recent = append(recent, t)
		}
	}
	if len(recent) >= limit {
		s.blocked[set] = now.Add(window)
		s.restarts[set] = nil
		return snapshotBlocked(set)
	}
	s.restarts[set] = append(recent, now)
	return nil
}

func snapshotBlocked(set string) *queryError {
	return &queryError{status: http.StatusBadRequest, code: "COE_SNAPSHOT_BAD_REQUEST",
		msg: "[COE0020][SNP]Too many snapshot pagination requests for " + set +
			" without following the skiptoken; snapshot paging is blocked for 30 minutes"}
}

// nextURL is the request URL with its $skiptoken replaced.
func nextURL(base string, r *http.Request, skiptoken string) string {
	var b strings.Builder
	b.WriteString(base)
	b.WriteString(r.URL.EscapedPath())
	b.WriteByte('?')
	n := 0
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		if part == "" || strings.HasPrefix(part, "$skiptoken=") || strings.HasPrefix(part, "%24skiptoken=") {
			continue
		}
		if n > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
		n++
	}
	if n > 0 {
		b.WriteByte('&')
	}
	b.WriteString("$skiptoken=")
	b.WriteString(url.QueryEscape(skiptoken))
	return b.String()
}

// pageRow is one rendered record of a page. A template has a 0x00 byte
// wherever the request's base URL goes; JSON text never holds a raw 0x00,
// so the byte is unambiguous.
type pageRow struct {
	b    []byte
	tmpl bool
}

// templateBase stands for the base URL in cached renderings.
const templateBase = "\x00"

// collect renders the rows of a page. Records without $expand come from
// the render cache of their projection; expanded ones are rendered for
// the request. Nothing here does I/O, so the read lock is held briefly.
func (s *Server) collect(q *query, base string, idx []int32) []pageRow {
	es := q.es
	var rc *renderCache
	if len(q.expand) == 0 {
		rc = s.renderCacheFor(es, q.selSig())
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]pageRow, 0, len(idx))
	var exp [][]any
	for _, i := range idx {
		if es.deleted[int(i)] {
			continue
		}
		if len(q.expand) == 0 {
			out = append(out, pageRow{b: s.template(es, rc, int(i), q), tmpl: true})
			continue
		}
		row := es.row(int(i))
		exp = exp[:0]
		for _, nav := range q.expand {
			exp = append(exp, s.resolve(q, row, nav))
		}
		b := s.appendRecord(nil, base, es, row, q.sel, q.selNav, q.expand, exp)
		out = append(out, pageRow{b: b})
	}
	return out
}

// renderCache holds renderings of one projection ($select) of an entity
// set's generated rows, with the base URL left out.
type renderCache struct {
	sig   string
	slots []atomic.Pointer[[]byte]
	bytes atomic.Int64
}

// renderCacheFor returns the cache for a projection, making it when
// needed. A set keeps the caches of its two most recent projections; an
// older one is dropped and its memory returned to the budget.
func (s *Server) renderCacheFor(es *entitySet, sig string) *renderCache {
	if s.cacheLimit <= 0 {
		return nil
	}
	es.cacheMu.Lock()
	defer es.cacheMu.Unlock()
	for n, rc := range es.caches {
		if rc.sig == sig {
			copy(es.caches[1:n+1], es.caches[:n])
			es.caches[0] = rc
			return rc
		}
	}
	rc := &renderCache{sig: sig, slots: make([]atomic.Pointer[[]byte], es.base)}
	if len(es.caches) == 2 {
		s.cacheUsed.Add(-es.caches[1].bytes.Load())
		es.caches = es.caches[:1]
	}
	es.caches = append([]*renderCache{rc}, es.caches...)
	return rc
}

// template returns the rendering of row i with the base URL left out,
// from the cache when it is there. The caller holds s.mu for reading.
func (s *Server) template(es *entitySet, rc *renderCache, i int, q *query) []byte {
	cached := rc != nil && i < len(rc.slots)
	if cached {
		if b := rc.slots[i].Load(); b != nil {
			return *b
		}
	}
	hint := int(es.sizeHint.Load())
	b := s.appendRecord(make([]byte, 0, hint+hint/4), templateBase, es, es.row(i), q.sel, q.selNav, nil, nil)
	if len(b) > hint {
		es.sizeHint.Store(int64(len(b)))
	}
	if cached && s.cacheUsed.Load() < s.cacheLimit {
		s.cacheUsed.Add(int64(len(b)))
		rc.bytes.Add(int64(len(b)))
		rc.slots[i].Store(&b)
	}
	return b
}

func (s *Server) serveCollection(w *statusRecorder, r *http.Request, q *query) {
	index, err := pageIndex(q)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	f := s.takeFault(q.es.name, index)
	if f != nil && f.before(w, r, s.opts.ExpiredTokenStatus == http.StatusForbidden) {
		return
	}
	spoiled := f != nil && (f.Kind == FaultTruncate || f.Kind == FaultReset || f.Kind == FaultEmptyPage)
	p, err := s.plan(q, spoiled)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	base := baseOf(r)
	jbase := jsonText(base)
	rows := s.collect(q, jbase, p.rows)
	next := ""
	if p.next != "" {
		next = nextURL(base, r, p.next)
	}
	if f != nil {
		switch f.Kind {
		case FaultForeignNext:
			host := f.NextHost
			if host == "" {
				host = "sfsim-other.invalid"
			}
			u, _ := url.Parse(nextURL(base, r, p.next))
			u.Host = host
			next = u.String()
		case FaultLoopNext:
			next = base + r.URL.RequestURI()
		case FaultEmptyPage:
			rows = nil
			next = base + r.URL.RequestURI()
		}
	}
	if f != nil && (f.Kind == FaultTruncate || f.Kind == FaultReset) {
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		writePage(bw, jbase, q, rows, p.total, next)
		bw.Flush()
		f.cut(w, buf.Bytes())
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	var out io.Writer = w
	if s.opts.Gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		out = zw
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	writePage(bw, jbase, q, rows, p.total, next)
	bw.Flush()
}

// jsonText is s escaped for use inside a JSON string.
func jsonText(s string) string {
	b := appendJSONString(nil, s)
	return string(b[1 : len(b)-1])
}

func writePage(bw *bufio.Writer, jbase string, q *query, rows []pageRow, total int, next string) {
	b := make([]byte, 0, 256)
	b = append(b, `{"d":{`...)
	if q.inlinecount {
		b = append(b, `"__count":"`...)
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, `",`...)
	}
	b = append(b, `"results":[`...)
	bw.Write(b)
	for n, pr := range rows {
		if n > 0 {
			bw.WriteByte(',')
		}
		if !pr.tmpl {
			bw.Write(pr.b)
			continue
		}
		rec := pr.b
		for {
			k := bytes.IndexByte(rec, 0)
			if k < 0 {
				bw.Write(rec)
				break
			}
			bw.Write(rec[:k])
			bw.WriteString(jbase)
			rec = rec[k+1:]
		}
	}
	b = append(b[:0], ']')
	if next != "" {
		b = append(b, `,"__next":`...)
		b = appendJSONString(b, next)
	}
	b = append(b, "}}"...)
	bw.Write(b)
}

// appendRecord renders one record: __metadata, the selected properties in
// metadata order, then navigation properties as __deferred stubs or, when
// expanded, as the target record (null when there is none). jbase is the
// base URL as JSON text.
func (s *Server) appendRecord(b []byte, jbase string, es *entitySet, row []any, sel []int, selNav, expand []string, exp [][]any) []byte {
	start := len(b)
	b = appendJSONString(b, string(es.appendKeyPredicate([]byte("/odata/v2/"+es.name), row)))
	path := string(b[start+1 : len(b)-1])
	b = b[:start]
	b = append(b, `{"__metadata":{"uri":"`...)
	b = append(b, jbase...)
	b = append(b, path...)
	b = append(b, `","type":"SFOData.`...)
	b = append(b, es.typ.name...)
	b = append(b, `"}`...)
	props := es.typ.props
	if sel == nil {
		for i, p := range props {
			b = appendField(b, p, row[i], s.opts.EscapedDates)
		}
	} else {
		for _, i := range sel {
			b = appendField(b, props[i], row[i], s.opts.EscapedDates)
		}
	}
	navs := es.typ.navs
	if selNav != nil {
		navs = selNav
	}
	for _, nav := range navs {
		b = append(b, ',', '"')
		b = append(b, nav...)
		b = append(b, `":`...)
		if x := indexOf(expand, nav); x >= 0 {
			if t := exp[x]; t != nil {
				target := s.sets[es.expand[nav].set]
				b = s.appendRecord(b, jbase, target, t, nil, []string{}, nil, nil)
			} else {
				b = append(b, "null"...)
			}
			continue
		}
		b = append(b, `{"__deferred":{"uri":"`...)
		b = append(b, jbase...)
		b = append(b, path...)
		b = append(b, '/')
		b = append(b, nav...)
		b = append(b, `"}}`...)
	}
	return append(b, '}')
}

func appendField(b []byte, p property, v any, escDates bool) []byte {
	b = append(b, ',', '"')
	b = append(b, p.name...)
	b = append(b, '"', ':')
	return appendValue(b, p, v, escDates)
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}
