package connector

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/runstate"
	"github.com/techwolf/sfconnector/staging"
)

// runWithFirstPage runs "users" with SF's first page replaced by body and
// checks that the run failed as bad data, naming page and record, with no
// manifest: never done with pages a reader cannot use.
func runWithFirstPage(t *testing.T, body string, wantInError ...string) {
	t.Helper()
	env := startSim(t, sfsim.Options{Users: 10})
	c, _ := env.connector(t, Options{})
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 0, Kind: sfsim.FaultStatus, Status: 200, Body: body})
	rec, err := c.Run(context.Background(), "users")
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindBadData {
		t.Fatalf("err = %.300v, want a RunError of kind sf_bad_data", err)
	}
	if rec == nil || rec.Status != runstate.Failed || rec.Error == nil || rec.Error.Kind != string(KindBadData) || rec.Manifest != "" {
		t.Fatalf("record %+v", rec)
	}
	for _, want := range wantInError {
		if !strings.Contains(err.Error(), want) || !strings.Contains(rec.Error.Message, want) {
			t.Errorf("error %q / state %q lacks %q", err, rec.Error.Message, want)
		}
	}
	if len(err.Error()) > 400 || len(rec.Error.Message) > 400 {
		t.Errorf("error quotes the record: %d bytes", len(err.Error()))
	}
}

func TestRunFailsOnRecordOverReaderLimit(t *testing.T) {
	big := strings.Repeat("a", staging.MaxRecordBytes)
	body := `{"d":{"results":[{"userId":"u1","firstName":"A"},{"userId":"u2","firstName":"` + big + `"}]}}`
	runWithFirstPage(t, body, "page 0, record 1", "limit")
}

func TestRunFailsOnRecordWithoutKey(t *testing.T) {
	for _, body := range []string{
		// Two keyless records would otherwise be merged into one.
		`{"d":{"results":[{"userId":"u1"},{"firstName":"A"},{"firstName":"B"}]}}`,
		`{"d":{"results":[{"userId":"u1"},{"userId":null,"firstName":"A"}]}}`,
	} {
		runWithFirstPage(t, body, "page 0, record 1", "userId")
	}
}

func TestRunFailsOnMistypedValue(t *testing.T) {
	body := `{"d":{"results":[{"userId":"u1"},{"userId":"u2"},{"userId":"u3","firstName":{"a":1}}]}}`
	runWithFirstPage(t, body, "page 0, record 2", "firstName")
}
