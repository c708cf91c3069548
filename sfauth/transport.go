package sfauth

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/oauth2"
)

// Transport is an http.RoundTripper that adds "Authorization: Bearer" from
// a TokenSource. It never retries: after a 401 its user calls Refresh and
// sends the request again, as the odata client does.
type Transport struct {
	// Source supplies tokens.
	Source *TokenSource

	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
}

// RoundTrip sends a copy of req with the bearer token.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var tok *oauth2.Token
	err := errInsecureRequest
	if t.Source.secureTarget(req) {
		tok, err = t.Source.TokenContext(req.Context())
	}
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // the RoundTripper contract, even on error
		}
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return t.base().RoundTrip(r)
}

// Refresh forces a new token; see [TokenSource.Refresh].
func (t *Transport) Refresh(ctx context.Context) error { return t.Source.Refresh(ctx) }

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// errInsecureRequest refuses to send a token in clear text.
var errInsecureRequest = errors.New("sfauth: bearer token not sent over plain http (https only, loopback excepted when allowed)")

// secureTarget reports whether req may carry a token: https, or plain
// http to loopback when the options allow it.
func (ts *TokenSource) secureTarget(req *http.Request) bool {
	if req.URL == nil {
		return false
	}
	switch req.URL.Scheme {
	case "https":
		return true
	case "http":
		return ts.allowInsecureLoopback && isLoopback(req.URL.Hostname())
	}
	return false
}

// errCrossHostRedirect stops a redirect that would carry the token to
// another host.
var errCrossHostRedirect = errors.New("sfauth: redirect to another host not followed with a bearer token")

// Client returns an HTTP client whose transport is a [*Transport] over
// base's transport: every request carries the bearer token, and the
// transport implements Refresh(ctx) error for odata's Refresher contract.
// Timeout, Jar and CheckRedirect are taken from base (nil means
// http.DefaultClient); a redirect to another host is refused, because the
// transport would send the token there.
func (ts *TokenSource) Client(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	check := base.CheckRedirect
	return &http.Client{
		Transport: &Transport{Source: ts, Base: base.Transport},
		Jar:       base.Jar,
		Timeout:   base.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > 0 && req.URL.Host != via[0].URL.Host {
				return errCrossHostRedirect
			}
			if check != nil {
				return check(req, via)
			}
			if len(via) >= 10 {
				return errors.New("sfauth: stopped after 10 redirects")
			}
			return nil
		},
	}
}
