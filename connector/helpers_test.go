package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// simEnv is a simulator served over TLS with a credential in a directory
// keystore, and a tenant config pointing at it.
type simEnv struct {
	sim      *sfsim.Server
	srv      *httptest.Server
	keystore DirKeystore
	cfg      *TenantConfig
}

func startSim(t testing.TB, opts sfsim.Options) *simEnv {
	t.Helper()
	if opts.Users == 0 {
		opts.Users = 120
	}
	sim := sfsim.New(opts)
	srv := httptest.NewTLSServer(sim.Handler())
	t.Cleanup(srv.Close)
	cred := sim.NewCredential(srv.URL)

	dir := t.TempDir()
	doc, _ := json.Marshal(map[string]string{
		"companyId": cred.CompanyID, "clientId": cred.ClientID, "userId": cred.UserID,
		"privateKey": string(cred.KeyPEM), "certificate": string(cred.CertPEM),
	})
	writeFile(t, filepath.Join(dir, "sf-cred"), doc)
	writeFile(t, filepath.Join(dir, "s3-access"), []byte("unused"))
	writeFile(t, filepath.Join(dir, "s3-secret"), []byte("unused"))
	return &simEnv{
		sim: sim, srv: srv, keystore: DirKeystore{Dir: dir},
		cfg: &TenantConfig{
			SFAddress: srv.URL, SFCredentialName: "sf-cred",
			S3Bucket: "staging-test", S3Region: "us-east-1", S3BasePath: "tenants/test",
			S3AccessKeyAlias: "s3-access", S3SecretKeyAlias: "s3-secret",
		},
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// connector builds a connector on the simulator and a fresh DirStore.
func (e *simEnv) connector(t testing.TB, opts Options) (*Connector, staging.Store) {
	t.Helper()
	if opts.Store == nil {
		store, err := staging.NewDirStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		opts.Store = store
	}
	opts.HTTPClient = e.srv.Client()
	if opts.OData == nil {
		opts.OData = fastRetries()
	}
	c, err := NewFromTenant(context.Background(), e.cfg, e.keystore, &opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, opts.Store
}

// smallPages returns the default catalog with every page size set to n,
// so that small data still spans several pages.
func smallPages(t testing.TB, n int) *Catalog {
	t.Helper()
	base := DefaultCatalog()
	var types []*DataType
	for _, name := range base.Names() {
		d, _ := base.Lookup(name)
		d.PageSize = n
		types = append(types, d)
	}
	c, err := NewCatalog(types...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stagedLines reads back the records of a done run as the ingestion side
// does, each in canonical form.
func stagedLines(t testing.TB, store staging.Store, basePath string, rec *runstate.Record) []string {
	t.Helper()
	r := runstate.NewReader(store, staging.Layout{BasePath: basePath})
	var out []string
	for raw, err := range r.Records(context.Background(), rec) {
		if err != nil {
			t.Fatalf("reading run %s: %v", rec.RunID, err)
		}
		out = append(out, canonical(t, raw))
	}
	return out
}

// expectedLines is what a data type's run should stage from the
// simulator's records: the selected properties, through the reference
// transform.
func expectedLines(t testing.TB, d *DataType, recs []map[string]any) []string {
	t.Helper()
	var out []string
	for _, m := range recs {
		if len(d.Select) > 0 {
			sel := map[string]any{"__metadata": m["__metadata"]}
			for _, p := range d.Select {
				if v, ok := m[p]; ok {
					sel[p] = v
				}
			}
			m = sel
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		line, err := refTransform(d, raw)
		if err != nil {
			t.Fatalf("reference transform of %s: %v", raw, err)
		}
		out = append(out, canonical(t, line))
	}
	return out
}

// canonical re-encodes a JSON object with sorted keys, numbers as float64:
// the simulator's Records decodes numbers that way.
func canonical(t testing.TB, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("bad JSON %q: %v", raw, err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return string(bytes.TrimSpace(b.Bytes()))
}

func sameLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	slices.Sort(want)
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: staged %d records, want %d", what, len(got), len(want))
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("first difference at %d:\n got  %s\n want %s", i, g, w)
			return
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
