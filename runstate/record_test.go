package runstate

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckTransition(t *testing.T) {
	legal := map[[2]Status]bool{
		{Queued, Running}:  true,
		{Queued, Failed}:   true,
		{Running, Running}: true,
		{Running, Done}:    true,
		{Running, Failed}:  true,
	}
	all := []Status{"", Queued, Running, Done, Failed, "paused"}
	for _, from := range all {
		for _, to := range all {
			name := string(from) + "->" + string(to)
			t.Run(name, func(t *testing.T) {
				err := CheckTransition(from, to)
				if legal[[2]Status{from, to}] {
					if err != nil {
						t.Fatalf("want legal, got %v", err)
					}
					return
				}
				if !errors.Is(err, ErrIllegalTransition) {
					t.Fatalf("want ErrIllegalTransition, got %v", err)
				}
			})
		}
	}
}

const goodRecord = `{
  "schema": 1,
  "runId": "0190f3a2-7b1c-7def-8abc-0123456789ab",
  "dataType": "employees",
  "status": "running",
  "attempt": 2,
  "workerId": "host-a/17",
  "created": "2026-03-01T09:00:00+01:00",
  "started": "2026-03-01T08:00:01Z",
  "heartbeat": "2026-03-01T10:00:05+02:00",
  "leaseUntil": "2026-03-01T08:02:05Z",
  "pages": 3,
  "records": 3000,
  "bytes": 123456,
  "checkpoint": "skiptoken=abc",
  "extra": {"k": [1, 2]}
}`

func TestDecodeRecord(t *testing.T) {
	rec, err := DecodeRecord([]byte(goodRecord))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != Running || rec.Attempt != 2 || rec.Records != 3000 || rec.WorkerID != "host-a/17" {
		t.Fatalf("decoded %+v", rec)
	}
	for name, tm := range map[string]time.Time{
		"created": rec.Created, "heartbeat": *rec.Heartbeat, "leaseUntil": *rec.LeaseUntil,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s in %v, want UTC", name, tm.Location())
		}
	}
	if want := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC); !rec.Created.Equal(want) || rec.Created != want {
		t.Errorf("created %v, want %v", rec.Created, want)
	}

	data, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"created":"2026-03-01T08:00:00Z"`) {
		t.Errorf("encoded times not in UTC:\n%s", data)
	}
	again, err := DecodeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRecord(rec, again) {
		t.Errorf("round trip changed the record:\n%+v\n%+v", rec, again)
	}
}

func TestDecodeRecordRefuses(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(goodRecord, old) {
			panic("no " + old)
		}
		return strings.Replace(goodRecord, old, new, 1)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"schema 2", edit(`"schema": 1`, `"schema": 2`), "schema 2, want 1"},
		{"schema as string", edit(`"schema": 1`, `"schema": "1"`), `schema "1", want 1`},
		{"no schema", edit(`"schema": 1,`, ``), "no schema"},
		{"unknown status", edit(`"running"`, `"paused"`), `unknown status "paused"`},
		{"empty status", edit(`"running"`, `""`), `unknown status ""`},
		{"bad run id", edit(`0190f3a2`, `../../x`), "run id"},
		{"upper-case run id", edit(`0190f3a2`, `0190F3A2`), "run id"},
		{"bad data type", edit(`"employees"`, `"Emp/../x"`), "data type"},
		{"running without lease", edit(`"leaseUntil": "2026-03-01T08:02:05Z",`, ``), "running needs"},
		{"running attempt 0", edit(`"attempt": 2`, `"attempt": 0`), "running needs"},
		{"negative count", edit(`"pages": 3`, `"pages": -3`), "negative"},
		{"queued with attempt", edit(`"running"`, `"queued"`), "queued with attempt 2"},
		{"control char in worker", edit(`host-a/17`, `host\u0000a`), "control character"},
		{"no created", edit(`"created": "2026-03-01T09:00:00+01:00",`, ``), "no created time"},
		{"not JSON", "{", "unexpected end"},
		{"array", "[]", "cannot unmarshal"},
		{"wrong type", edit(`"pages": 3`, `"pages": "3"`), "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRecord([]byte(tt.doc))
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("want ErrInvalidRecord, got %v", err)
			}
			if !strings.HasPrefix(err.Error(), "runstate: invalid record: ") ||
				!strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestStale(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	until := now.Add(time.Minute)
	tests := []struct {
		name string
		rec  Record
		at   time.Time
		want bool
	}{
		{"running within lease", Record{Status: Running, LeaseUntil: &until}, now, false},
		{"running at lease end", Record{Status: Running, LeaseUntil: &until}, until, true},
		{"running after lease", Record{Status: Running, LeaseUntil: &until}, until.Add(time.Second), true},
		{"running without lease", Record{Status: Running}, now, true},
		{"queued", Record{Status: Queued}, until.Add(time.Hour), false},
		{"done with old lease", Record{Status: Done, LeaseUntil: &until}, until.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rec.Stale(tt.at); got != tt.want {
				t.Fatalf("Stale = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCloneIsDeep(t *testing.T) {
	rec, err := DecodeRecord([]byte(goodRecord))
	if err != nil {
		t.Fatal(err)
	}
	rec.Error = &ErrorInfo{Kind: "k", Message: "m"}
	c := rec.Clone()
	*c.Heartbeat = c.Heartbeat.Add(time.Hour)
	c.Error.Kind = "other"
	c.Extra[0] = 'x'
	if c.Heartbeat.Equal(*rec.Heartbeat) || rec.Error.Kind != "k" || rec.Extra[0] != '{' {
		t.Fatal("clone shares memory with the original")
	}
}
