// Command edmxfacts reduces SuccessFactors EDMX metadata documents to a
// compact table of facts: for each named entity set, its entity type, key
// properties, and each property's EDM type, with the annotations the
// connector relies on (date-only display format, filterable, sortable).
// Navigation properties are listed with the entity type they lead to.
//
// It keeps facts only; labels and documentation text are dropped.
//
// Usage:
//
//	edmxfacts -o facts.json file.edmx... -- EntitySet...
package main

import (
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Facts is the output document.
type Facts struct {
	// Schema is the version of this document's layout.
	Schema int `json:"schema"`
	// Source holds the base names of the EDMX files read, in order.
	Source []string `json:"source"`
	// EntitySets holds the requested entity sets by name.
	EntitySets map[string]*EntitySet `json:"entitySets"`
}

// EntitySet is what the connector needs to know about one entity set.
type EntitySet struct {
	// EntityType is the namespace-qualified name of the set's entity type.
	EntityType string `json:"entityType"`
	// Keys lists the names of the key properties, sorted.
	Keys []string `json:"keys"`
	// Properties holds each property's facts by property name.
	Properties map[string]*Property `json:"properties"`
	// Navigation maps each navigation property to the qualified entity
	// type it leads to ("" when its association is not found).
	Navigation map[string]string `json:"navigation,omitempty"`
}

// Property is one property's type and annotations.
type Property struct {
	// Type is the EDM type name, such as "Edm.String".
	Type string `json:"type"`
	// DateOnly reports that SF displays the value as a date without time.
	DateOnly bool `json:"dateOnly,omitempty"`
	// NotFilterable reports that the property cannot appear in $filter.
	NotFilterable bool `json:"notFilterable,omitempty"`
	// NotSortable reports that the property cannot appear in $orderby.
	NotSortable bool `json:"notSortable,omitempty"`
}

type edmx struct {
	Schemas []schema `xml:"DataServices>Schema"`
}

type schema struct {
	Namespace    string        `xml:"Namespace,attr"`
	EntityTypes  []entityType  `xml:"EntityType"`
	Associations []association `xml:"Association"`
	Containers   []struct {
		Sets []struct {
			Name       string `xml:"Name,attr"`
			EntityType string `xml:"EntityType,attr"`
		} `xml:"EntitySet"`
	} `xml:"EntityContainer"`
}

type entityType struct {
	Name string `xml:"Name,attr"`
	Keys []struct {
		Name string `xml:"Name,attr"`
	} `xml:"Key>PropertyRef"`
	Properties []struct {
		Name  string     `xml:"Name,attr"`
		Type  string     `xml:"Type,attr"`
		Attrs []xml.Attr `xml:",any,attr"`
	} `xml:"Property"`
	Navigation []struct {
		Name         string `xml:"Name,attr"`
		Relationship string `xml:"Relationship,attr"`
		ToRole       string `xml:"ToRole,attr"`
	} `xml:"NavigationProperty"`
}

type association struct {
	Name string `xml:"Name,attr"`
	Ends []struct {
		Role string `xml:"Role,attr"`
		Type string `xml:"Type,attr"`
	} `xml:"End"`
}

func main() {
	out := flag.String("o", "", "output file (default stdout)")
	flag.Parse()

	var files, sets []string
	args := flag.Args()
	for i, a := range args {
		if a == "--" {
			files, sets = args[:i], args[i+1:]
			break
		}
	}
	if len(files) == 0 || len(sets) == 0 {
		fmt.Fprintln(os.Stderr, "usage: edmxfacts -o out.json file.edmx... -- EntitySet...")
		os.Exit(2)
	}

	facts, err := build(files, sets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "edmxfacts:", err)
		os.Exit(1)
	}
	b, err := json.MarshalIndent(facts, "", " ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "edmxfacts:", err)
		os.Exit(1)
	}
	b = append(b, '\n')
	if *out == "" {
		os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "edmxfacts:", err)
		os.Exit(1)
	}
}

func build(files, sets []string) (*Facts, error) {
	types := map[string]*entityType{}   // qualified name -> type
	assocs := map[string]*association{} // qualified name -> association
	setTypes := map[string]string{}     // entity set -> qualified type
	facts := &Facts{Schema: 1, EntitySets: map[string]*EntitySet{}}

	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var doc edmx
		if err := xml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		facts.Source = append(facts.Source, filepath.Base(f))
		for si := range doc.Schemas {
			s := &doc.Schemas[si]
			for i := range s.EntityTypes {
				types[s.Namespace+"."+s.EntityTypes[i].Name] = &s.EntityTypes[i]
			}
			for i := range s.Associations {
				assocs[s.Namespace+"."+s.Associations[i].Name] = &s.Associations[i]
			}
			for _, c := range s.Containers {
				for _, es := range c.Sets {
					setTypes[es.Name] = es.EntityType
				}
			}
		}
	}

	for _, name := range sets {
		qt, ok := setTypes[name]
		if !ok {
			return nil, fmt.Errorf("entity set %q not found", name)
		}
		et, ok := types[qt]
		if !ok {
			return nil, fmt.Errorf("entity type %q not found", qt)
		}
		es := &EntitySet{EntityType: qt, Properties: map[string]*Property{}}
		for _, k := range et.Keys {
			es.Keys = append(es.Keys, k.Name)
		}
		sort.Strings(es.Keys)
		for _, p := range et.Properties {
			prop := &Property{Type: p.Type}
			for _, a := range p.Attrs {
				switch a.Name.Local {
				case "display-format":
					prop.DateOnly = strings.EqualFold(a.Value, "Date")
				case "filterable":
					prop.NotFilterable = a.Value == "false"
				case "sortable":
					prop.NotSortable = a.Value == "false"
				}
			}
			es.Properties[p.Name] = prop
		}
		for _, n := range et.Navigation {
			if es.Navigation == nil {
				es.Navigation = map[string]string{}
			}
			es.Navigation[n.Name] = navTarget(assocs, n.Relationship, n.ToRole)
		}
		facts.EntitySets[name] = es
	}
	return facts, nil
}

func navTarget(assocs map[string]*association, rel, role string) string {
	a, ok := assocs[rel]
	if !ok {
		return ""
	}
	for _, e := range a.Ends {
		if e.Role == role {
			return e.Type
		}
	}
	return ""
}
