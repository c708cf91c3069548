package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/techwolf/sfconnector/sfauth"
)

// sfCredentialDoc is the JSON form of an SF credential in a keystore.
type sfCredentialDoc struct {
	CompanyID      string `json:"companyId"`
	ClientID       string `json:"clientId"`
	UserID         string `json:"userId"`
	PrivateKey     string `json:"privateKey"`
	Certificate    string `json:"certificate"`
	PKCS12         string `json:"pkcs12"`
	PKCS12Password string `json:"pkcs12Password"`
	TokenURL       string `json:"tokenUrl"`
	Audience       string `json:"audience"`
}

// ErrBadCredential is wrapped by the error for an SF credential secret
// that is present but unusable.
var ErrBadCredential = errors.New("connector: unusable SF credential")

// LoadSFCredential resolves the keystore entry name to an SF SAML bearer
// credential. The entry is JSON:
//
//	{"companyId":"..","clientId":"..","userId":"..",
//	 "privateKey":"<PEM>","certificate":"<PEM>",
//	 "tokenUrl":"(optional; default sfAddress+/oauth/token)","audience":"(optional)"}
//
// or, instead of privateKey and certificate, "pkcs12":"<base64>" and
// "pkcs12Password":"..". Errors name the entry and the field at fault,
// never a value.
//
// A tokenUrl must have SF_address's scheme and host (a port of 443 is the
// same as none): the token request carries the signed assertion, so a
// typing error or a tampered entry must not send it to another server.
// Such an entry is refused with a [*ConfigError] naming both hosts.
func LoadSFCredential(ctx context.Context, ks Keystore, name, sfAddress string) (sfauth.Credential, error) {
	secret, err := ks.Secret(ctx, name)
	if err != nil {
		return sfauth.Credential{}, err
	}
	defer clear(secret)

	bad := func(reason string, err error) (sfauth.Credential, error) {
		if err != nil {
			return sfauth.Credential{}, fmt.Errorf("%w %q: %s: %w", ErrBadCredential, name, reason, err)
		}
		return sfauth.Credential{}, fmt.Errorf("%w %q: %s", ErrBadCredential, name, reason)
	}

	var doc sfCredentialDoc
	dec := json.NewDecoder(bytes.NewReader(secret))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		// The decoder's message may quote input; say only where.
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			return bad(fmt.Sprintf("field %q: wrong type", ute.Field), nil)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return bad(strings.TrimPrefix(err.Error(), "json: "), nil)
		default:
			return bad("not a JSON object ("+jsonProblem(err)+")", nil)
		}
	}
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"companyId", doc.CompanyID}, {"clientId", doc.ClientID}, {"userId", doc.UserID},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	pem := doc.PrivateKey != "" || doc.Certificate != ""
	switch {
	case pem && doc.PKCS12 != "":
		return bad("holds both privateKey/certificate and pkcs12; keep one", nil)
	case !pem && doc.PKCS12 == "":
		missing = append(missing, "privateKey and certificate, or pkcs12")
	case pem && doc.PrivateKey == "":
		missing = append(missing, "privateKey")
	case pem && doc.Certificate == "":
		missing = append(missing, "certificate")
	}
	if len(missing) > 0 {
		return bad("missing "+strings.Join(missing, ", "), nil)
	}

	cred := sfauth.Credential{
		TokenURL:  doc.TokenURL,
		CompanyID: doc.CompanyID,
		ClientID:  doc.ClientID,
		UserID:    doc.UserID,
		Audience:  doc.Audience,
	}
	if cred.TokenURL == "" {
		cred.TokenURL = strings.TrimSuffix(sfAddress, "/") + "/oauth/token"
	} else if problem := tokenURLProblem(cred.TokenURL, sfAddress); problem != "" {
		return sfauth.Credential{}, &ConfigError{Problems: []string{
			fmt.Sprintf("SF_credential_name: entry %q: %s", name, problem)}}
	}
	if pem {
		cred.Key, cred.Certificate, err = sfauth.LoadPEM([]byte(doc.PrivateKey), []byte(doc.Certificate))
	} else {
		cred.Key, cred.Certificate, err = sfauth.LoadPKCS12([]byte(doc.PKCS12), doc.PKCS12Password)
	}
	if err != nil {
		return bad("key and certificate", err)
	}
	return cred, nil
}

// s3Keys resolves the S3 access key id and secret key of cfg.
func s3Keys(ctx context.Context, ks Keystore, cfg *TenantConfig) (access, secret string, err error) {
	a, err := ks.Secret(ctx, cfg.S3AccessKeyAlias)
	if err != nil {
		return "", "", err
	}
	s, err := ks.Secret(ctx, cfg.S3SecretKeyAlias)
	if err != nil {
		return "", "", err
	}
	return strings.TrimSpace(string(a)), strings.TrimSpace(string(s)), nil
}

// tokenURLProblem says why tokenURL may not receive the assertion for
// sfAddress, or returns "" when it may: same scheme, same host, same port
// once the scheme's default port is taken out.
func tokenURLProblem(tokenURL, sfAddress string) string {
	tu, err := url.Parse(tokenURL)
	if err != nil || tu.Host == "" {
		return "tokenUrl is not an absolute URL"
	}
	su, err := url.Parse(sfAddress)
	if err != nil || su.Host == "" {
		return "SF_address is not an absolute URL"
	}
	switch {
	case tu.User != nil:
		return "tokenUrl must not hold a user name or password"
	case !strings.EqualFold(tu.Scheme, su.Scheme):
		return fmt.Sprintf("tokenUrl scheme %q differs from SF_address scheme %q; the token must come from the SF server itself",
			truncate(tu.Scheme, 16), truncate(su.Scheme, 16))
	case normalHost(tu) != normalHost(su):
		return fmt.Sprintf("tokenUrl host %q differs from SF_address host %q; the token must come from the SF server itself",
			truncate(normalHost(tu), 100), truncate(normalHost(su), 100))
	}
	return ""
}

// normalHost returns u's host in lower case, with the scheme's default
// port dropped, so that "api.example:443" and "API.example" compare equal.
func normalHost(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	switch {
	case port == "",
		port == "443" && strings.EqualFold(u.Scheme, "https"),
		port == "80" && strings.EqualFold(u.Scheme, "http"):
		return host
	}
	return host + ":" + port
}
