package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/internal/sfsim"
	"github.com/techwolf/sfconnector/odata"
	"github.com/techwolf/sfconnector/sfauth"
	"github.com/techwolf/sfconnector/staging"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want ErrorKind
	}{
		{&odata.Error{Kind: odata.KindAuthExpired, StatusCode: 401}, KindAuth},
		{&odata.Error{Kind: odata.KindFatal, StatusCode: 403, Code: "LGN0002"}, KindAuth},
		{&odata.Error{Kind: odata.KindRetryable, StatusCode: 429}, KindThrottled},
		{&odata.Error{Kind: odata.KindRetryable, StatusCode: 503}, KindUnavailable},
		{&odata.Error{Kind: odata.KindRetryable}, KindUnavailable},
		{&odata.Error{Kind: odata.KindFatal, StatusCode: 400, Code: "COE_PROPERTY_NOT_FOUND"}, KindBadRequest},
		{&odata.Error{Kind: odata.KindSnapshotLost, StatusCode: 500}, KindSnapshotLost},
		{fmt.Errorf("page 2: %w", &odata.IncompleteError{Expected: 4, Received: 3}), KindIncomplete},
		{fmt.Errorf("next: %w", odata.ErrUnsafeLink), KindBadResponse},
		{&sfauth.Error{Kind: sfauth.ErrSignatureRejected}, KindAuth},
		{&sfauth.Error{Kind: sfauth.ErrServer}, KindUnavailable},
		{storageErr(errors.New("disk full")), KindStorage},
		{fmt.Errorf("x: %w", staging.ErrInvalidKey), KindStorage},
		{&TransformError{Property: "startDate"}, KindBadData},
		{fmt.Errorf("%w %q", ErrUnknownDataType, "x"), KindConfig},
		{context.Canceled, KindCancelled},
		{errors.New("what"), KindInternal},
	} {
		if got := kindOf(tc.err); got != tc.want {
			t.Errorf("kindOf(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestLogsCarryRunAndNoSecret(t *testing.T) {
	env := startSim(t, sfsim.Options{Users: 30})
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, _ := env.connector(t, Options{Catalog: smallPages(t, 10), Logger: logger})
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 1, Status: 502})
	env.sim.Inject(sfsim.Fault{EntitySet: "User", Page: 2, Kind: sfsim.FaultTokenRejected})

	rec, err := c.Run(context.Background(), "users")
	if err != nil {
		t.Fatal(err)
	}

	events := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["run_id"] == rec.RunID && m["data_type"] == "users" {
			events[m["msg"].(string)] = true
		}
	}
	for _, want := range []string{"run queued", "run started", "page written", "request retried", "run done"} {
		if want == "run queued" {
			continue // Run does not queue
		}
		if !events[want] {
			t.Errorf("no %q record with the run id and data type; got %v", want, events)
		}
	}

	key, _ := env.keystore.Secret(context.Background(), "sf-cred")
	var cred struct{ PrivateKey string }
	json.Unmarshal(key, &cred)
	body := strings.Split(cred.PrivateKey, "\n")[1]
	for _, secret := range []string{body, "Bearer", "PRIVATE KEY", "assertion="} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	state, _ := json.Marshal(rec)
	if strings.Contains(string(state), body) {
		t.Error("the state record holds the key")
	}
}
