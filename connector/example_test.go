package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/techwolf/sfconnector/connector"
	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/staging"
)

// Counting pages and records with an observer, as a metrics exporter
// would, during a run against the SF simulator.
func ExampleObserverFuncs() {
	sim := sfsim.New(sfsim.Options{Users: 120})
	srv := httptest.NewTLSServer(sim.Handler())
	defer srv.Close()

	// The credential lives in a directory keystore, as a mounted secret.
	secrets, _ := os.MkdirTemp("", "secrets")
	defer os.RemoveAll(secrets)
	cred := sim.NewCredential(srv.URL)
	doc, _ := json.Marshal(map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
	})
	os.WriteFile(filepath.Join(secrets, "sf-cred"), doc, 0o600)

	cfg, err := connector.LoadTenantConfig(strings.NewReader(`{
	  "SF_address": "` + srv.URL + `",
	  "SF_credential_name": "sf-cred",
	  "S3_bucket": "example-bucket", "S3_region": "eu-west-1", "S3_base_path": "acme",
	  "S3_access_key_alias": "s3-access", "S3_secret_key_alias": "s3-secret"}`))
	if err != nil {
		fmt.Println(err)
		return
	}

	// Pages go to a local directory here instead of the tenant's bucket.
	dir, _ := os.MkdirTemp("", "staging")
	defer os.RemoveAll(dir)
	store, _ := staging.NewDirStore(dir)
	defer store.Close()

	var pages, records atomic.Int64
	c, err := connector.NewFromTenant(context.Background(), cfg, connector.DirKeystore{Dir: secrets}, &connector.Options{
		Store:      store,
		HTTPClient: srv.Client(), // trusts the simulator's test certificate
		Observer: connector.ObserverFuncs{
			OnPageWritten: func(e connector.PageEvent) {
				pages.Add(1)
				records.Add(e.Records)
			},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	rec, err := c.Run(context.Background(), "users")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Status, pages.Load(), "page,", records.Load(), "records")
	// Output: done 1 page, 120 records
}

// Every problem of a tenant config is reported at once.
func ExampleLoadTenantConfig() {
	_, err := connector.LoadTenantConfig(strings.NewReader(`{
	  "SF_address": "http://api.example-sf.test",
	  "SF_credential_name": "sf-cred",
	  "S3_bucket": "Example_Bucket", "S3_region": "eu-west-1", "S3_base_path": "/acme",
	  "S3_access_key_alias": "s3-access", "S3_secret_key_alias": "s3-secret",
	  "S3_endpiont": "https://s3.example.test"}`))
	for _, p := range err.(*connector.ConfigError).Problems {
		fmt.Println(p)
	}
	// Output:
	// unknown field "S3_endpiont"
	// SF_address: must use https (http is allowed only on loopback, and only when asked for)
	// S3_bucket: "Example_Bucket": only lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit
	// S3_base_path: "/acme": leading slash
}

// A record as SF sends it, and the line staged from it: dates by their
// EDM type, Int64 as the string SF sent, metadata and deferred links gone.
func ExampleDataType_Transformer() {
	jobs, _ := connector.DefaultCatalog().Lookup("job_information")
	line, _, err := jobs.Transformer().Append(nil, []byte(`{
	  "__metadata": {"uri": "https://api.example-sf.test/odata/v2/EmpJob(seqNumber=1L,startDate=datetime'2020-03-02T00:00:00',userId='jdoe')"},
	  "userId": "jdoe", "seqNumber": "1", "startDate": "/Date(1583107200000)/",
	  "fte": 1.0, "lastModifiedDateTime": "/Date(1618796144000+0000)/",
	  "employmentNav": {"__deferred": {"uri": "https://api.example-sf.test/odata/v2/EmpJob/employmentNav"}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(line))
	// Output: {"userId":"jdoe","seqNumber":"1","startDate":"2020-03-02","fte":1.0,"lastModifiedDateTime":"2021-04-19T01:35:44Z"}
}
