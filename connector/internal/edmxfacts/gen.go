package main

// The facts the connector's tests check the default catalog against.
//go:generate go run . -o ../../testdata/sf_facts.json ../../../../shared/sf/edmx/PLTUserManagement.edmx ../../../../shared/sf/edmx/ECEmploymentInformation.edmx ../../../../shared/sf/edmx/ECFoundationOrganization.edmx ../../../../shared/sf/edmx/ECSkillsManagement.edmx ../../../../shared/sf/edmx/ECEmployeeProfile.edmx -- User EmpEmployment EmpJob FOJobCode FOJobFunction JobProfile SkillContent CompetencyContent CompetencyEntity SkillEntity Background_Education Background_OutsideWorkExperience
