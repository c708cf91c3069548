package sfsim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// queryError is an OData request error rendered as SF's error envelope.
type queryError struct {
	status int
	code   string
	msg    string
}

func (e *queryError) Error() string { return e.msg }

func badQuery(format string, args ...any) *queryError {
	return &queryError{status: 400, code: "COE_BAD_REQUEST", msg: "[COE0026]" + fmt.Sprintf(format, args...)}
}

func propertyNotFound(set, name string) *queryError {
	return &queryError{status: 400, code: "COE_PROPERTY_NOT_FOUND",
		msg: "[COE0021]Invalid property names: " + set + "/" + name + "."}
}

// predicate reports whether a record's values satisfy a $filter.
type predicate func(row []any) bool

type token struct {
	kind byte // 'i' identifier, 's' string, 'n' number, 'd' datetime, 'o' datetimeoffset, 'p' punctuation
	text string
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, token{'p', string(c)})
			i++
		case c == '\'':
			str, n, err := lexString(s[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{'s', str})
			i += n
		case c == '-' || c == '+' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
				j++
			}
			if j < len(s) && strings.ContainsRune("LlMmDdFf", rune(s[j])) {
				j++
			}
			toks = append(toks, token{'n', s[i:j]})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(s) && (isIdentByte(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '/' || s[j] == '.') {
				j++
			}
			word := s[i:j]
			if j < len(s) && s[j] == '\'' {
				switch strings.ToLower(word) {
				case "datetime", "datetimeoffset":
					str, n, err := lexString(s[j:])
					if err != nil {
						return nil, err
					}
					kind := byte('d')
					if strings.ToLower(word) == "datetimeoffset" {
						kind = 'o'
					}
					toks = append(toks, token{kind, str})
					i = j + n
					continue
				}
			}
			toks = append(toks, token{'i', word})
			i = j
		default:
			return nil, badQuery("Invalid filter expression: unexpected character %q.", c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

// lexString reads a quoted literal in which ” stands for one quote.
func lexString(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, nil
	}
	return "", 0, badQuery("Invalid filter expression: unterminated string literal.")
}

type filterParser struct {
	es   *entitySet
	toks []token
	pos  int
}

// parseFilter compiles a $filter expression against an entity set.
func parseFilter(es *entitySet, s string) (predicate, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{es: es, toks: toks}
	pred, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, badQuery("Invalid filter expression: unexpected %q.", p.toks[p.pos].text)
	}
	return pred, nil
}

func (p *filterParser) peekWord(w string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == 'i' && strings.EqualFold(p.toks[p.pos].text, w)
}

func (p *filterParser) peekPunct(c string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == 'p' && p.toks[p.pos].text == c
}

func (p *filterParser) expectPunct(c string) error {
	if !p.peekPunct(c) {
		return badQuery("Invalid filter expression: expected %q.", c)
	}
	p.pos++
	return nil
}

func (p *filterParser) or() (predicate, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peekWord("or") {
		p.pos++
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(row []any) bool { return l(row) || right(row) }
	}
	return left, nil
}

func (p *filterParser) and() (predicate, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.peekWord("and") {
		p.pos++
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(row []any) bool { return l(row) && right(row) }
	}
	return left, nil
}

func (p *filterParser) unary() (predicate, error) {
	if p.peekWord("not") {
		p.pos++
		inner, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(row []any) bool { return !inner(row) }, nil
	}
	if p.peekPunct("(") {
		p.pos++
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		return inner, p.expectPunct(")")
	}
	return p.comparison()
}

// operand is a property reference or a literal.
type operand struct {
	prop int // -1 for a literal
	tok  token
}

func (p *filterParser) operand() (operand, error) {
	if p.pos >= len(p.toks) {
		return operand{}, badQuery("Invalid filter expression: unexpected end.")
	}
	t := p.toks[p.pos]
	p.pos++
	if t.kind == 'p' {
		return operand{}, badQuery("Invalid filter expression: unexpected %q.", t.text)
	}
	if t.kind == 'i' && t.text != "null" && t.text != "true" && t.text != "false" {
		i, ok := p.es.idx[t.text]
		if !ok {
			return operand{}, propertyNotFound(p.es.name, t.text)
		}
		return operand{prop: i}, nil
	}
	return operand{prop: -1, tok: t}, nil
}

var swapped = map[string]string{"eq": "eq", "ne": "ne", "gt": "lt", "ge": "le", "lt": "gt", "le": "ge"}

func (p *filterParser) comparison() (predicate, error) {
	if p.pos+1 < len(p.toks) && p.toks[p.pos].kind == 'i' && p.toks[p.pos+1].text == "(" {
		return p.function()
	}
	left, err := p.operand()
	if err != nil {
		return nil, err
	}
	if p.peekWord("in") {
		p.pos++
		return p.in(left)
	}
	if p.pos >= len(p.toks) || p.toks[p.pos].kind != 'i' {
		return nil, badQuery("Invalid filter expression: comparison operator expected.")
	}
	op := strings.ToLower(p.toks[p.pos].text)
	if _, ok := swapped[op]; !ok {
		return nil, badQuery("Invalid filter expression: unknown operator %q.", op)
	}
	p.pos++
	right, err := p.operand()
	if err != nil {
		return nil, err
	}
	if left.prop < 0 && right.prop >= 0 {
		left, right, op = right, left, swapped[op]
	}
	if left.prop < 0 {
		return nil, badQuery("Invalid filter expression: a comparison needs a property.")
	}
	prop := p.es.typ.props[left.prop]
	li := left.prop
	if right.prop >= 0 {
		ri := right.prop
		return func(row []any) bool { return compareOp(op, compareValues(row[li], row[ri])) }, nil
	}
	lit, err := literal(prop, right.tok)
	if err != nil {
		return nil, err
	}
	return func(row []any) bool {
		v := row[li]
		if v == nil || lit == nil {
			switch op {
			case "eq":
				return v == nil && lit == nil
			case "ne":
				return (v == nil) != (lit == nil)
			}
			return false
		}
		return compareOp(op, compareValues(v, lit))
	}, nil
}

func (p *filterParser) in(left operand) (predicate, error) {
	if left.prop < 0 {
		return nil, badQuery("Invalid filter expression: in needs a property.")
	}
	prop := p.es.typ.props[left.prop]
	paren := p.peekPunct("(")
	if paren {
		p.pos++
	}
	var lits []any
	for {
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		if o.prop >= 0 {
			return nil, badQuery("Invalid filter expression: in takes literals.")
		}
		lit, err := literal(prop, o.tok)
		if err != nil {
			return nil, err
		}
		lits = append(lits, lit)
		if !p.peekPunct(",") {
			break
		}
		p.pos++
	}
	if paren {
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
	}
	li := left.prop
	return func(row []any) bool {
		for _, l := range lits {
			if row[li] != nil && l != nil && compareValues(row[li], l) == 0 {
				return true
			}
		}
		return false
	}, nil
}

// function handles startswith, endswith, substringof and tolower/toupper
// comparisons; a boolean function may be followed by "eq true".
func (p *filterParser) function() (predicate, error) {
	name := strings.ToLower(p.toks[p.pos].text)
	p.pos += 2
	var args []operand
	for !p.peekPunct(")") {
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		args = append(args, o)
		if p.peekPunct(",") {
			p.pos++
		}
	}
	p.pos++
	if len(args) != 2 {
		return nil, badQuery("Invalid filter expression: function %s takes two arguments.", name)
	}
	prop, lit := args[0], args[1]
	if name == "substringof" {
		prop, lit = args[1], args[0]
	}
	if prop.prop < 0 || lit.prop >= 0 || lit.tok.kind != 's' {
		return nil, badQuery("Invalid filter expression: %s(property, 'text') expected.", name)
	}
	var test func(string) bool
	switch name {
	case "startswith":
		test = func(s string) bool { return strings.HasPrefix(s, lit.tok.text) }
	case "endswith":
		test = func(s string) bool { return strings.HasSuffix(s, lit.tok.text) }
	case "substringof":
		test = func(s string) bool { return strings.Contains(s, lit.tok.text) }
	default:
		return nil, badQuery("Invalid filter expression: unsupported function %s.", name)
	}
	li := prop.prop
	pred := predicate(func(row []any) bool {
		s, ok := row[li].(string)
		return ok && test(s)
	})
	if p.peekWord("eq") || p.peekWord("ne") {
		neg := p.peekWord("ne")
		p.pos++
		o, err := p.operand()
		if err != nil {
			return nil, err
		}
		want := o.tok.text == "true"
		if o.prop >= 0 || (o.tok.text != "true" && o.tok.text != "false") {
			return nil, badQuery("Invalid filter expression: boolean expected.")
		}
		if want == neg {
			inner := pred
			pred = func(row []any) bool { return !inner(row) }
		}
	}
	return pred, nil
}

// literal converts a filter literal to the Go value a property of type
// p holds, so comparisons need no conversion per record.
func literal(p property, t token) (any, error) {
	if t.kind == 'i' && t.text == "null" {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, &queryError{status: 400, code: "COE_BAD_PROPERTY_VALUE",
			msg: fmt.Sprintf("[COE0019]Invalid value %q for property %s of type %s.", t.text, p.name, p.typ)}
	}
	switch p.typ {
	case tString:
		if t.kind != 's' {
			return bad()
		}
		return t.text, nil
	case tInt32, tInt64:
		if t.kind != 'n' && t.kind != 's' {
			return bad()
		}
		n, err := strconv.ParseInt(strings.TrimRight(t.text, "Ll"), 10, 64)
		if err != nil {
			return bad()
		}
		return n, nil
	case tDecimal, tDouble:
		if t.kind != 'n' && t.kind != 's' {
			return bad()
		}
		f, err := strconv.ParseFloat(strings.TrimRight(t.text, "MmDdFf"), 64)
		if err != nil {
			return bad()
		}
		return f, nil
	case tBoolean:
		if t.kind != 'i' || (t.text != "true" && t.text != "false") {
			return bad()
		}
		return t.text == "true", nil
	case tDateTime, tDateTimeOffset:
		if t.kind != 'd' && t.kind != 'o' {
			return bad()
		}
		ms, ok := parseLiteralTime(t.text, t.kind == 'o')
		if !ok {
			return bad()
		}
		return ms, nil
	}
	return bad()
}

// parseLiteralTime reads the text of a datetime'..' (a wall-clock time,
// which sfsim's data centre keeps in UTC) or datetimeoffset'..' literal.
func parseLiteralTime(s string, offset bool) (int64, bool) {
	layouts := []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"}
	if offset {
		layouts = []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	if !offset {
		// SF also accepts a zone on datetime literals; honour it.
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixMilli(), true
		}
	}
	return 0, false
}

func compareOp(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	}
	return false
}

// compareValues orders two record values; nil sorts first. Decimal values
// (strings in a record) compare numerically with float literals.
func compareValues(a, b any) int {
	if a == nil || b == nil {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return -1
		}
		return 1
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return strings.Compare(x, y)
		case float64:
			f, _ := strconv.ParseFloat(x, 64)
			return cmpFloat(f, y)
		}
	case int64:
		switch y := b.(type) {
		case int64:
			return cmpInt(x, y)
		case float64:
			return cmpFloat(float64(x), y)
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmpFloat(x, y)
		case int64:
			return cmpFloat(x, float64(y))
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0
			case !x:
				return -1
			}
			return 1
		}
	}
	return 0
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
