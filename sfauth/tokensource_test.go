package sfauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenFromEndpoint(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.expiry = 85949

	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "tok-") || tok.TokenType != "Bearer" {
		t.Fatalf("token = %q %q", tok.TokenType, tok.AccessToken)
	}
	if d := tok.Expiry.Sub(before); d < 85948*time.Second || d > 85950*time.Second {
		t.Fatalf("expiry %v after start, want about 85949s", d)
	}
	form := sf.lastForm()
	for k, v := range map[string]string{
		"grant_type": GrantType, "company_id": testCompany, "client_id": testClient, "new_token": "",
	} {
		if got := form.Get(k); got != v {
			t.Errorf("form %s = %q, want %q", k, got, v)
		}
	}

	// Reused, not exchanged again.
	tok2, err := ts.Token()
	if err != nil || tok2.AccessToken != tok.AccessToken || sf.hits.Load() != 1 {
		t.Fatalf("second Token: %v, hits %d", err, sf.hits.Load())
	}

	// Refresh asks SF for a new token.
	if err := ts.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sf.lastForm().Get("new_token"); got != "true" {
		t.Fatalf("new_token after Refresh = %q", got)
	}
	if sf.hits.Load() != 2 {
		t.Fatalf("hits = %d, want 2", sf.hits.Load())
	}
}

func TestConcurrentTokenOneExchange(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.block = make(chan struct{})
	sf.received = make(chan struct{}, 100)
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}

	const n = 50
	var wg sync.WaitGroup
	toks := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok, err := ts.Token()
			errs[i] = err
			if err == nil {
				toks[i] = tok.AccessToken
			}
		}()
	}
	close(start)
	<-sf.received // the one exchange reached the server and waits there
	time.Sleep(50 * time.Millisecond)
	close(sf.block)
	wg.Wait()

	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if toks[i] != toks[0] {
			t.Fatalf("goroutine %d got another token", i)
		}
	}
	if got := sf.hits.Load(); got != 1 {
		t.Fatalf("server saw %d exchanges, want 1", got)
	}
}

func TestHungEndpointTimesOut(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.block = make(chan struct{})
	t.Cleanup(func() { close(sf.block) })
	opts := testOptions(sf)
	client := sf.srv.Client()
	client.Timeout = 200 * time.Millisecond
	opts.HTTPClient = client
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ts.Token(); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("hung endpoint gave a token")
		}
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err = %v, want a timeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Token hung")
	}
}

func TestClientAddsBearer(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	var gotAuth []string
	var mu sync.Mutex
	sf.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.Path != "/odata/v2/User" {
			return false
		}
		mu.Lock()
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`{"d":{"results":[]}}`))
		return true
	}
	ts, err := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if err != nil {
		t.Fatal(err)
	}
	c := ts.Client(sf.srv.Client())
	if _, ok := c.Transport.(interface{ Refresh(context.Context) error }); !ok {
		t.Fatal("transport does not implement Refresh")
	}
	req, _ := http.NewRequest(http.MethodGet, sf.srv.URL+"/odata/v2/User", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("Authorization") != "" {
		t.Error("caller's request was modified")
	}
	tok, _ := ts.Token()
	if len(gotAuth) != 1 || gotAuth[0] != "Bearer "+tok.AccessToken {
		t.Fatalf("Authorization seen = %q", gotAuth)
	}
}

func TestExchangeTimeoutBoundsClientWithoutTimeout(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.block = make(chan struct{})
	t.Cleanup(func() { close(sf.block) })
	opts := testOptions(sf) // srv.Client() has no Timeout
	opts.ExchangeTimeout = 200 * time.Millisecond
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), opts)
	start := time.Now()
	_, err := ts.Token()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestCallerContextStopsWaitingOnly(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	sf.block = make(chan struct{})
	sf.received = make(chan struct{}, 4)
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := ts.TokenContext(ctx); done <- err }()
	<-sf.received
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	// The exchange it started goes on and serves the next caller.
	other := make(chan error, 1)
	go func() { _, err := ts.Token(); other <- err }()
	time.Sleep(20 * time.Millisecond)
	close(sf.block)
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	if sf.hits.Load() != 1 {
		t.Fatalf("hits %d, want 1", sf.hits.Load())
	}
}
