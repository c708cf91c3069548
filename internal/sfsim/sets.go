package sfsim

import (
	"strings"
	"sync"
	"sync/atomic"
)

// entitySet is one served entity set: its type, its generator and the
// changes made to it since New.
type entitySet struct {
	name string
	typ  *entityType
	idx  map[string]int
	keys []int // property indexes of the key, in metadata key order

	// effStart and effEnd are the effective-dating properties, or -1.
	effStart, effEnd int
	// dates returns the effective dates of a generated row without
	// building it; nil when the set is not effective-dated.
	dates func(i int) (start, end int64)
	// lastMod holds every lastModified* date property; Touch sets them all.
	lastMod []int
	// touch is the visible property Touch changes.
	touch int
	// navs maps a navigation property to the set and the foreign key
	// property it resolves through, for $expand.
	expand map[string]navTarget

	base int
	gen  func(es *entitySet, i int) []any

	// caches hold renderings of generated rows per projection, most
	// recently used first (see Server.renderCacheFor).
	cacheMu sync.Mutex
	caches  []*renderCache
	// sizeHint is the largest rendering seen, to size render buffers.
	sizeHint atomic.Int64

	// Mutable state, guarded by Server.mu.
	over    map[int][]any
	deleted map[int]bool
	added   [][]any
	version uint64
}

type navTarget struct {
	set string
	fk  string // property of this set holding the target key
}

func newEntitySet(name string, typ *entityType, base int, gen func(*entitySet, int) []any) *entitySet {
	es := &entitySet{
		name: name, typ: typ, idx: typ.propIndex(), base: base, gen: gen,
		effStart: -1, effEnd: -1, touch: -1,
		over: map[int][]any{}, deleted: map[int]bool{},
		expand: map[string]navTarget{},
	}
	for _, k := range typ.keys {
		es.keys = append(es.keys, es.idx[k])
	}
	for i, p := range typ.props {
		if strings.HasPrefix(p.name, "lastModified") && (p.typ == tDateTime || p.typ == tDateTimeOffset) {
			es.lastMod = append(es.lastMod, i)
		}
	}
	return es
}

func (es *entitySet) effective(start, end string) *entitySet {
	es.effStart, es.effEnd = es.idx[start], es.idx[end]
	return es
}

func (es *entitySet) touching(prop string) *entitySet {
	es.touch = es.idx[prop]
	return es
}

// size is the number of row slots, deleted ones included.
func (es *entitySet) size() int { return es.base + len(es.added) }

// row returns the values of row i; callers hold Server.mu for reading.
func (es *entitySet) row(i int) []any {
	if v, ok := es.over[i]; ok {
		return v
	}
	if i >= es.base {
		return es.added[i-es.base]
	}
	return es.gen(es, i)
}

// defaultSets builds the entity sets of a world.
func defaultSets(w *world) map[string]*entitySet {
	t := func(name string) *entityType {
		typ := metadataTypes[name]
		return &typ
	}
	sets := []*entitySet{
		newEntitySet("User", t("User"), w.users, w.user).touching("title"),
		newEntitySet("EmpEmployment", t("EmpEmployment"), w.users, w.empEmployment).touching("prevEmployeeId"),
		newEntitySet("EmpJob", t("EmpJob"), w.pEmpJob.total(), w.empJob).
			effective("startDate", "endDate").touching("notes"),
		newEntitySet("FOJobCode", t("FOJobCode"), w.pJobCode.total(), w.foJobCode).
			effective("startDate", "endDate").touching("description"),
		newEntitySet("FOJobFunction", t("FOJobFunction"), w.pJobFunc.total(), w.foJobFunction).
			effective("startDate", "endDate").touching("description"),
		newEntitySet("JobProfile", t("JobProfile"), w.profiles, w.jobProfile).touching("shortDesc_defaultValue"),
		newEntitySet("SkillEntity", t("SkillEntity"), w.skills, w.skill).touching("definition_defaultValue"),
		newEntitySet("CompetencyEntity", t("CompetencyEntity"), w.comps, w.competency).touching("description_defaultValue"),
		newEntitySet("Background_Education", t("Background_Education"), w.pEducation.total(), w.education).touching("major"),
		newEntitySet("Background_OutsideWorkExperience", t("Background_OutsideWorkExperience"),
			w.pOutside.total(), w.outsideWork).touching("businessType"),
		newEntitySet("Position", &positionType, w.pPosition.total(), w.position).
			effective("effectiveStartDate", "effectiveEndDate").touching("jobTitle"),
		newEntitySet("JobRequisition", &jobRequisitionType, w.reqs, w.jobRequisition).touching("hiringManagerNote"),
	}
	m := make(map[string]*entitySet, len(sets))
	for _, es := range sets {
		m[es.name] = es
	}
	m["EmpJob"].dates = func(i int) (int64, int64) { sl := w.empJobSlice(i); return sl.start, sl.end }
	m["FOJobCode"].dates = func(i int) (int64, int64) { _, _, _, s, e := w.foJobCodeDates(i); return s, e }
	m["FOJobFunction"].dates = func(i int) (int64, int64) { _, s, e := w.foJobFunctionDates(i); return s, e }
	m["Position"].dates = func(i int) (int64, int64) { _, s, e := w.positionDates(i); return s, e }
	m["User"].expand["manager"] = navTarget{set: "User", fk: "@manager"}
	m["User"].expand["hr"] = navTarget{set: "User", fk: "@manager"}
	m["EmpJob"].expand["employmentNav"] = navTarget{set: "EmpEmployment", fk: "userId"}
	m["EmpJob"].expand["positionNav"] = navTarget{set: "Position", fk: "position"}
	m["EmpJob"].expand["jobCodeNav"] = navTarget{set: "FOJobCode", fk: "jobCode"}
	m["EmpJob"].expand["managerUserNav"] = navTarget{set: "User", fk: "managerId"}
	m["EmpJob"].expand["userNav"] = navTarget{set: "User", fk: "userId"}
	m["Position"].expand["jobCodeNav"] = navTarget{set: "FOJobCode", fk: "jobCode"}
	m["Position"].expand["parentPositionNav"] = navTarget{set: "Position", fk: "parentPosition"}
	// SF's EmpJob carries more navigations than the API-hub metadata lists.
	ej := m["EmpJob"].typ
	ej.navs = append(append([]string(nil), ej.navs...), "positionNav", "jobCodeNav", "managerUserNav", "userNav")
	return m
}

// forget drops the cached renderings of a changed row; the caller holds
// Server.mu for writing.
func (es *entitySet) forget(i int) {
	es.cacheMu.Lock()
	defer es.cacheMu.Unlock()
	for _, rc := range es.caches {
		if i < len(rc.slots) {
			rc.slots[i].Store(nil)
		}
	}
}
