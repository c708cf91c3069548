package sfauth

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"
)

// DefaultAudience is the audience SuccessFactors expects in an assertion.
const DefaultAudience = "www.successfactors.com"

// Defaults for the assertion's validity window.
const (
	// DefaultLifetime is how long an assertion is valid after it is
	// issued, when [Credential].Lifetime is zero.
	DefaultLifetime = 10 * time.Minute

	// DefaultClockSkew is how far NotBefore is back-dated, when
	// [Credential].ClockSkew is zero.
	DefaultClockSkew = 5 * time.Minute
)

// MinKeyBits is the smallest RSA key accepted.
const MinKeyBits = 2048

// IdentifierMode says how SF should resolve the subject of an assertion.
type IdentifierMode int

const (
	// UserID: the subject is the SF userId (SF's default).
	UserID IdentifierMode = iota

	// Username: the subject is the SF username; use_username=true is sent
	// with the assertion and in the token request.
	Username

	// Email: the subject is the user's e-mail address, sent with the
	// NameID format emailAddress.
	Email
)

// String names the mode as it appears in errors.
func (m IdentifierMode) String() string {
	switch m {
	case UserID:
		return "userId"
	case Username:
		return "username"
	case Email:
		return "email"
	}
	return fmt.Sprintf("IdentifierMode(%d)", int(m))
}

// Credential is what an OAuth2 SAML Bearer Assertion credential holds.
//
// A Credential formats and logs without its key: String, GoString, Format
// and LogValue print the identifiers and certificate facts only.
type Credential struct {
	// TokenURL is SF's token endpoint, usually
	// https://{SF_address}/oauth/token. Required; it must be https.
	TokenURL string

	// CompanyID is the SF company id, sent as company_id. Required and
	// case-sensitive.
	CompanyID string

	// ClientID is the API key of the OAuth client registered in SF, sent
	// as client_id and in the assertion's api_key attribute. Required.
	ClientID string

	// UserID is the user the token acts for: the assertion's NameID, in
	// the form Mode says. Required.
	UserID string

	// Mode says what UserID holds; the zero value is UserID.
	Mode IdentifierMode

	// Audience is the assertion's audience. Empty means
	// [DefaultAudience].
	Audience string

	// Recipient is the Recipient of the assertion's
	// SubjectConfirmationData. Empty means TokenURL.
	Recipient string

	// Issuer is the assertion's issuer. Empty means the certificate's
	// common name, or ClientID if that is empty too.
	Issuer string

	// Lifetime is how long an assertion is valid. Zero means
	// [DefaultLifetime].
	Lifetime time.Duration

	// ClockSkew is how far an assertion's NotBefore is back-dated, to
	// allow for a server clock behind ours. Zero means
	// [DefaultClockSkew].
	ClockSkew time.Duration

	// Key signs the assertions: an RSA key of at least [MinKeyBits] bits
	// that matches Certificate. Required. It never leaves the process.
	Key crypto.Signer

	// Certificate is the X.509 certificate registered with the OAuth
	// client in SF. It is sent in the assertion's signature, and its
	// validity dates are checked by [NewTokenSource]. Required.
	Certificate *x509.Certificate
}

// CertNotAfter returns the end of the certificate's validity, or the zero
// time without a certificate. Monitoring can alert on it.
func (c Credential) CertNotAfter() time.Time {
	if c.Certificate == nil {
		return time.Time{}
	}
	return c.Certificate.NotAfter
}

// String describes the credential without secrets.
func (c Credential) String() string {
	return fmt.Sprintf("sfauth.Credential{TokenURL: %q, CompanyID: %q, ClientID: %q, UserID: %q, Mode: %s, Key: %s, Certificate: %s}",
		c.TokenURL, c.CompanyID, c.ClientID, c.UserID, c.Mode, describeKey(c.Key), describeCert(c.Certificate))
}

// GoString is String, so that %#v does not print the key.
func (c Credential) GoString() string { return c.String() }

// Format prints String for every verb, so that no verb reaches the key.
func (c Credential) Format(f fmt.State, verb rune) { fmt.Fprint(f, c.String()) }

// LogValue gives slog the credential without secrets.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("token_url", c.TokenURL),
		slog.String("company_id", c.CompanyID),
		slog.String("client_id", c.ClientID),
		slog.String("user_id", c.UserID),
		slog.String("mode", c.Mode.String()),
		slog.String("key", describeKey(c.Key)),
		slog.String("certificate", describeCert(c.Certificate)),
	)
}

func describeKey(k crypto.Signer) string {
	if k == nil {
		return "none"
	}
	if pub, ok := k.Public().(*rsa.PublicKey); ok && pub != nil && pub.N != nil {
		return fmt.Sprintf("RSA-%d [redacted]", pub.N.BitLen())
	}
	return fmt.Sprintf("%T [redacted]", k.Public())
}

func describeCert(c *x509.Certificate) string {
	if c == nil {
		return "none"
	}
	return fmt.Sprintf("CN=%q notAfter=%s", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339))
}

// check validates the credential at time now and fills in defaults. It
// makes no network call.
func (c Credential) check(now time.Time, allowInsecureLoopback bool) (Credential, *url.URL, error) {
	c.TokenURL = strings.TrimSpace(c.TokenURL)
	c.CompanyID = strings.TrimSpace(c.CompanyID)
	c.ClientID = strings.TrimSpace(c.ClientID)
	c.UserID = strings.TrimSpace(c.UserID)

	var missing []string
	for _, f := range []struct{ name, v string }{
		{"TokenURL", c.TokenURL}, {"CompanyID", c.CompanyID},
		{"ClientID", c.ClientID}, {"UserID", c.UserID},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if c.Key == nil {
		missing = append(missing, "Key")
	}
	if c.Certificate == nil {
		missing = append(missing, "Certificate")
	}
	if len(missing) > 0 {
		return c, nil, fmt.Errorf("%w: missing %s", ErrInvalidCredential, strings.Join(missing, ", "))
	}
	if c.Mode < UserID || c.Mode > Email {
		return c, nil, fmt.Errorf("%w: unknown identifier mode %d", ErrInvalidCredential, int(c.Mode))
	}
	if c.Lifetime < 0 || c.ClockSkew < 0 {
		return c, nil, fmt.Errorf("%w: negative Lifetime or ClockSkew", ErrInvalidCredential)
	}

	u, err := checkTokenURL(c.TokenURL, allowInsecureLoopback)
	if err != nil {
		return c, nil, err
	}
	if err := checkPair(c.Key, c.Certificate); err != nil {
		return c, nil, err
	}
	if now.Before(c.Certificate.NotBefore) {
		return c, nil, fmt.Errorf("%w: certificate not valid before %s", ErrCertificateExpired,
			c.Certificate.NotBefore.UTC().Format(time.RFC3339))
	}

	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.Recipient == "" {
		c.Recipient = c.TokenURL
	}
	if c.Issuer == "" {
		c.Issuer = c.Certificate.Subject.CommonName
	}
	if c.Issuer == "" {
		c.Issuer = c.ClientID
	}
	if c.Lifetime == 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	return c, u, nil
}

func checkTokenURL(raw string, allowInsecureLoopback bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: TokenURL is not an absolute URL without user info", ErrInvalidCredential)
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if allowInsecureLoopback && isLoopback(u.Hostname()) {
			return u, nil
		}
	}
	return nil, fmt.Errorf("%w (got %s://%s)", ErrInsecureTokenURL, u.Scheme, u.Host)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPair fails unless key is RSA of at least MinKeyBits and belongs
// to cert.
func checkPair(key crypto.Signer, cert *x509.Certificate) error {
	pub, ok := key.Public().(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: %T; SuccessFactors needs RSA", ErrUnsupportedKey, key.Public())
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return fmt.Errorf("%w: %d bits, need at least %d", ErrKeyTooSmall, bits, MinKeyBits)
	}
	certPub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(certPub) {
		return fmt.Errorf("%w (certificate CN=%q, serial %s)", ErrKeyMismatch,
			cert.Subject.CommonName, cert.SerialNumber)
	}
	return nil
}
