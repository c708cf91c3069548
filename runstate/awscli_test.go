package runstate

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/techwolf/sfconnector/internal/s3test"
	"github.com/techwolf/sfconnector/staging"
)

// TestAWSCLIReadsStagedRun checks the staged layout with a client that
// shares no code with this module: awscli lists and downloads a done run
// from a real S3 server, and its pages, decompressed, hold exactly the
// records the Reader yields, in the same order.
func TestAWSCLIReadsStagedRun(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("awscli not found and CI is set: %v", err)
		}
		t.Skipf("\n\n*** SKIPPED: awscli (aws) not on PATH; the staged layout was not checked with it. ***\n")
	}
	srv := s3test.Shared(t)
	bucket := srv.NewBucket(t)
	s, err := staging.NewS3Store(context.Background(), srv.Options(bucket))
	if err != nil {
		t.Fatal(err)
	}
	l := staging.Layout{BasePath: "exports/sf"}
	tr := NewTracker(s, l)
	rec, pages := doneRun(t, tr, s, l, 123, 50)
	runPrefix := "exports/sf/employees/" + rec.RunID + "/"

	cli := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		home := t.TempDir()
		cmd := exec.CommandContext(ctx, aws, append([]string{"--endpoint-url", srv.Endpoint}, args...)...)
		cmd.Env = append(os.Environ(),
			"AWS_ACCESS_KEY_ID="+srv.AccessKey,
			"AWS_SECRET_ACCESS_KEY="+srv.SecretKey,
			"AWS_DEFAULT_REGION="+srv.Region,
			// Only the server under test: no user configuration, no
			// instance metadata, no proxy.
			"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
			"AWS_EC2_METADATA_DISABLED=true",
			"HOME="+home,
			"NO_PROXY=127.0.0.1,localhost",
			"no_proxy=127.0.0.1,localhost",
		)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}

	// The listing shows the state record, the manifest and every page.
	listing := cli("s3", "ls", "--recursive", "s3://"+bucket+"/"+runPrefix)
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(line)
		listed[f[len(f)-1]] = true
	}
	want := []string{runPrefix + "state.json", runPrefix + "manifest.json"}
	for _, p := range pages {
		want = append(want, p.Key)
	}
	for _, k := range want {
		if !listed[k] {
			t.Errorf("aws s3 ls does not list %s:\n%s", k, listing)
		}
	}
	if len(listed) != len(want) {
		t.Errorf("aws s3 ls lists %d objects, want %d:\n%s", len(listed), len(want), listing)
	}

	dir := t.TempDir()
	cli("s3", "cp", "--recursive", "--only-show-errors", "s3://"+bucket+"/"+runPrefix, dir)

	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	state, err := DecodeRecord(data)
	if err != nil || state.Status != Done || state.RunID != rec.RunID {
		t.Fatalf("downloaded state %+v, %v", state, err)
	}
	data, err = os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m staging.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}

	var fromCLI []string
	for _, p := range m.Pages {
		f, err := os.Open(filepath.Join(dir, strings.TrimPrefix(p.Key, runPrefix)))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", p.Key, err)
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			fromCLI = append(fromCLI, sc.Text())
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", p.Key, err)
		}
		f.Close()
	}

	var fromReader []string
	for raw, err := range NewReader(s, l).Records(context.Background(), rec) {
		if err != nil {
			t.Fatal(err)
		}
		fromReader = append(fromReader, string(raw))
	}
	if len(fromReader) != 123 || strings.Join(fromCLI, "\n") != strings.Join(fromReader, "\n") {
		t.Fatalf("awscli read %d records, the Reader %d; they differ", len(fromCLI), len(fromReader))
	}
}
