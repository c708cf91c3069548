package e2e

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/techwolf/sfconnector/staging"
)

// checkText fails the test when text holds a recorded secret.
func (s *secretRecorder) checkText(t testing.TB, what, text string) {
	t.Helper()
	for _, sec := range s.found(text) {
		t.Errorf("%s holds a secret (%d bytes starting %.6q…)", what, len(sec), sec)
	}
}

// found returns the recorded secrets text holds.
func (s *secretRecorder) found(text string) []string {
	var out []string
	for _, sec := range s.all() {
		if strings.Contains(text, sec) {
			out = append(out, sec)
		}
	}
	return out
}

// checkNoLeaks looks for every secret the run handled in the log, in the
// run's state record and manifest, and in what the simulator was sent
// outside the Authorization header and the token form.
func (e *env) checkNoLeaks(t testing.TB, runID string) {
	t.Helper()
	if len(e.secrets.all()) < 4 {
		t.Fatalf("only %d secrets recorded; the recorder saw no token traffic", len(e.secrets.all()))
	}
	e.secrets.checkText(t, "the log", e.logs.String())
	prefix, err := e.layout().RunPrefix(dataType, runID)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"state.json", "manifest.json"} {
		obj, err := e.direct.Get(context.Background(), prefix+name)
		if err != nil {
			continue // a failed run has no manifest
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		e.secrets.checkText(t, name, string(b))
	}
	for _, r := range e.sim.Requests() {
		e.secrets.checkText(t, "a request URL", r.Path+"?"+r.RawQuery+" "+r.RunHeader)
	}
}

func readManifest(t testing.TB, e *env, key string) *staging.Manifest {
	t.Helper()
	m, err := staging.ReadManifest(context.Background(), e.direct, key)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
