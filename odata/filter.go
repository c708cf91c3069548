package odata

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Lit is an OData V2 literal for a $filter expression or an entity key.
// Build one with [String], [Int], [Int64], [Decimal], [Double], [Bool],
// [DateTime], [DateTimeOffset] or [Null]; the zero Lit is null.
type Lit struct{ text string }

// String returns the literal as it appears in a filter, before URL
// encoding.
func (l Lit) String() string {
	if l.text == "" {
		return "null"
	}
	return l.text
}

// String quotes s as an OData string literal, doubling single quotes (the
// example is a code block so that doc formatting keeps both apostrophes):
//
//	String("O'Neil") // 'O''Neil'
func String(s string) Lit { return Lit{"'" + strings.ReplaceAll(s, "'", "''") + "'"} }

// Int is an Edm.Int32 (or smaller) literal.
func Int(i int) Lit { return Lit{strconv.Itoa(i)} }

// Int64 is an Edm.Int64 literal, written with the L suffix OData V2 asks
// for: 130166L.
func Int64(i int64) Lit { return Lit{strconv.FormatInt(i, 10) + "L"} }

// Decimal is an Edm.Decimal literal from its exact decimal text, written
// with the M suffix: "200.20" becomes 200.20M. Text that is not a plain
// decimal number becomes null, which matches nothing.
func Decimal(s string) Lit {
	if !isDecimal(s) {
		return Null()
	}
	return Lit{s + "M"}
}

// Double is an Edm.Double literal. NaN and infinities become null.
func Double(f float64) Lit {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Null()
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return Lit{s}
}

// Bool is an Edm.Boolean literal.
func Bool(b bool) Lit { return Lit{strconv.FormatBool(b)} }

// Null is the null literal.
func Null() Lit { return Lit{} }

// DateTime is an Edm.DateTime literal, datetime'2024-01-01T00:00:00'. SF
// reads it as wall-clock time in the data centre's zone, so the clock
// reading of t in its own location is written, without a zone.
func DateTime(t time.Time) Lit { return Lit{"datetime'" + FormatDateTime(t) + "'"} }

// DateTimeOffset is an Edm.DateTimeOffset literal in UTC,
// datetimeoffset'2024-01-01T00:00:00Z'. Use it for lastModifiedDateTime.
func DateTimeOffset(t time.Time) Lit {
	return Lit{"datetimeoffset'" + FormatDateTimeOffset(t) + "'"}
}

// Eq returns "property eq v".
func Eq(property string, v Lit) string { return compare(property, "eq", v) }

// Ne returns "property ne v".
func Ne(property string, v Lit) string { return compare(property, "ne", v) }

// Gt returns "property gt v".
func Gt(property string, v Lit) string { return compare(property, "gt", v) }

// Ge returns "property ge v".
func Ge(property string, v Lit) string { return compare(property, "ge", v) }

// Lt returns "property lt v".
func Lt(property string, v Lit) string { return compare(property, "lt", v) }

// Le returns "property le v".
func Le(property string, v Lit) string { return compare(property, "le", v) }

// In returns SF's "property in v1,v2,..." (keep such lists short: long
// URLs break gateways).
func In(property string, vs ...Lit) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = v.String()
	}
	return property + " in " + strings.Join(parts, ",")
}

func compare(property, op string, v Lit) string {
	return property + " " + op + " " + v.String()
}

// And joins expressions with "and", parenthesising each when there are
// several. Empty expressions are skipped.
func And(exprs ...string) string { return join("and", exprs) }

// Or joins expressions with "or", parenthesising each when there are
// several. Empty expressions are skipped.
func Or(exprs ...string) string { return join("or", exprs) }

// Not negates an expression.
func Not(expr string) string { return "not (" + expr + ")" }

func join(op string, exprs []string) string {
	var kept []string
	for _, e := range exprs {
		if e != "" {
			kept = append(kept, e)
		}
	}
	if len(kept) == 1 {
		return kept[0]
	}
	for i, e := range kept {
		kept[i] = "(" + e + ")"
	}
	return strings.Join(kept, " "+op+" ")
}

// isDecimal reports whether s is [-]digits[.digits].
func isDecimal(s string) bool {
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
