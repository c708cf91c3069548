package sfsim

import (
	"net/http"
	"strings"
)

// metadataDoc renders an EDMX document for the given entity sets, in the
// shape of SF's $metadata: the types in schema SFOData, the container in
// SFODataSet, and sap:display-format="Date" on date-only properties.
// Navigation properties are left out: their associations are not modelled.
func metadataDoc(sets []*entitySet) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"` +
		` xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"` +
		` xmlns:sap="http://www.successfactors.com/edm/sap">` + "\n")
	b.WriteString(`<edmx:DataServices m:DataServiceVersion="2.0">` + "\n")
	b.WriteString(`<Schema Namespace="SFOData" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">` + "\n")
	for _, es := range sets {
		b.WriteString(`<EntityType Name="` + es.typ.name + `"><Key>`)
		for _, k := range es.typ.keys {
			b.WriteString(`<PropertyRef Name="` + k + `"/>`)
		}
		b.WriteString("</Key>\n")
		for _, p := range es.typ.props {
			b.WriteString(`<Property Name="` + p.name + `" Type="` + p.typ.String() + `"`)
			if !p.nullable {
				b.WriteString(` Nullable="false"`)
			}
			if p.dateOnly {
				b.WriteString(` sap:display-format="Date"`)
			}
			b.WriteString(` sap:filterable="true" sap:sortable="true"/>` + "\n")
		}
		b.WriteString("</EntityType>\n")
	}
	b.WriteString("</Schema>\n")
	b.WriteString(`<Schema Namespace="SFODataSet" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">` + "\n")
	b.WriteString(`<EntityContainer Name="EntityContainer" m:IsDefaultEntityContainer="true">` + "\n")
	for _, es := range sets {
		b.WriteString(`<EntitySet Name="` + es.name + `" EntityType="SFOData.` + es.typ.name + `"/>` + "\n")
	}
	b.WriteString("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n")
	return []byte(b.String())
}

func (s *Server) serveMetadata(w http.ResponseWriter, sets []*entitySet) {
	w.Header().Set("Content-Type", "application/xml;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(metadataDoc(sets))
}
