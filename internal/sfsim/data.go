package sfsim

import "strconv"

// Entity set identifiers, used to seed each set's generator apart.
const (
	idUser uint64 = iota + 1
	idEmpEmployment
	idEmpJob
	idFOJobCode
	idFOJobFunction
	idJobProfile
	idSkill
	idCompetency
	idEducation
	idOutsideWork
	idPosition
	idJobRequisition
	idHire
)

// world holds the sizes and row indexes that every generator shares, so
// that references between sets (manager, job code, position) always point
// at records that exist.
type world struct {
	seed      uint64
	users     int
	jobCodes  int
	jobFuncs  int
	profiles  int
	skills    int
	comps     int
	positions int
	reqs      int

	pEmpJob, pJobCode, pJobFunc, pPosition, pEducation, pOutside prefix
}

func newWorld(seed int64, users int) *world {
	w := &world{seed: uint64(seed), users: users}
	w.jobCodes = max(20, users/20)
	w.jobFuncs = max(8, w.jobCodes/10)
	w.profiles = max(20, users/40)
	w.skills = max(50, users/20)
	w.comps = max(30, users/50)
	w.positions = users + max(10, users/10)
	w.reqs = max(10, users/25)
	w.pEmpJob = buildPrefix(users, w.empJobCount)
	w.pJobCode = buildPrefix(w.jobCodes, func(e int) int { r := newRnd(w.seed, idFOJobCode, e); return 1 + r.intn(3) })
	w.pJobFunc = buildPrefix(w.jobFuncs, func(e int) int { r := newRnd(w.seed, idFOJobFunction, e); return 1 + r.intn(2) })
	w.pPosition = buildPrefix(w.positions, func(e int) int { r := newRnd(w.seed, idPosition, e); return 1 + r.intn(2) })
	w.pEducation = buildPrefix(users, func(e int) int { r := newRnd(w.seed, idEducation, e); return r.intn(4) })
	w.pOutside = buildPrefix(users, func(e int) int { r := newRnd(w.seed, idOutsideWork, e); return r.intn(5) })
	return w
}

// hireDay is the hire date of user u; User, EmpEmployment and EmpJob agree.
func (w *world) hireDay(u int) int64 {
	r := newRnd(w.seed, idHire, u)
	return day(1995, 1, 1) + int64(r.intn(30*365))*msPerDay
}

// managerOf returns the index of u's manager, or -1 for the top of the
// tree. Managers always have a lower index, so they exist whatever the size.
func (w *world) managerOf(u int) int {
	if u == 0 {
		return -1
	}
	return (u - 1) / 7
}

// inactive reports whether user u has left the company. The first user,
// the top of the management tree, never has.
func (w *world) inactive(u int) bool {
	if u == 0 {
		return false
	}
	r := newRnd(w.seed, idHire, u)
	r.next()
	return r.chance(5)
}

// stamp returns a deterministic last-modified instant between 2018 and
// 2025, never before created.
func stamp(r *rnd) (created, modified int64) {
	created = day(2018, 1, 1) + int64(r.intn(5*365))*msPerDay + int64(r.intn(86400))*1000
	modified = created + int64(r.intn(3*365))*msPerDay + int64(r.intn(86400))*1000
	return created, modified
}

func jobCodeID(i int) string  { return code("JC", 5, i) }
func jobFuncID(i int) string  { return code("JF", 3, i) }
func positionID(i int) string { return code("POS", 7, i) }

func jobTitle(w *world, jc int) string {
	r := newRnd(w.seed, idFOJobCode, jc)
	r.next()
	return pick(&r, jobAreas) + " " + pick(&r, jobWords)
}

func (w *world) user(es *entitySet, i int) []any {
	r := newRnd(w.seed, idUser, i)
	b := es.newRow()
	id := userID(i)
	fi, li := r.intn(len(firstNames)), r.intn(len(lastNames))
	first, last := firstNames[fi], lastNames[li]
	loc := locations[r.intn(len(locations))]
	jc := r.intn(w.jobCodes)
	username := foldedFirst[fi] + "." + foldedLast[li] + "." + id
	b.set("userId", id)
	b.set("empId", id)
	b.set("username", username)
	b.set("firstName", first)
	b.set("lastName", last)
	b.set("defaultFullName", first+" "+last)
	switch r.intn(4) {
	case 0:
		b.set("mi", "")
	case 1:
		b.set("mi", string(rune('A'+r.intn(26))))
	}
	if r.chance(30) {
		b.set("nickname", first)
	} else if r.chance(10) {
		b.set("nickname", "")
	}
	if !r.chance(3) {
		b.set("email", username+"@sfsim.example")
	}
	b.set("gender", pick(&r, []string{"M", "F", "U", "O"}))
	if w.inactive(i) {
		b.set("status", "f")
	} else {
		b.set("status", "t")
	}
	b.set("hireDate", w.hireDay(i))
	b.set("origHireDate", w.hireDay(i))
	b.set("dateOfBirth", day(1955, 1, 1)+int64(r.intn(45*365))*msPerDay)
	b.set("department", pick(&r, departments))
	b.set("division", pick(&r, divisions))
	b.set("location", loc.code)
	b.set("city", loc.city)
	b.set("country", loc.country)
	b.set("timeZone", loc.tz)
	b.set("defaultLocale", loc.locale)
	title := jobTitle(w, jc)
	b.set("jobCode", jobCodeID(jc))
	b.set("title", title)
	b.set("jobTitle", title)
	b.set("salary", float64(30000+r.intn(150)*1000))
	b.set("localCurrencyCode", pick(&r, []string{"EUR", "USD", "JPY", "PLN", "AED", "BRL"}))
	b.set("married", r.chance(50))
	b.set("keyPosition", r.chance(10))
	b.set("futureLeader", r.chance(5))
	b.set("totalTeamSize", int64(r.intn(12)))
	b.set("compensationSalaryRateUnits", int64(1))
	b.set("businessPhone", "+32 9 "+strconv.Itoa(200000+r.intn(800000)))
	if r.chance(50) {
		b.set("custom01", "Badge #"+strconv.Itoa(r.intn(10000)))
	}
	if r.chance(20) {
		b.set("custom02", "")
	}
	created, mod := stamp(&r)
	_ = created
	b.set("lastModified", mod)
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedWithTZ", mod)
	return b.row
}

func (w *world) empEmployment(es *entitySet, i int) []any {
	r := newRnd(w.seed, idEmpEmployment, i)
	b := es.newRow()
	id := userID(i)
	hire := w.hireDay(i)
	b.set("personIdExternal", id)
	b.set("userId", id)
	b.set("startDate", hire)
	b.set("originalStartDate", hire)
	b.set("seniorityDate", hire)
	b.set("serviceDate", hire)
	b.set("benefitsEligibilityStartDate", hire)
	b.set("firstDateWorked", hire)
	if w.inactive(i) {
		end := hire + int64(200+r.intn(3000))*msPerDay
		b.set("endDate", end)
		b.set("lastDateWorked", end)
		b.set("okToRehire", r.chance(70))
		b.set("regretTermination", r.chance(30))
	}
	b.set("assignmentClass", "ST")
	b.set("isContingentWorker", r.chance(4))
	b.set("isECRecord", true)
	b.set("includeAllRecords", false)
	b.set("employeeFirstEmployment", true)
	b.set("jobNumber", int64(1))
	if r.chance(10) {
		b.set("prevEmployeeId", "")
	}
	created, mod := stamp(&r)
	b.set("createdBy", "admin")
	b.set("createdDateTime", created)
	b.set("createdOn", created)
	b.set("lastModifiedBy", "admin")
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedOn", mod)
	return b.row
}

func (w *world) empJobCount(u int) int {
	r := newRnd(w.seed, idEmpJob, u)
	return 1 + r.intn(4)
}

// empJob builds row j of user u's job history. The history starts at the
// hire date; each later row starts after the previous one ends; the last
// row is open-ended (9999-12-31). Some users have a future-dated change,
// and some a second change on the same day (seqNumber 2).
// jobSlice is the effective-dating part of an EmpJob row.
type jobSlice struct {
	u, j, k    int
	start, end int64
	seq        int64
	hire       int64
}

// empJobSlice computes row i's place in its user's job history without
// building the row, so that date windows can be checked cheaply.
func (w *world) empJobSlice(i int) jobSlice {
	u, j := w.pEmpJob.locate(i)
	r := newRnd(w.seed, idEmpJob, u)
	k := 1 + r.intn(4)
	futureLast := k > 1 && r.chance(15)
	var startsBuf, seqsBuf [4]int64
	starts, seqs := startsBuf[:k], seqsBuf[:k]
	starts[0] = w.hireDay(u)
	seqs[0] = 1
	for x := 1; x < k; x++ {
		if r.chance(8) {
			starts[x] = starts[x-1]
			seqs[x] = seqs[x-1] + 1
			continue
		}
		starts[x] = starts[x-1] + int64(60+r.intn(1200))*msPerDay
		seqs[x] = 1
	}
	if futureLast && starts[k-1] != starts[k-2] {
		starts[k-1] = day(2027, 1, 1) + int64(r.intn(365))*msPerDay
	}
	for x := 1; x < k; x++ {
		if starts[x] < starts[x-1] {
			starts[x] = starts[x-1]
			seqs[x] = seqs[x-1] + 1
		}
	}
	end := farFuture
	for x := j + 1; x < k; x++ {
		if starts[x] != starts[j] {
			end = starts[x] - msPerDay
			break
		}
	}
	if j+1 < k && starts[j+1] == starts[j] {
		// A superseded row of the same day ends that day.
		end = starts[j]
	}
	return jobSlice{u: u, j: j, k: k, start: starts[j], end: end, seq: seqs[j], hire: starts[0]}
}

// empJob builds row j of user u's job history. The history starts at the
// hire date; each later row starts after the previous one ends; the last
// row is open-ended (9999-12-31). Some users have a future-dated change,
// and some a second change on the same day (seqNumber 2).
func (w *world) empJob(es *entitySet, i int) []any {
	sl := w.empJobSlice(i)
	u, j, k := sl.u, sl.j, sl.k
	// Row-specific values come from a generator of their own, so that the
	// history above stays the same for every j.
	rr := newRnd(w.seed, idEmpJob<<8, i)
	b := es.newRow()
	id := userID(u)
	jc := rr.intn(w.jobCodes)
	loc := locations[rr.intn(len(locations))]
	b.set("userId", id)
	b.set("startDate", sl.start)
	b.set("endDate", sl.end)
	b.set("seqNumber", sl.seq)
	b.set("jobCode", jobCodeID(jc))
	b.set("jobTitle", jobTitle(w, jc))
	b.set("position", positionID(u))
	if m := w.managerOf(u); m >= 0 {
		b.set("managerId", userID(m))
	}
	b.set("company", pick(&rr, companies))
	b.set("department", pick(&rr, departments))
	b.set("division", pick(&rr, divisions))
	b.set("businessUnit", pick(&rr, []string{"BU_CORE", "BU_GROWTH"}))
	b.set("costCenter", "CC"+strconv.Itoa(1000+rr.intn(50)))
	b.set("location", loc.code)
	b.set("timezone", loc.tz)
	b.set("countryOfCompany", loc.country)
	b.set("hireDate", sl.hire)
	b.set("jobEntryDate", sl.start)
	b.set("positionEntryDate", sl.hire)
	last := j == k-1
	switch {
	case j == 0:
		b.set("event", "H")
		b.set("eventReason", "HIRNEW")
	case last && w.inactive(u):
		b.set("event", "26")
		b.set("eventReason", "TERM")
		b.set("terminationDate", sl.start)
	default:
		b.set("event", "5")
		b.set("eventReason", pick(&rr, eventReasons))
	}
	if last && w.inactive(u) {
		b.set("emplStatus", "T")
	} else {
		b.set("emplStatus", "A")
	}
	fte := pick(&rr, []float64{1, 1, 1, 0.8, 0.5})
	b.set("fte", fte)
	b.set("isFulltimeEmployee", fte == 1)
	b.set("employeeClass", pick(&rr, []string{"1", "2", "3"}))
	b.set("employmentType", pick(&rr, []string{"FT", "PT", "TEMP"}))
	switch rr.intn(5) {
	case 0:
		b.set("notes", "")
	case 1:
		b.set("notes", "Transfer from R&D — see \"plan\" <v2>")
	}
	created := sl.start + int64(rr.intn(86400))*1000
	_, mod := stamp(&rr)
	if mod < created {
		mod = created + int64(rr.intn(30))*msPerDay
	}
	b.set("createdBy", "admin")
	b.set("createdDateTime", created)
	b.set("createdOn", created)
	b.set("lastModifiedBy", "admin")
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedOn", mod)
	return b.row
}

// history returns the start and end of row j of an entity with k rows
// whose first row starts at first; row starts advance by 1-4 years.
func history(r *rnd, first int64, k, j int) (start, end int64) {
	var buf [4]int64
	starts := buf[:k]
	starts[0] = first
	for x := 1; x < k; x++ {
		starts[x] = starts[x-1] + int64(365+r.intn(3*365))*msPerDay
	}
	end = farFuture
	if j+1 < k {
		end = starts[j+1] - msPerDay
	}
	return starts[j], end
}

func localized(b rowBuilder, field, en string, others map[string]string) {
	b.set(field+"_defaultValue", en)
	b.set(field+"_en_US", en)
	b.set(field+"_localized", en)
	for loc, v := range others {
		b.set(field+"_"+loc, v)
	}
}

func (w *world) foJobCodeDates(i int) (e, j, k int, start, end int64) {
	e, j = w.pJobCode.locate(i)
	r := newRnd(w.seed, idFOJobCode, e)
	k = 1 + r.intn(3)
	first := farPast
	if r.chance(50) {
		first = day(1990, 1, 1) + int64(r.intn(20*365))*msPerDay
	}
	start, end = history(&r, first, k, j)
	return e, j, k, start, end
}

func (w *world) foJobCode(es *entitySet, i int) []any {
	e, j, k, start, end := w.foJobCodeDates(i)
	title := jobTitle(w, e)
	rr := newRnd(w.seed, idFOJobCode<<8, i)
	b := es.newRow()
	b.set("externalCode", jobCodeID(e))
	b.set("startDate", start)
	b.set("endDate", end)
	b.set("name", title)
	localized(b, "name", title, map[string]string{"de_DE": title + " (DE)", "ja_JP": title + "（日本）"})
	if rr.chance(70) {
		b.set("description", "Job code for "+title)
		b.set("description_defaultValue", "Job code for "+title)
	}
	b.set("jobFunction", jobFuncID(e%w.jobFuncs))
	if e >= 10 && rr.chance(30) {
		b.set("parentJobCode", jobCodeID(rr.intn(10)))
	}
	b.set("jobLevel", pick(&rr, []string{"L1", "L2", "L3", "L4", "L5"}))
	b.set("grade", "GR"+strconv.Itoa(1+rr.intn(12)))
	b.set("isFulltimeEmployee", rr.chance(85))
	b.set("isRegular", pick(&rr, []string{"R", "T"}))
	b.set("standardHours", 40.0)
	b.set("employeeClass", pick(&rr, []string{"1", "2", "3"}))
	if j == k-1 && rr.chance(10) {
		b.set("status", "I")
	} else {
		b.set("status", "A")
	}
	created, mod := stamp(&rr)
	b.set("createdBy", "admin")
	b.set("createdDateTime", created)
	b.set("createdOn", created)
	b.set("lastModifiedBy", "admin")
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedOn", mod)
	return b.row
}

func (w *world) foJobFunctionDates(i int) (e int, start, end int64) {
	e, j := w.pJobFunc.locate(i)
	r := newRnd(w.seed, idFOJobFunction, e)
	k := 1 + r.intn(2)
	start, end = history(&r, farPast, k, j)
	return e, start, end
}

func (w *world) foJobFunction(es *entitySet, i int) []any {
	e, start, end := w.foJobFunctionDates(i)
	rr := newRnd(w.seed, idFOJobFunction<<8, i)
	name := functionNames[e%len(functionNames)]
	if e >= len(functionNames) {
		name += " " + strconv.Itoa(e/len(functionNames)+1)
	}
	b := es.newRow()
	b.set("externalCode", jobFuncID(e))
	b.set("startDate", start)
	b.set("endDate", end)
	b.set("name", name)
	localized(b, "name", name, nil)
	b.set("description", "Function: "+name)
	b.set("jobFunctionType", pick(&rr, []string{"CORE", "SUPPORT"}))
	if e >= len(functionNames) {
		b.set("parentFunctionCode", jobFuncID(e%len(functionNames)))
	}
	b.set("status", "A")
	created, mod := stamp(&rr)
	b.set("createdBy", "admin")
	b.set("createdDateTime", created)
	b.set("createdOn", created)
	b.set("lastModifiedBy", "admin")
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedOn", mod)
	return b.row
}

// mdf fills the system fields every MDF object carries.
func mdf(b rowBuilder, r *rnd) {
	created, mod := stamp(r)
	b.set("createdBy", "admin")
	b.set("createdDate", created)
	b.set("createdDateTime", created)
	b.set("lastModifiedBy", "admin")
	b.set("lastModifiedDate", mod)
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedDateWithTZ", mod)
	b.set("effectiveStartDate", farPast)
	b.set("effectiveEndDate", farFuture)
	b.set("mdfSystemRecordStatus", "N")
	b.set("mdfSystemObjectType", b.es.name)
	b.set("transactionSequence", int64(1))
	b.set("mdfSystemVersionId", int64(1+r.intn(5)))
}

func (w *world) jobProfile(es *entitySet, i int) []any {
	r := newRnd(w.seed, idJobProfile, i)
	jc := i % w.jobCodes
	title := jobTitle(w, jc)
	b := es.newRow()
	b.set("externalCode", code("JP", 5, i))
	localized(b, "name", title, map[string]string{"fr_FR": title + " (FR)"})
	localized(b, "shortDesc", "Profile of a "+title, nil)
	if r.chance(50) {
		localized(b, "longDesc", "<p>The "+title+" role &amp; its duties.</p>", nil)
	}
	b.set("status", "A")
	b.set("draft", r.chance(5))
	b.set("migrated", false)
	b.set("role", code("ROLE", 4, jc))
	b.set("lastModifierName", "Admin")
	mdf(b, &r)
	return b.row
}

func (w *world) skill(es *entitySet, i int) []any {
	r := newRnd(w.seed, idSkill, i)
	name := skillNames[i%len(skillNames)]
	if i >= len(skillNames) {
		name += " " + strconv.Itoa(i/len(skillNames)+1)
	}
	b := es.newRow()
	b.set("externalCode", code("SKL", 6, i))
	localized(b, "name", name, nil)
	localized(b, "definition", "Can apply "+name+" at work.", nil)
	localized(b, "category", pick(&r, []string{"Technical", "Business", "Leadership"}), nil)
	if r.chance(60) {
		localized(b, "group", pick(&r, []string{"Digital", "Core", "Compliance"}), nil)
	}
	localized(b, "libName", "SuccessFactors Library", nil)
	for lvl := 1; lvl <= 5; lvl++ {
		localized(b, "proLevel"+strconv.Itoa(lvl), "Level "+strconv.Itoa(lvl), nil)
	}
	b.set("status", pick(&r, []string{"ACTIVE", "ACTIVE", "ACTIVE", "INACTIVE"}))
	mdf(b, &r)
	return b.row
}

func (w *world) competency(es *entitySet, i int) []any {
	r := newRnd(w.seed, idCompetency, i)
	name := competencyNames[i%len(competencyNames)]
	if i >= len(competencyNames) {
		name += " " + strconv.Itoa(i/len(competencyNames)+1)
	}
	b := es.newRow()
	b.set("externalCode", code("COMP", 5, i))
	localized(b, "name", name, nil)
	localized(b, "description", "Shows "+name+".", nil)
	localized(b, "category", pick(&r, []string{"Core", "Leadership", "Functional"}), nil)
	localized(b, "libName", "SuccessFactors Library", nil)
	b.set("core", r.chance(40))
	b.set("collection", false)
	b.set("status", "A")
	mdf(b, &r)
	return b.row
}

// backgroundID is the Int64 backgroundElementId; values pass 2^53 so that
// float parsing would lose them.
func backgroundID(set uint64, i int) int64 {
	return 9007199254740000 + int64(set)<<32 + int64(i)
}

func (w *world) education(es *entitySet, i int) []any {
	u, j := w.pEducation.locate(i)
	r := newRnd(w.seed, idEducation, i)
	b := es.newRow()
	b.set("backgroundElementId", backgroundID(idEducation, i))
	b.set("userId", userID(u))
	b.set("bgOrderPos", int64(j+1))
	b.set("school", pick(&r, schools))
	b.set("degree", pick(&r, degrees))
	if r.chance(80) {
		b.set("major", pick(&r, majors))
	}
	start := w.hireDay(u) - int64(4+2*j+r.intn(4))*365*msPerDay
	b.set("startDate", start)
	b.set("endDate", start+int64(3*365)*msPerDay)
	if r.chance(70) {
		b.set("degreeDate", start+int64(3*365+30)*msPerDay)
	}
	b.set("schoolCountry", locations[r.intn(len(locations))].country)
	if r.chance(20) {
		b.set("schoolCity", "")
	}
	_, mod := stamp(&r)
	b.set("lastModifiedDate", mod)
	return b.row
}

func (w *world) outsideWork(es *entitySet, i int) []any {
	u, j := w.pOutside.locate(i)
	r := newRnd(w.seed, idOutsideWork, i)
	b := es.newRow()
	b.set("backgroundElementId", backgroundID(idOutsideWork, i))
	b.set("userId", userID(u))
	b.set("bgOrderPos", int64(j+1))
	b.set("employer", pick(&r, employers))
	b.set("startTitle", pick(&r, jobAreas)+" "+pick(&r, jobWords))
	b.set("presentEmployer", "No")
	end := w.hireDay(u) - int64(30+j*700)*msPerDay
	b.set("endDate", end)
	b.set("startDate", end-int64(200+r.intn(1500))*msPerDay)
	b.set("employerCity", locations[r.intn(len(locations))].city)
	b.set("employerCountry", locations[r.intn(len(locations))].country)
	if r.chance(30) {
		b.set("businessType", "")
	} else {
		b.set("businessType", pick(&r, []string{"IT", "Retail", "Banking", "Public"}))
	}
	_, mod := stamp(&r)
	b.set("lastModifiedDate", mod)
	return b.row
}

// position builds row j of position e. Positions below the user count are
// held by the user of the same index; the rest are vacant.
func (w *world) positionDates(i int) (e int, start, end int64) {
	e, j := w.pPosition.locate(i)
	r := newRnd(w.seed, idPosition, e)
	k := 1 + r.intn(2)
	first := farPast
	if e < w.users {
		first = w.hireDay(e)
	}
	start, end = history(&r, first, k, j)
	return e, start, end
}

func (w *world) position(es *entitySet, i int) []any {
	e, start, end := w.positionDates(i)
	rr := newRnd(w.seed, idPosition<<8, i)
	jc := rr.intn(w.jobCodes)
	title := jobTitle(w, jc)
	b := es.newRow()
	b.set("code", positionID(e))
	b.set("effectiveStartDate", start)
	b.set("effectiveEndDate", end)
	b.set("effectiveStatus", "A")
	b.set("externalName_defaultValue", title)
	b.set("externalName_en_US", title)
	b.set("externalName_localized", title)
	b.set("jobCode", jobCodeID(jc))
	b.set("jobTitle", title)
	b.set("department", pick(&rr, departments))
	b.set("division", pick(&rr, divisions))
	b.set("businessUnit", pick(&rr, []string{"BU_CORE", "BU_GROWTH"}))
	b.set("company", pick(&rr, companies))
	b.set("location", locations[rr.intn(len(locations))].code)
	b.set("costCenter", "CC"+strconv.Itoa(1000+rr.intn(50)))
	if e < w.users {
		if m := w.managerOf(e); m >= 0 {
			b.set("parentPosition", positionID(m))
		}
	}
	if rr.chance(80) {
		b.set("positionCriticality", pick(&rr, []string{"1", "2", "3"}))
	}
	b.set("multipleIncumbentsAllowed", false)
	b.set("targetFTE", pick(&rr, []string{"1", "1", "0.5", "0.8"}))
	b.set("standardHours", "40")
	b.set("vacant", e >= w.users || w.inactive(e))
	b.set("payGrade", "GR"+strconv.Itoa(1+rr.intn(12)))
	b.set("employeeClass", pick(&rr, []string{"1", "2", "3"}))
	b.set("transactionSequence", int64(1))
	created, mod := stamp(&rr)
	b.set("createdBy", "admin")
	b.set("createdDateTime", created)
	b.set("lastModifiedBy", "admin")
	b.set("lastModifiedDateTime", mod)
	b.set("mdfSystemRecordStatus", "N")
	return b.row
}

func (w *world) jobRequisition(es *entitySet, i int) []any {
	r := newRnd(w.seed, idJobRequisition, i)
	jc := r.intn(w.jobCodes)
	loc := locations[r.intn(len(locations))]
	b := es.newRow()
	b.set("jobReqId", int64(1001+i))
	b.set("templateId", int64(201+r.intn(3)))
	b.set("jobReqGUId", "req"+strconv.Itoa(1001+i))
	b.set("jobCode", jobCodeID(jc))
	b.set("department", pick(&r, departments))
	b.set("division", pick(&r, divisions))
	b.set("location", loc.code)
	b.set("country", loc.country)
	b.set("currency", pick(&r, []string{"EUR", "USD", "JPY"}))
	n := int64(1 + r.intn(5))
	b.set("numberOpenings", n)
	b.set("openingsFilled", int64(r.intn(int(n)+1)))
	b.set("status", pick(&r, []string{"Open", "Open", "Closed", "Filled", "On Hold"}))
	b.set("internalStatus", pick(&r, []string{"Approved", "Pre-Approved"}))
	min := 30000 + r.intn(60)*1000
	b.set("salaryMin", strconv.Itoa(min)+".00")
	b.set("salaryMax", strconv.Itoa(min+r.intn(40)*1000)+".50")
	b.set("isDraft", r.chance(5))
	if r.chance(60) {
		b.set("position", positionID(w.users+r.intn(w.positions-w.users)))
	}
	if r.chance(30) {
		b.set("hiringManagerNote", "Urgent: team of "+strconv.Itoa(2+r.intn(9))+" — 日本語 OK")
	}
	b.set("deleted", "Not Deleted")
	created, mod := stamp(&r)
	b.set("createdDateTime", created)
	b.set("lastModifiedDateTime", mod)
	b.set("lastModifiedBy", userID(r.intn(w.users)))
	return b.row
}
