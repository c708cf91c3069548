package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/techwolf/sfconnector/staging"
)

// TenantConfig holds one installation's settings, with the field names of
// the seed's TenantConfig value mapping. It names secrets; it holds none.
type TenantConfig struct {
	// SFAddress is the base URL of the SF API server, e.g.
	// "https://api.successfactors.eu". OData is read under /odata/v2.
	SFAddress string `json:"SF_address"`

	// SFCredentialName names the keystore entry holding the SAML bearer
	// credential (the JSON form described at [LoadSFCredential]).
	SFCredentialName string `json:"SF_credential_name"`

	// S3Bucket is the bucket runs are staged in.
	S3Bucket string `json:"S3_bucket"`

	// S3Region is the bucket's region, e.g. "eu-west-1".
	S3Region string `json:"S3_region"`

	// S3BasePath is the key prefix runs are staged under; it may be
	// empty (see docs/layout.md for what it may hold).
	S3BasePath string `json:"S3_base_path"`

	// S3AccessKeyAlias names the keystore entry of the S3 access key id.
	S3AccessKeyAlias string `json:"S3_access_key_alias"`

	// S3SecretKeyAlias names the keystore entry of the S3 secret key.
	S3SecretKeyAlias string `json:"S3_secret_key_alias"`

	// S3Endpoint is optional: an S3-compatible server's URL instead of
	// AWS's endpoint for the region. Path-style addressing is used with it.
	S3Endpoint string `json:"S3_endpoint,omitempty"`
}

// ConfigOptions loosens the checks of a [TenantConfig]. The zero value is
// what production needs.
type ConfigOptions struct {
	// AllowInsecureLoopback permits http:// for SF_address and
	// S3_endpoint when the host is a loopback address, for tests.
	AllowInsecureLoopback bool

	// LocalStaging says the runs are staged somewhere other than the
	// tenant's bucket, such as a local directory: the S3 bucket, region,
	// key aliases and endpoint are then neither required nor checked.
	// S3_base_path still is, as runs are staged under it wherever they go.
	LocalStaging bool
}

// ConfigError lists every problem of a tenant config. Problems name the
// field; none quotes a secret, as the config holds none.
type ConfigError struct {
	// Problems lists every problem, each starting with the field's name.
	Problems []string
}

// Error lists the problems.
func (e *ConfigError) Error() string {
	return "connector: invalid tenant config: " + strings.Join(e.Problems, "; ")
}

// LoadTenantConfig decodes a tenant config from JSON and checks it with
// the zero [ConfigOptions]. Unknown fields, fields given more than once,
// wrong types and invalid values are reported together in one
// [*ConfigError].
func LoadTenantConfig(r io.Reader) (*TenantConfig, error) {
	return LoadTenantConfigOptions(r, ConfigOptions{})
}

// LoadTenantConfigFile reads a tenant config from a JSON file, as
// [LoadTenantConfig] does; the error names the file.
func LoadTenantConfigFile(path string) (*TenantConfig, error) {
	return loadTenantConfigFile(path, ConfigOptions{})
}

func loadTenantConfigFile(path string, opts ConfigOptions) (*TenantConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("connector: tenant config: %w", err)
	}
	defer f.Close()
	cfg, err := LoadTenantConfigOptions(f, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// LoadTenantConfigOptions is [LoadTenantConfig] with options.
func LoadTenantConfigOptions(r io.Reader, opts ConfigOptions) (*TenantConfig, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("connector: read tenant config: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, &ConfigError{Problems: []string{"larger than 1 MiB"}}
	}

	cfg, problems, mistyped, err := decodeFields(data)
	if err != nil {
		return nil, &ConfigError{Problems: []string{err.Error()}}
	}
	problems = append(problems, cfg.problems(opts, mistyped)...)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

// decodeFields reads the top-level JSON object key by key, so that an
// unknown, repeated or mistyped field does not hide the problems after it.
// A repeated key is a problem rather than last-one-wins: two SF_address
// values mean the file was edited wrongly, and guessing which one was
// meant could send a credential to the wrong host. err is set only when
// the document is not one JSON object.
func decodeFields(data []byte) (*TenantConfig, []string, map[string]bool, error) {
	var cfg TenantConfig
	fields := map[string]*string{
		"SF_address":          &cfg.SFAddress,
		"SF_credential_name":  &cfg.SFCredentialName,
		"S3_bucket":           &cfg.S3Bucket,
		"S3_region":           &cfg.S3Region,
		"S3_base_path":        &cfg.S3BasePath,
		"S3_access_key_alias": &cfg.S3AccessKeyAlias,
		"S3_secret_key_alias": &cfg.S3SecretKeyAlias,
		"S3_endpoint":         &cfg.S3Endpoint,
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	notObject := func(err error) error {
		return errors.New("not a JSON object: " + jsonProblem(err))
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, nil, notObject(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, nil, errors.New("not a JSON object")
	}
	count := map[string]int{}
	mistyped := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, notObject(err)
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, nil, notObject(err)
		}
		if count[name]++; count[name] > 1 {
			continue
		}
		if dst, ok := fields[name]; ok && json.Unmarshal(raw, dst) != nil {
			mistyped[name] = true
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, nil, nil, notObject(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, nil, errors.New("trailing data after the JSON object")
	}

	var problems []string
	for _, name := range slices.Sorted(maps.Keys(count)) {
		if _, known := fields[name]; !known {
			problems = append(problems, fmt.Sprintf("unknown field %q", truncate(name, 64)))
			continue
		}
		if mistyped[name] {
			problems = append(problems, name+": want a string")
		}
		if n := count[name]; n > 1 {
			problems = append(problems, fmt.Sprintf("%s: given %d times; give it once", name, n))
		}
	}
	return &cfg, problems, mistyped, nil
}

// jsonProblem describes a JSON syntax error by position only.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if err == io.EOF {
		return "empty"
	}
	return "malformed"
}

// Validate checks c and lists every problem in a [*ConfigError].
func (c *TenantConfig) Validate(opts ConfigOptions) error {
	if p := c.problems(opts, nil); len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// problems lists what is wrong with c, leaving out the fields in skip
// (already reported as mistyped).
func (c *TenantConfig) problems(opts ConfigOptions, skip map[string]bool) []string {
	var p []string
	add := func(field, format string, args ...any) {
		if !skip[field] {
			p = append(p, field+": "+fmt.Sprintf(format, args...))
		}
	}

	if c.SFAddress == "" {
		add("SF_address", "missing")
	} else if err := checkBaseURL(c.SFAddress, opts.AllowInsecureLoopback, false); err != "" {
		add("SF_address", "%s", err)
	}
	names := []struct{ name, value string }{
		{"SF_credential_name", c.SFCredentialName},
	}
	if !opts.LocalStaging {
		names = append(names,
			struct{ name, value string }{"S3_access_key_alias", c.S3AccessKeyAlias},
			struct{ name, value string }{"S3_secret_key_alias", c.S3SecretKeyAlias})
	}
	for _, f := range names {
		if f.value == "" {
			add(f.name, "missing")
		} else if err := CheckSecretName(f.value); err != nil {
			add(f.name, "%s", strings.TrimPrefix(err.Error(), "connector: "))
		}
	}
	if !opts.LocalStaging {
		c.s3Problems(opts, add)
	}
	if err := staging.CheckBasePath(c.S3BasePath); err != nil {
		var le *staging.LayoutError
		if errors.As(err, &le) {
			add("S3_base_path", "%q: %s", truncate(c.S3BasePath, 80), le.Reason)
		} else {
			add("S3_base_path", "%v", err)
		}
	}
	return p
}

// s3Problems checks the fields that say where the tenant's bucket is.
func (c *TenantConfig) s3Problems(opts ConfigOptions, add func(field, format string, args ...any)) {
	if c.S3Bucket == "" {
		add("S3_bucket", "missing")
	} else if err := checkBucket(c.S3Bucket); err != "" {
		add("S3_bucket", "%q: %s", truncate(c.S3Bucket, 80), err)
	}
	if c.S3Region == "" {
		add("S3_region", "missing")
	} else if !regionRE.MatchString(c.S3Region) {
		add("S3_region", "%q: want a region name such as eu-west-1", truncate(c.S3Region, 80))
	}
	if c.S3Endpoint != "" {
		if err := checkBaseURL(c.S3Endpoint, opts.AllowInsecureLoopback, true); err != "" {
			add("S3_endpoint", "%s", err)
		}
	}
}

// regionRE accepts AWS region names (eu-west-1) and the short names S3
// servers elsewhere use (us, garage).
var regionRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,31}$`)

// checkBaseURL checks an https base URL with no path beyond "/" (or any
// path for an S3 endpoint), no user info, query or fragment.
func checkBaseURL(raw string, allowLoopbackHTTP, pathOK bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "not a URL"
	}
	host := u.Hostname()
	switch {
	case u.Scheme == "http" && allowLoopbackHTTP && isLoopback(host):
	case u.Scheme == "http":
		return "must use https (http is allowed only on loopback, and only when asked for)"
	case u.Scheme != "https":
		return fmt.Sprintf("scheme %q, want https", truncate(u.Scheme, 16))
	}
	switch {
	case host == "":
		return "no host"
	case u.User != nil:
		return "must not hold a user name or password"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "must not have a query or fragment"
	case !pathOK && u.Path != "" && u.Path != "/":
		return "must be the server's base URL, without a path"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// checkBucket applies S3's naming rules for general purpose buckets.
func checkBucket(b string) string {
	switch {
	case len(b) < 3 || len(b) > 63:
		return "must be 3 to 63 characters"
	case !bucketRE.MatchString(b):
		return "only lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit"
	case strings.Contains(b, ".."):
		return "must not hold two adjacent dots"
	case net.ParseIP(b) != nil:
		return "must not look like an IP address"
	}
	for _, pre := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, pre) {
			return fmt.Sprintf("must not start with %q", pre)
		}
	}
	for _, suf := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, suf) {
			return fmt.Sprintf("must not end with %q", suf)
		}
	}
	return ""
}

var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*[a-z0-9]$`)

// serviceURL is the OData V2 service root under SF_address.
func (c *TenantConfig) serviceURL() string {
	return strings.TrimSuffix(c.SFAddress, "/") + "/odata/v2"
}
