package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// The committed facts are what the generator makes of the metadata.
func TestFactsUpToDate(t *testing.T) {
	dir := "../../../../shared/sf/edmx"
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("metadata not at %s: %v", dir, err)
	}
	files := []string{"PLTUserManagement.edmx", "ECEmploymentInformation.edmx",
		"ECFoundationOrganization.edmx", "ECSkillsManagement.edmx", "ECEmployeeProfile.edmx"}
	for i, f := range files {
		files[i] = filepath.Join(dir, f)
	}
	committed, err := os.ReadFile("../../testdata/sf_facts.json")
	if err != nil {
		t.Fatal(err)
	}
	var old Facts
	if err := json.Unmarshal(committed, &old); err != nil {
		t.Fatal(err)
	}
	var sets []string
	for name := range old.EntitySets {
		sets = append(sets, name)
	}
	facts, err := build(files, sets)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(facts)
	b, _ := json.Marshal(&old)
	if !bytes.Equal(a, b) {
		t.Error("testdata/sf_facts.json differs from the metadata; run go generate ./connector/internal/edmxfacts")
	}
	if es := facts.EntitySets["EmpJob"]; es == nil || len(es.Keys) != 3 ||
		es.Properties["startDate"].Type != "Edm.DateTime" || !es.Properties["startDate"].DateOnly {
		t.Errorf("EmpJob facts: %+v", es)
	}
}
