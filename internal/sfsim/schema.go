package sfsim

import (
	"sort"
	"strings"
)

// edmType is the EDM type of a property; it decides how a value is
// rendered on the wire and how filter literals compare with it.
type edmType uint8

const (
	tString edmType = iota
	tInt32
	tInt64
	tDecimal
	tDouble
	tBoolean
	tDateTime
	tDateTimeOffset
)

// String returns the EDM name of the type.
func (t edmType) String() string {
	switch t {
	case tInt32:
		return "Edm.Int32"
	case tInt64:
		return "Edm.Int64"
	case tDecimal:
		return "Edm.Decimal"
	case tDouble:
		return "Edm.Double"
	case tBoolean:
		return "Edm.Boolean"
	case tDateTime:
		return "Edm.DateTime"
	case tDateTimeOffset:
		return "Edm.DateTimeOffset"
	}
	return "Edm.String"
}

type property struct {
	name     string
	typ      edmType
	nullable bool
	dateOnly bool
}

// entityType is the metadata of one entity type: its key properties, its
// properties in metadata order and its navigation properties.
type entityType struct {
	name  string
	keys  []string
	props []property
	navs  []string
}

// positionType and jobRequisitionType are not in the metadata files we
// carry; their property names follow SF's documentation of the MDF
// Position object and the Recruiting JobRequisition entity.
var positionType = entityType{
	name: "Position",
	keys: []string{"code", "effectiveStartDate"},
	props: []property{
		{name: "code", typ: tString},
		{name: "effectiveStartDate", typ: tDateTime, dateOnly: true},
		{name: "effectiveEndDate", typ: tDateTime, nullable: true, dateOnly: true},
		{name: "effectiveStatus", typ: tString, nullable: true},
		{name: "externalName_defaultValue", typ: tString, nullable: true},
		{name: "externalName_en_US", typ: tString, nullable: true},
		{name: "externalName_localized", typ: tString, nullable: true},
		{name: "jobCode", typ: tString, nullable: true},
		{name: "jobTitle", typ: tString, nullable: true},
		{name: "department", typ: tString, nullable: true},
		{name: "division", typ: tString, nullable: true},
		{name: "businessUnit", typ: tString, nullable: true},
		{name: "company", typ: tString, nullable: true},
		{name: "location", typ: tString, nullable: true},
		{name: "costCenter", typ: tString, nullable: true},
		{name: "parentPosition", typ: tString, nullable: true},
		{name: "positionCriticality", typ: tString, nullable: true},
		{name: "multipleIncumbentsAllowed", typ: tBoolean, nullable: true},
		{name: "targetFTE", typ: tDecimal, nullable: true},
		{name: "standardHours", typ: tDecimal, nullable: true},
		{name: "vacant", typ: tBoolean, nullable: true},
		{name: "payGrade", typ: tString, nullable: true},
		{name: "employeeClass", typ: tString, nullable: true},
		{name: "transactionSequence", typ: tInt64, nullable: true},
		{name: "createdBy", typ: tString, nullable: true},
		{name: "createdDateTime", typ: tDateTimeOffset, nullable: true},
		{name: "lastModifiedBy", typ: tString, nullable: true},
		{name: "lastModifiedDateTime", typ: tDateTimeOffset, nullable: true},
		{name: "mdfSystemRecordStatus", typ: tString, nullable: true},
	},
	navs: []string{"parentPositionNav", "jobCodeNav", "companyNav", "departmentNav"},
}

var jobRequisitionType = entityType{
	name: "JobRequisition",
	keys: []string{"jobReqId"},
	props: []property{
		{name: "jobReqId", typ: tInt64},
		{name: "templateId", typ: tInt64, nullable: true},
		{name: "jobReqGUId", typ: tString, nullable: true},
		{name: "jobCode", typ: tString, nullable: true},
		{name: "department", typ: tString, nullable: true},
		{name: "division", typ: tString, nullable: true},
		{name: "location", typ: tString, nullable: true},
		{name: "country", typ: tString, nullable: true},
		{name: "currency", typ: tString, nullable: true},
		{name: "numberOpenings", typ: tInt64, nullable: true},
		{name: "openingsFilled", typ: tInt64, nullable: true},
		{name: "status", typ: tString, nullable: true},
		{name: "internalStatus", typ: tString, nullable: true},
		{name: "salaryMin", typ: tDecimal, nullable: true},
		{name: "salaryMax", typ: tDecimal, nullable: true},
		{name: "isDraft", typ: tBoolean, nullable: true},
		{name: "position", typ: tString, nullable: true},
		{name: "hiringManagerNote", typ: tString, nullable: true},
		{name: "deleted", typ: tString, nullable: true},
		{name: "createdDateTime", typ: tDateTimeOffset, nullable: true},
		{name: "lastModifiedDateTime", typ: tDateTimeOffset, nullable: true},
		{name: "lastModifiedBy", typ: tString, nullable: true},
	},
	navs: []string{"jobReqLocale", "hiringManager", "recruiter"},
}

// propIndex maps property names to their position in props.
func (t *entityType) propIndex() map[string]int {
	m := make(map[string]int, len(t.props))
	for i, p := range t.props {
		m[p.name] = i
	}
	return m
}

// setNames returns the entity set names in sorted order.
func setNames(sets map[string]*entitySet) []string {
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// appendKeyLiteral writes a key value the way SF writes it in an entity
// URI: strings quoted with doubled quotes, Int64 with an L suffix,
// DateTime as datetime'...'.
func appendKeyLiteral(b []byte, p property, v any) []byte {
	switch p.typ {
	case tInt64:
		b = appendInt(b, v)
		return append(b, 'L')
	case tInt32:
		return appendInt(b, v)
	case tDateTime, tDateTimeOffset:
		ms, _ := v.(int64)
		b = append(b, "datetime'"...)
		b = msTime(ms).AppendFormat(b, "2006-01-02T15:04:05")
		return append(b, '\'')
	}
	s, _ := v.(string)
	b = append(b, '\'')
	b = append(b, strings.ReplaceAll(s, "'", "''")...)
	return append(b, '\'')
}
