package sfauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestNothingSecretFormatted(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	cred := testCredential(t, sf, key, cert)
	var logs bytes.Buffer
	opts := testOptions(sf)
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts, err := NewTokenSource(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	assertion := sf.lastForm().Get("assertion")

	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{cred, &cred, ts, []any{cred}, struct{ C Credential }{cred}} {
			out = append(out, fmt.Sprintf(verb, v))
		}
	}
	out = append(out, cred.String(), cred.GoString(), ts.String(), ts.GoString(), fmt.Sprint(cred), fmt.Sprintln(ts))

	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var b bytes.Buffer
		l := slog.New(h(&b))
		l.Info("cred", "cred", cred, "ptr", &cred, "ts", ts)
		l.Info("any", slog.Any("cred", cred))
		out = append(out, b.String())
	}
	out = append(out, logs.String())

	for i, s := range out {
		assertNoSecret(t, s, key)
		if strings.Contains(s, tok.AccessToken) {
			t.Fatalf("output %d carries the access token: %s", i, s)
		}
		if strings.Contains(s, assertion[:40]) {
			t.Fatalf("output %d carries the assertion", i)
		}
	}
	// And they still say something useful.
	s := fmt.Sprintf("%+v", cred)
	for _, want := range []string{testCompany, testClient, testUser, "RSA-2048 [redacted]", "sfconnector test"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if !strings.Contains(out[len(out)-1], "sfauth: token obtained") {
		t.Errorf("debug log lacks the exchange: %s", out[len(out)-1])
	}
}

func TestErrorsCarryNoSecrets(t *testing.T) {
	key, other := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	cred := testCredential(t, sf, key, cert)
	var errs []error

	_, _, err := LoadPEM(pkcs8PEM(t, other), certPEM(cert))
	errs = append(errs, err)
	_, err = NewTokenSource(testCredential(t, sf, other, cert), nil)
	errs = append(errs, err)
	bad := cred
	bad.UserID = "nobody"
	ts, _ := NewTokenSource(bad, testOptions(sf))
	_, err = ts.Token()
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d: no error", i)
		}
		for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			assertNoSecret(t, s, key)
			assertNoSecret(t, s, other)
		}
	}
}

func TestTransportRefusesPlainHTTP(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	c := ts.Client(nil)
	_, err := c.Get("http://odata.example.invalid/odata/v2/User")
	if !errors.Is(err, errInsecureRequest) {
		t.Fatalf("err = %v", err)
	}
	if sf.hits.Load() != 0 {
		t.Fatal("a token was fetched for a request that cannot carry it")
	}
}

func TestClientRefusesCrossHostRedirect(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	other := newFakeSF(t, cert)
	var leaked string
	other.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		leaked = r.Header.Get("Authorization")
		return true
	}
	sf.respond = func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if r.URL.Path != "/odata/v2/User" {
			return false
		}
		http.Redirect(w, r, other.srv.URL+"/steal", http.StatusFound)
		return true
	}
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	_, err := ts.Client(sf.srv.Client()).Get(sf.srv.URL + "/odata/v2/User")
	if !errors.Is(err, errCrossHostRedirect) {
		t.Fatalf("err = %v", err)
	}
	if leaked != "" || other.hits.Load() != 0 {
		t.Fatal("token sent to another host")
	}
}

func TestRefreshJoinsAndDedupes(t *testing.T) {
	key, _ := testKeys(t)
	cert := validCert(t, key)
	sf := newFakeSF(t, cert)
	ts, _ := NewTokenSource(testCredential(t, sf, key, cert), testOptions(sf))
	if _, err := ts.Token(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 20)
	for range 20 {
		go func() { done <- ts.Refresh(context.Background()) }()
	}
	for range 20 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := sf.hits.Load(); n != 2 {
		t.Fatalf("20 concurrent refreshes made %d exchanges after the first, want 1", n-1)
	}
}
