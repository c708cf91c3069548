package sfauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// GrantType is the OAuth grant type of the SAML bearer flow.
const GrantType = "urn:ietf:params:oauth:grant-type:saml2-bearer"

// maxBody bounds what is read of a token endpoint response.
const maxBody = 1 << 20

// exchange trades one fresh assertion per attempt for a token, retrying
// 429 and 5xx answers. forced asks SF for a new token (new_token=true).
func (ts *TokenSource) exchange(ctx context.Context, forced bool) (*oauth2.Token, error) {
	var last *Error
	for attempt := 1; ; attempt++ {
		tok, retryable, err := ts.exchangeOnce(ctx, forced)
		if err == nil {
			return tok, nil
		}
		e, ok := err.(*Error)
		if !ok || !retryable {
			if ok {
				e.Attempts = attempt
			}
			return nil, err
		}
		e.Attempts = attempt
		last = e
		if attempt >= ts.maxAttempts {
			return nil, last
		}
		wait := ts.backoff(attempt)
		if e.RetryAfter > 0 {
			if e.RetryAfter > ts.maxRetryAfter {
				return nil, last // the server asks for longer than a caller should wait
			}
			wait = e.RetryAfter
		}
		ts.logger.Debug("sfauth: retrying token exchange", "host", ts.host, "status", e.StatusCode, "attempt", attempt, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("sfauth: token exchange at %s: %w (last: %w)", ts.host, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// backoff is a random wait under an exponential ceiling, never shorter
// than half the base delay.
func (ts *TokenSource) backoff(attempt int) time.Duration {
	ceil := ts.baseDelay << (attempt - 1)
	if ceil <= 0 || ceil > ts.maxDelay {
		ceil = ts.maxDelay
	}
	return ts.baseDelay/2 + rand.N(ceil)
}

// exchangeOnce makes one request; retryable reports a 429 or 5xx answer.
func (ts *TokenSource) exchangeOnce(ctx context.Context, forced bool) (tok *oauth2.Token, retryable bool, err error) {
	start := ts.now() // expiry counts from before the request, to be safe
	xml, err := ts.signer.sign(start)
	if err != nil {
		return nil, false, err
	}
	form := url.Values{
		"grant_type": {GrantType},
		"company_id": {ts.cred.CompanyID},
		"client_id":  {ts.cred.ClientID},
		"assertion":  {base64.StdEncoding.EncodeToString(xml)},
	}
	if ts.cred.Mode == Username {
		form.Set("use_username", "true")
	}
	if forced {
		form.Set("new_token", "true")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, false, fmt.Errorf("sfauth: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := ts.client.Do(req)
	if err != nil {
		// *url.Error names the method and token URL only.
		return nil, false, fmt.Errorf("sfauth: token request to %s: %w", ts.host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, false, fmt.Errorf("sfauth: reading token response from %s: %w", ts.host, err)
	}

	if resp.StatusCode == http.StatusOK {
		tok, perr := ParseTokenResponse(body, start)
		if perr != nil {
			return nil, false, ts.newError(&Error{Kind: ErrBadResponse, StatusCode: resp.StatusCode, Message: perr.Error()})
		}
		return tok, false, nil
	}

	e := ParseErrorResponse(resp.StatusCode, body)
	e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), ts.now())
	return nil, e.Temporary(), ts.newError(e)
}

func (ts *TokenSource) newError(e *Error) *Error {
	e.Host = ts.host
	e.CompanyID = ts.cred.CompanyID
	e.ClientID = ts.cred.ClientID
	e.Mode = ts.cred.Mode
	return e
}

// tokenResponse is SF's success body. expires_in arrives as a number, but
// some gateways send it as a string.
type tokenResponse struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"`
}

// ParseTokenResponse reads a token endpoint's success body. The expiry is
// start plus expires_in, so start should be taken before the request was
// sent. The error never quotes the body.
func ParseTokenResponse(body []byte, start time.Time) (*oauth2.Token, error) {
	var r tokenResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("body is not a JSON object (%d bytes)", len(body))
	}
	if r.AccessToken == "" {
		return nil, fmt.Errorf("no access_token")
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "bearer") {
		return nil, fmt.Errorf("token_type %q is not Bearer", clip(r.TokenType, 20))
	}
	secs, err := parseExpiresIn(r.ExpiresIn)
	if err != nil {
		return nil, err
	}
	tok := &oauth2.Token{
		AccessToken: r.AccessToken,
		TokenType:   "Bearer",
		Expiry:      start.Add(time.Duration(secs) * time.Second),
		ExpiresIn:   secs,
	}
	return tok, nil
}

func parseExpiresIn(raw json.RawMessage) (int64, error) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0, fmt.Errorf("no expires_in")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f {
			return 0, fmt.Errorf("expires_in is not a number")
		}
		n = int64(f)
	}
	// Over ten years is nonsense; SF issues tokens for a day.
	if n <= 0 || n > 10*365*24*3600 {
		return 0, fmt.Errorf("expires_in %d out of range", n)
	}
	return n, nil
}

// errorResponse holds both error shapes SF uses.
type errorResponse struct {
	ErrorHTTPCode    json.RawMessage `json:"errorHttpCode"`
	ErrorMessage     string          `json:"errorMessage"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// ParseErrorResponse classifies a token endpoint's error answer. It reads
// SF's {"errorHttpCode","errorMessage"} and the OAuth {"error",
// "error_description"} shapes; other bodies are described, not quoted.
// Host, identifiers and attempts are left for the caller to fill.
func ParseErrorResponse(status int, body []byte) *Error {
	e := &Error{StatusCode: status}
	var r errorResponse
	if err := json.Unmarshal(bytes.TrimSpace(body), &r); err == nil {
		code := strings.Trim(strings.TrimSpace(string(r.ErrorHTTPCode)), `"`)
		if code == "null" {
			code = ""
		}
		msg := r.ErrorMessage
		if r.Error != "" {
			code = r.Error
			if r.ErrorDescription != "" {
				msg = r.ErrorDescription
			}
		}
		e.Code = clip(scrub(code), 40)
		e.Message = clip(scrub(msg), 300)
	} else if len(bytes.TrimSpace(body)) > 0 {
		e.Message = fmt.Sprintf("non-JSON body (%d bytes)", len(body))
	}
	e.Kind = classify(status, e.Code, e.Message)
	return e
}

// classify maps SF's status and wording to a kind. The order matters:
// SF's signature message mentions the client id, and its user message
// mentions "the client".
func classify(status int, code, msg string) error {
	switch {
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500:
		return ErrServer
	}
	m := strings.ToLower(code + " " + msg)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(m, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("signature"):
		return ErrSignatureRejected
	case has("certificate has expired", "certificate expired", "certificate is expired"):
		return ErrCertificateExpired
	case has("company"):
		return ErrInvalidCompany
	case has("invalid user", "user not found", "unknown user", "no such user", "user does not exist", "user is inactive"):
		return ErrUserNotFound
	case has("expired", "not yet valid", "notonorafter", "notbefore", "in the future", "clock"):
		return ErrAssertionExpired
	case has("audience", "recipient", "assertion", "invalid_grant"):
		return ErrAssertionRejected
	case has("api key", "apikey", "api_key", "client", "unauthorized_client"):
		return ErrUnknownClient
	}
	return nil
}

// longOpaque matches runs that could be a token, an assertion or key
// material; server messages have no business carrying them.
var longOpaque = regexp.MustCompile(`[A-Za-z0-9+/=_\-.%]{48,}`)

func scrub(s string) string {
	s = longOpaque.ReplaceAllString(s, "[redacted]")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// retryAfter reads delay-seconds or an HTTP date; 0 when absent or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
