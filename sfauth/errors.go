package sfauth

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kinds of token endpoint failure. An *[Error] matches one of them with
// errors.Is.
var (
	// ErrSignatureRejected: SF could not verify the assertion's signature
	// with the certificate registered for the client id.
	ErrSignatureRejected = errors.New("sfauth: signature rejected")

	// ErrAssertionExpired: the assertion's validity window did not hold
	// SF's clock (expired, or not yet valid).
	ErrAssertionExpired = errors.New("sfauth: assertion expired or not yet valid")

	// ErrAssertionRejected: SF refused the assertion for another reason,
	// such as a wrong audience or recipient.
	ErrAssertionRejected = errors.New("sfauth: assertion rejected")

	// ErrUnknownClient: SF does not know the client id (API key), or the
	// client is disabled.
	ErrUnknownClient = errors.New("sfauth: unknown client")

	// ErrUserNotFound: SF found no user for the subject in the identifier
	// mode used.
	ErrUserNotFound = errors.New("sfauth: user not found")

	// ErrInvalidCompany: SF does not know the company id at that host.
	ErrInvalidCompany = errors.New("sfauth: invalid company")

	// ErrRateLimited: the token endpoint answered 429 on every attempt.
	ErrRateLimited = errors.New("sfauth: rate limited")

	// ErrServer: the token endpoint answered 5xx on every attempt.
	ErrServer = errors.New("sfauth: token endpoint unavailable")

	// ErrBadResponse: a success status with a body that is not a usable
	// token response.
	ErrBadResponse = errors.New("sfauth: malformed token response")
)

// Credential and key loading errors.
var (
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("sfauth: private key does not match certificate")

	// ErrKeyTooSmall: an RSA key under 2048 bits.
	ErrKeyTooSmall = errors.New("sfauth: RSA key too small")

	// ErrUnsupportedKey: a key that is not RSA, or is encrypted.
	ErrUnsupportedKey = errors.New("sfauth: unsupported key")

	// ErrUnknownFormat: input in a format the loader does not read. The
	// *[FormatError] names what was found.
	ErrUnknownFormat = errors.New("sfauth: unknown format")

	// ErrCertificateExpired: the certificate is past its NotAfter (or
	// before its NotBefore). The token endpoint's answer for an expired
	// client certificate is an *Error of this kind.
	ErrCertificateExpired = errors.New("sfauth: certificate expired")

	// ErrInsecureTokenURL: a token URL that is not https (plain http is
	// allowed only on loopback when asked for).
	ErrInsecureTokenURL = errors.New("sfauth: token URL must use https")

	// ErrInvalidCredential: a required field of the credential is missing
	// or malformed.
	ErrInvalidCredential = errors.New("sfauth: invalid credential")
)

// Error is a failed token exchange. It carries what a caller needs to act
// and never the assertion, the form or the key.
type Error struct {
	// Kind is one of the kinds of token endpoint failure, such as
	// [ErrSignatureRejected], or nil when SF's answer could not be
	// classified. errors.Is(err, Kind) holds.
	Kind error

	// StatusCode is the HTTP status of the last attempt.
	StatusCode int

	// Code is SF's errorHttpCode or the OAuth "error" field.
	Code string

	// Message is SF's errorMessage or error_description, with anything
	// that looks like a token or an encoded assertion removed.
	Message string

	// Host is the token endpoint's host.
	Host string

	// CompanyID is the company id sent.
	CompanyID string

	// ClientID is the client id (API key) sent.
	ClientID string

	// Mode is how the subject was identified.
	Mode IdentifierMode

	// Attempts is how many requests were made.
	Attempts int

	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

// Error describes the failure with a hint at its usual cause.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sfauth: token exchange at %s failed", e.Host)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.StatusCode)
		if e.Attempts > 1 {
			fmt.Fprintf(&b, " after %d attempts", e.Attempts)
		}
		b.WriteString(")")
	}
	switch e.Kind {
	case ErrSignatureRejected:
		fmt.Fprintf(&b, ": signature rejected; is the certificate registered for client_id %q the one that matches this key?", e.ClientID)
	case ErrAssertionExpired:
		b.WriteString(": assertion outside its validity window; check the clock and the clock-skew setting")
	case ErrAssertionRejected:
		b.WriteString(": assertion rejected; check audience and token URL")
	case ErrUnknownClient:
		fmt.Fprintf(&b, ": client_id %q unknown or disabled for company %q", e.ClientID, e.CompanyID)
	case ErrUserNotFound:
		fmt.Fprintf(&b, ": user not found with identifier mode %s", e.Mode)
	case ErrInvalidCompany:
		fmt.Fprintf(&b, ": company id %q not known at host %s (company ids are case-sensitive; check the data-centre host)", e.CompanyID, e.Host)
	case ErrCertificateExpired:
		fmt.Fprintf(&b, ": the certificate registered for client_id %q has expired; register a new one", e.ClientID)
	case ErrRateLimited:
		b.WriteString(": rate limited")
	case ErrServer:
		b.WriteString(": server error")
	case ErrBadResponse:
		b.WriteString(": malformed token response")
	}
	if e.Code != "" || e.Message != "" {
		b.WriteString(": ")
		if e.Code != "" {
			b.WriteString(e.Code)
			if e.Message != "" {
				b.WriteString(" ")
			}
		}
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the kind, so that errors.Is(err, ErrUserNotFound) works.
func (e *Error) Unwrap() error { return e.Kind }

// Temporary reports whether a later attempt may succeed without a change
// of configuration: rate limiting and server errors.
func (e *Error) Temporary() bool {
	return e.Kind == ErrRateLimited || e.Kind == ErrServer
}

// FormatError reports key or certificate input that could not be read. It
// names the format detected and never quotes the input.
type FormatError struct {
	// What was being read: "private key", "certificate" or "PKCS#12".
	What string

	// Detected names what the input looked like, e.g. "PEM block
	// \"EC PRIVATE KEY\"" or "base64 text that is not DER".
	Detected string

	// Err is the underlying kind: ErrUnknownFormat or ErrUnsupportedKey.
	Err error
}

// Error names what was being read and what the input looked like.
func (e *FormatError) Error() string {
	return fmt.Sprintf("sfauth: cannot read %s: found %s", e.What, e.Detected)
}

// Unwrap returns the kind.
func (e *FormatError) Unwrap() error { return e.Err }
