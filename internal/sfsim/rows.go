package sfsim

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// rnd is a small splitmix64 generator. Each record draws from its own rnd
// seeded by (data seed, entity set, index), so any record can be built
// alone, in any order, without holding the others in memory.
type rnd struct{ s uint64 }

func newRnd(seed uint64, set uint64, i int) rnd {
	r := rnd{s: seed*0x9E3779B97F4A7C15 ^ set<<48 ^ uint64(i)*0xBF58476D1CE4E5B9}
	r.next()
	return r
}

func (r *rnd) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// intn returns a value in [0, n).
func (r *rnd) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// chance reports true with probability pct/100.
func (r *rnd) chance(pct int) bool { return r.intn(100) < pct }

func pick[T any](r *rnd, xs []T) T { return xs[r.intn(len(xs))] }

const msPerDay = 86400000

// day returns the epoch milliseconds of midnight UTC of a calendar date.
func day(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).UnixMilli()
}

var (
	farFuture = day(9999, 12, 31)
	farPast   = day(1900, 1, 1)
)

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Values of a record are held in metadata order as nil, string, int64,
// float64 or bool. Edm.Decimal values are strings; Edm.DateTime and
// Edm.DateTimeOffset values are int64 milliseconds since the epoch.

// rowBuilder fills one record of an entity set by property name.
type rowBuilder struct {
	es  *entitySet
	row []any
}

func (es *entitySet) newRow() rowBuilder {
	return rowBuilder{es: es, row: make([]any, len(es.typ.props))}
}

func (b rowBuilder) set(name string, v any) {
	i, ok := b.es.idx[name]
	if !ok {
		panic("sfsim: " + b.es.name + " has no property " + name)
	}
	b.row[i] = v
}

// Shared vocabulary. Names mix scripts and diacritics on purpose, and a
// quote (O'Neil) and an ampersand (R&D) appear in values that filters use.
var (
	firstNames = []string{
		"Zoë", "José", "Łukasz", "太郎", "Дмитрий", "محمد", "Anna", "Søren",
		"François", "Ngozi", "Priya", "Jürgen", "Siobhán", "Björn", "Aoife",
		"美咲", "Olumide", "Chloé", "Raúl", "Ana María", "John", "Maria", "Wei",
		"Fatima", "Ömer", "Inès", "Kateřina", "Lars", "Noah", "Sofía",
	}
	lastNames = []string{
		"O'Neil", "Müller", "García", "Kowalski", "山田", "Иванов", "العلي",
		"Nguyễn", "Smith", "Dubois", "Janssens", "Peeters", "Ødegaard", "Nowak",
		"Schröder", "Fernández", "Kim", "Singh", "Okafor", "Van den Berg",
		"Łęcka", "Åberg", "佐藤", "Petrov", "Haddad", "Brown", "Rossi", "Silva",
		"Yılmaz", "Cohen",
	}
	departments = []string{"R&D", "SALES", "HR", "FIN", "IT", "OPS", "MKT", "LEGAL", "SUPPLY"}
	divisions   = []string{"CORP", "PRODUCT", "FIELD", "SERVICES"}
	companies   = []string{"ACME_BE", "ACME_US", "ACME_JP", "ACME_PL", "ACME_AE", "ACME_BR"}
	locations   = []struct{ code, city, country, tz, locale string }{
		{"BRU01", "Brussels", "BEL", "Europe/Brussels", "nl_BE"},
		{"NYC02", "New York", "USA", "America/New_York", "en_US"},
		{"TYO01", "東京", "JPN", "Asia/Tokyo", "ja_JP"},
		{"WAW01", "Warszawa", "POL", "Europe/Warsaw", "pl_PL"},
		{"MOW01", "Москва", "RUS", "Europe/Moscow", "ru_RU"},
		{"DXB01", "دبي", "ARE", "Asia/Dubai", "ar_AE"},
		{"SAO01", "São Paulo", "BRA", "America/Sao_Paulo", "pt_BR"},
		{"GHE01", "Gent", "BEL", "Europe/Brussels", "nl_BE"},
	}
	jobWords = []string{
		"Engineer", "Analyst", "Consultant", "Manager", "Specialist", "Architect",
		"Coordinator", "Designer", "Scientist", "Technician", "Accountant", "Recruiter",
	}
	jobAreas = []string{
		"Software", "Data", "Payroll", "Supply Chain", "Sales", "Marketing",
		"Security", "Facilities", "Legal", "Finance", "People", "Quality",
	}
	functionNames = []string{
		"Engineering", "Finance", "Human Resources", "Sales", "Marketing",
		"Operations", "Legal", "Information Technology", "Procurement", "Research",
	}
	skillNames = []string{
		"Go programming", "Data analysis", "Négociation", "プロジェクト管理",
		"Управление проектами", "Public speaking", "Contract law", "SQL",
		"Forecasting", "Customer empathy", "Kubernetes", "Bookkeeping",
		"Statistik", "Cloud security", "Team leadership", "Recruiting",
	}
	competencyNames = []string{
		"Accountability", "Adaptability", "Builds Trust", "Communication",
		"Customer Focus", "Decision Making", "Innovation", "Teamwork",
		"Développement des talents", "Strategic Thinking", "Integrity", "Resilience",
	}
	schools = []string{
		"KU Leuven", "Universidad de Sevilla", "東京大学", "Uniwersytet Warszawski",
		"МГУ", "MIT", "Universidade de São Paulo", "جامعة القاهرة", "ETH Zürich",
		"University of Lagos",
	}
	degrees   = []string{"BSC", "MSC", "BA", "MA", "PHD", "MBA", "HS"}
	majors    = []string{"Computer Science", "Economics", "Law", "Physics", "Psychology", "Mechanical Engineering", "Français"}
	employers = []string{
		"Globex", "Initech", "Umbrella NV", "Stark & Wayne", "Société Générale de Test",
		"株式会社テスト", "ООО Пример", "Hooli", "Vandelay Industries", "O'Reilly Auto",
	}
	eventReasons = []string{"DATACHG", "PROMO", "TRANSFER", "PAYCHG", "LOC"}
)

// foldedFirst and foldedLast hold asciiFold of each name, for user names
// and e-mail addresses.
var foldedFirst, foldedLast = foldAll(firstNames), foldAll(lastNames)

func foldAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = asciiFold(n)
	}
	return out
}

func userID(i int) string { return strconv.Itoa(10000001 + i) }

// userIndex is the inverse of userID; ok is false for an id sfsim never
// generates.
func userIndex(id string) (int, bool) {
	if len(id) != 8 || id[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(id)
	if err != nil || n < 10000001 {
		return 0, false
	}
	return n - 10000001, true
}

func code(prefix string, width, i int) string {
	s := strconv.Itoa(i + 1)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return prefix + s
}

// asciiFold maps a name to a plain lower-case token for user names and
// e-mail addresses; names with no Latin letters fall back to "user".
func asciiFold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case strings.ContainsRune("àáâãäåą", r):
			b.WriteByte('a')
		case strings.ContainsRune("èéêëę", r):
			b.WriteByte('e')
		case strings.ContainsRune("ìíîïı", r):
			b.WriteByte('i')
		case strings.ContainsRune("òóôõöø", r):
			b.WriteByte('o')
		case strings.ContainsRune("ùúûü", r):
			b.WriteByte('u')
		case strings.ContainsRune("çć", r):
			b.WriteByte('c')
		case r == 'ł':
			b.WriteByte('l')
		case r == 'ñ' || r == 'ń':
			b.WriteByte('n')
		case r == 'ř':
			b.WriteByte('r')
		case r == 'ễ':
			b.WriteByte('e')
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

// prefix holds cumulative row counts for sets where one entity has
// several rows (history, or several children per user).
type prefix []int32

func buildPrefix(n int, count func(e int) int) prefix {
	p := make(prefix, n+1)
	for e := 0; e < n; e++ {
		p[e+1] = p[e] + int32(count(e))
	}
	return p
}

func (p prefix) total() int { return int(p[len(p)-1]) }

// locate returns the entity owning row i and the row's position within
// the entity.
func (p prefix) locate(i int) (e, j int) {
	n := len(p) - 1
	e = sort.Search(n, func(e int) bool { return int(p[e+1]) > i })
	return e, i - int(p[e])
}
