package connector

import (
	"context"
	"testing"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

func fastRetries() *odata.Options {
	return &odata.Options{Retry: odata.RetryPolicy{
		MaxAttempts: 3, BaseDelay: 5 * 1e6, MaxDelay: 50 * 1e6, DefaultRetryAfter: 10 * 1e6,
	}}
}

func TestRunStagesEveryDefaultDataType(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 60, Seed: 7})
	cat := smallPages(t, 40)
	c, store := env.connector(t, Options{Catalog: cat})
	ctx := context.Background()

	for _, name := range cat.Names() {
		t.Run(name, func(t *testing.T) {
			d, _ := cat.Lookup(name)
			rec, err := c.Run(ctx, name)
			if err != nil {
				t.Fatalf("Run: %v (record %+v)", err, rec)
			}
			if rec.Status != runstate.Done || rec.Manifest == "" {
				t.Fatalf("record %+v, want done with a manifest", rec)
			}
			got := stagedLines(t, store, env.cfg.S3BasePath, rec)
			want := expectedLines(t, d, env.sim.Records(d.EntitySet))
			if len(want) == 0 {
				t.Fatalf("the simulator holds no %s records", d.EntitySet)
			}
			sameLines(t, name, got, want)
			if rec.Records != int64(len(want)) {
				t.Errorf("record says %d records, want %d", rec.Records, len(want))
			}
		})
	}
	_ = staging.Layout{}
}
