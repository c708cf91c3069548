package sfsim

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 30})
	c := newClient(t, s, ts)
	first := ts.URL + "/odata/v2/User?$select=userId&customPageSize=10"
	_, p0 := c.page(first)
	second := p0.D.Next

	t.Run("status with Retry-After on page 1 only", func(t *testing.T) {
		s.Inject(Fault{EntitySet: "User", Page: 1, Times: 2, Kind: FaultStatus, Status: 429, RetryAfter: "120"})
		if st, _ := c.get(first); st.StatusCode != 200 {
			t.Fatalf("page 0 hit: %d", st.StatusCode)
		}
		for i := 0; i < 2; i++ {
			resp, b := c.get(second)
			if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "120" || !strings.Contains(string(b), `"error"`) {
				t.Fatalf("try %d: %d %q %s", i, resp.StatusCode, resp.Header.Get("Retry-After"), b)
			}
		}
		if st, _ := c.get(second); st.StatusCode != 200 || s.PendingFaults() != 0 {
			t.Fatalf("after two: %d, %d pending", st.StatusCode, s.PendingFaults())
		}
	})
	t.Run("HTML status and maintenance page", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultStatus, Status: 504, HTML: true})
		resp, b := c.get(first)
		if resp.StatusCode != 504 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<html>") {
			t.Fatalf("504: %d %s", resp.StatusCode, b)
		}
		s.Inject(Fault{Kind: FaultMaintenance, Page: AnyPage, RetryAfter: "Wed, 01 May 2024 10:30:00 GMT"})
		resp, b = c.get(second)
		if resp.StatusCode != 503 || !strings.Contains(string(b), "maintenance") || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("maintenance: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("other entity sets are not hit", func(t *testing.T) {
		s.Inject(Fault{EntitySet: "EmpJob", Kind: FaultStatus, Status: 500})
		if st, _ := c.get(first); st.StatusCode != 200 {
			t.Fatalf("User hit by an EmpJob fault: %d", st.StatusCode)
		}
		s.ClearFaults()
	})
	t.Run("truncated JSON on 200", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultTruncate, AfterBytes: 100})
		resp, b := c.get(first)
		if resp.StatusCode != 200 || len(b) != 100 || jsonUnmarshal(b, new(any)) == nil {
			t.Fatalf("truncate: %d %d bytes", resp.StatusCode, len(b))
		}
	})
	t.Run("reset mid-body", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultReset, AfterBytes: 200})
		req, _ := http.NewRequest(http.MethodGet, first, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := ts.Client().Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatal("reset: the body read without error")
		}
	})
	t.Run("next link to another host", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultForeignNext, NextHost: "evil.test"})
		_, env := c.page(first)
		if !strings.HasPrefix(env.D.Next, "https://evil.test/odata/v2/User?") || !strings.Contains(env.D.Next, "$skiptoken=") {
			t.Fatalf("foreign next: %s", env.D.Next)
		}
	})
	t.Run("looping next link", func(t *testing.T) {
		s.Inject(Fault{Page: 1, Kind: FaultLoopNext})
		_, env := c.page(second)
		if env.D.Next != second || len(env.D.Results) != 10 {
			t.Fatalf("loop: next %s, want %s", env.D.Next, second)
		}
	})
	t.Run("empty page with next", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultEmptyPage})
		_, env := c.page(first)
		if len(env.D.Results) != 0 || env.D.Next != first {
			t.Fatalf("empty page: %d results, next %s", len(env.D.Results), env.D.Next)
		}
		_, env = c.page(env.D.Next)
		if len(env.D.Results) != 10 {
			t.Fatalf("after the empty page: %d", len(env.D.Results))
		}
	})
	t.Run("snapshot lost and token rejected", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultSnapshotLost})
		st, env := c.page(first)
		if st != 500 || !strings.HasPrefix(env.Error.Message.Value, "[COE0019][SNP]") {
			t.Fatalf("snapshot lost: %d %+v", st, env.Error)
		}
		s.Inject(Fault{Kind: FaultTokenRejected})
		st, env = c.page(first)
		if st != 401 || env.Error.Code != "LGN0022" {
			t.Fatalf("token rejected: %d %+v", st, env.Error)
		}
	})
	t.Run("slow page and latency", func(t *testing.T) {
		s.Inject(Fault{Kind: FaultSlow, Delay: 150 * time.Millisecond})
		t0 := time.Now()
		if st, _ := c.get(first); st.StatusCode != 200 || time.Since(t0) < 150*time.Millisecond {
			t.Fatalf("slow: %d after %v", st.StatusCode, time.Since(t0))
		}
		s2, ts2 := startTLS(t, Options{Users: 5, Latency: 100 * time.Millisecond, NoAuth: true})
		_ = s2
		t0 = time.Now()
		resp, err := ts2.Client().Get(ts2.URL + "/odata/v2/User")
		if err != nil || resp.StatusCode != 200 || time.Since(t0) < 100*time.Millisecond {
			t.Fatalf("latency: %v after %v", err, time.Since(t0))
		}
		resp.Body.Close()
	})
	t.Run("unlimited fault on any page", func(t *testing.T) {
		s.Inject(Fault{Page: AnyPage, Times: -1, Kind: FaultStatus, Status: 502})
		for _, u := range []string{first, second, first} {
			if st, _ := c.get(u); st.StatusCode != 502 {
				t.Fatalf("%s: %d", u, st.StatusCode)
			}
		}
		s.ClearFaults()
		if st, _ := c.get(first); st.StatusCode != 200 {
			t.Fatalf("after ClearFaults: %d", st.StatusCode)
		}
	})
}

func TestTokenEndpointFault(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 10, Now: clock.Now})
	cred := s.NewCredential(ts.URL)
	s.Inject(Fault{EntitySet: TokenEndpoint, Kind: FaultStatus, Status: 503, RetryAfter: "5", Body: `{"errorHttpCode":"503","errorMessage":"busy"}`})
	// An OData fault never hits the token endpoint, nor the reverse.
	s.Inject(Fault{EntitySet: "User", Kind: FaultStatus, Status: 500})
	if st, tr := postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), nil); st != 503 || tr.ErrorMessage != "busy" {
		t.Fatalf("token fault: %d %+v", st, tr)
	}
	if st, tr := postToken(t, ts.Client(), cred, specFor(t, cred, clock.Now()).build(t), nil); st != 200 {
		t.Fatalf("after the fault: %d %+v", st, tr)
	}
	if s.PendingFaults() != 1 {
		t.Fatalf("%d faults pending, want the User one", s.PendingFaults())
	}
}

func TestInjectWhileServing(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 50})
	c := newClient(t, s, ts)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				req, _ := http.NewRequest(http.MethodGet, ts.URL+"/odata/v2/User?$top=5&$select=userId", nil)
				req.Header.Set("Authorization", "Bearer "+c.token)
				resp, err := ts.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 && resp.StatusCode != 503 {
					errs <- errors.New(resp.Status)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		s.Inject(Fault{Page: AnyPage, Kind: FaultStatus, Status: 503})
		s.Touch("User", 2)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestTouchAddDelete(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 100, Now: clock.Now})
	c := newClient(t, s, ts)
	clock.Add(time.Hour)
	since := clock.Now().Format("2006-01-02T15:04:05Z")
	for _, set := range s.EntitySets() {
		touched := s.Touch(set, 5)
		if len(touched) != 5 {
			t.Fatalf("%s: touched %d", set, len(touched))
		}
		field := "lastModifiedDateTime"
		if strings.HasPrefix(set, "Background_") {
			field = "lastModifiedDate"
		}
		got, _ := c.all(ts.URL + "/odata/v2/" + set + "?$filter=" + field + "%20ge%20datetimeoffset'" + since + "'")
		gotKeys := keys(got)
		for _, k := range touched {
			found := false
			for _, g := range gotKeys {
				found = found || g == k
			}
			if !found {
				t.Fatalf("%s: touched %s not returned by the incremental filter (got %v)", set, k, gotKeys)
			}
		}
		if len(gotKeys) != 5 {
			t.Fatalf("%s: incremental filter returned %d records, want 5", set, len(gotKeys))
		}
		for _, r := range got {
			found := false
			for _, v := range r {
				if sv, ok := v.(string); ok && strings.HasPrefix(sv, "touched ") {
					found = true
				}
			}
			if !found {
				t.Fatalf("%s: no visible change in %v", set, keyOf(r))
			}
		}
	}
	before := s.Count("User")
	added, err := s.Add("User", 3)
	if err != nil || len(added) != 3 || s.Count("User") != before+3 {
		t.Fatalf("Add: %v %v", added, err)
	}
	if _, err := s.Add("EmpJob", 1); err == nil {
		t.Fatal("Add on EmpJob did not fail")
	}
	if n := s.Delete("User", added[0], "User('nobody')"); n != 1 {
		t.Fatalf("Delete found %d", n)
	}
	all, _ := c.all(ts.URL + "/odata/v2/User?$select=userId")
	if len(all) != before+2 || keyOf(all[len(all)-1]) != added[2] {
		t.Fatalf("after Add and Delete: %d users, last %s", len(all), keyOf(all[len(all)-1]))
	}
	if st, _ := c.get(ts.URL + "/odata/v2/" + added[0]); st.StatusCode != 404 {
		t.Fatalf("deleted user: %d", st.StatusCode)
	}
}

// A fault that spoils the last page of a snapshot does not consume the
// snapshot: the client's retry of the same URL gets the page.
func TestSpoiledLastSnapshotPageCanBeRetried(t *testing.T) {
	s, ts := startTLS(t, Options{Users: 20})
	c := newClient(t, s, ts)
	_, p0 := c.page(ts.URL + "/odata/v2/User?$select=userId&paging=snapshot&customPageSize=10")
	last := p0.D.Next
	for _, kind := range []FaultKind{FaultTruncate, FaultEmptyPage, FaultStatus} {
		s.Inject(Fault{Page: 1, Kind: kind, Status: 503})
		c.get(last)
	}
	st, env := c.page(last)
	if st != 200 || len(env.D.Results) != 10 || env.D.Next != "" {
		t.Fatalf("retry of the last page: %d, %d records, next %q", st, len(env.D.Results), env.D.Next)
	}
	if st, _ := c.page(last); st != 500 {
		t.Fatalf("the last page served twice: %d", st)
	}
}

func TestFaultKindString(t *testing.T) {
	if FaultTokenRejected.String() != "token-rejected" || FaultStatus.String() != "status" || FaultKind(99).String() != "FaultKind(99)" {
		t.Fatal(FaultTokenRejected, FaultStatus, FaultKind(99))
	}
}

func TestRateLimit(t *testing.T) {
	clock := newFakeClock()
	s, ts := startTLS(t, Options{Users: 10, Now: clock.Now, RateLimit: 0.5})
	c := newClient(t, s, ts)
	u := ts.URL + "/odata/v2/User?$top=1"
	if st, _ := c.get(u); st.StatusCode != 200 {
		t.Fatalf("first request: %d", st.StatusCode)
	}
	resp, _ := c.get(u)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("second request: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	clock.Add(2 * time.Second)
	if st, _ := c.get(u); st.StatusCode != 200 {
		t.Fatalf("after waiting: %d", st.StatusCode)
	}
}
