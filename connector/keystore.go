package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strings"
)

// Keystore resolves a name or alias to secret bytes. Implementations are
// safe for concurrent use and never put a secret in an error.
type Keystore interface {
	// Secret returns the bytes stored under name, or an error that
	// wraps [ErrSecretNotFound] when there are none.
	Secret(ctx context.Context, name string) ([]byte, error)
}

// ErrSecretNotFound is wrapped by the error for a name the keystore does
// not hold.
var ErrSecretNotFound = errors.New("connector: secret not found")

// SecretError reports a secret that could not be resolved. It names the
// secret, never its value.
type SecretError struct {
	// Name is the secret's name or alias.
	Name string

	// Where says where it was looked for: "environment variable X" or
	// "directory D".
	Where string

	// Reason says what went wrong, such as "not set" or "empty".
	Reason string

	// Err is the cause, such as [ErrSecretNotFound]; it may be nil.
	Err error
}

// Error names the secret, where it was looked for and why it failed.
func (e *SecretError) Error() string {
	return fmt.Sprintf("connector: secret %q (%s): %s", e.Name, e.Where, e.Reason)
}

// Unwrap returns the cause.
func (e *SecretError) Unwrap() error { return e.Err }

// maxSecretBytes bounds one secret; a PKCS#12 bundle is a few KiB.
const maxSecretBytes = 1 << 20

var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckSecretName reports whether name can name a secret in every
// keystore: letters, digits, dot, underscore and hyphen, starting with a
// letter or digit, at most 128 bytes. A name is never a path.
func CheckSecretName(name string) error {
	if !secretNameRE.MatchString(name) {
		return fmt.Errorf("connector: secret name %q: want [A-Za-z0-9][A-Za-z0-9._-]{0,127}", truncate(name, 80))
	}
	return nil
}

// EnvKeystore reads secrets from environment variables: the secret named
// "sf-cred.prod" is in SFCONNECTOR_SECRET_SF_CRED_PROD (see [EnvVarName]).
// The zero value reads the process environment.
type EnvKeystore struct {
	// Lookup reads a variable; nil means os.LookupEnv.
	Lookup func(key string) (string, bool)
}

// EnvVarName is the variable that holds the secret name: the name
// upper-cased, every character other than a letter or digit replaced by
// an underscore, after SFCONNECTOR_SECRET_.
func EnvVarName(name string) string {
	var b strings.Builder
	b.WriteString("SFCONNECTOR_SECRET_")
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Secret returns the variable's value.
func (k EnvKeystore) Secret(ctx context.Context, name string) ([]byte, error) {
	if err := CheckSecretName(name); err != nil {
		return nil, err
	}
	lookup := k.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v := EnvVarName(name)
	s, ok := lookup(v)
	where := "environment variable " + v
	switch {
	case !ok:
		return nil, &SecretError{Name: name, Where: where, Reason: "not set", Err: ErrSecretNotFound}
	case s == "":
		return nil, &SecretError{Name: name, Where: where, Reason: "empty", Err: ErrSecretNotFound}
	case len(s) > maxSecretBytes:
		return nil, &SecretError{Name: name, Where: where, Reason: "larger than 1 MiB"}
	}
	return []byte(s), nil
}

// DirKeystore reads secrets from files: the secret named n is the file
// Dir/n, as Kubernetes and most secret managers mount them. A trailing
// newline is removed. Names cannot leave Dir.
type DirKeystore struct {
	// Dir is the directory; the secret named N is in the file Dir/N.
	Dir string
}

// Secret returns the file's bytes.
func (k DirKeystore) Secret(ctx context.Context, name string) ([]byte, error) {
	if err := CheckSecretName(name); err != nil {
		return nil, err
	}
	where := "directory " + k.Dir
	fail := func(reason string, err error) ([]byte, error) {
		return nil, &SecretError{Name: name, Where: where, Reason: reason, Err: err}
	}
	if k.Dir == "" {
		return fail("no directory configured", ErrSecretNotFound)
	}
	// OpenInRoot follows the symbolic links secret mounts use, but none
	// that leads out of the directory.
	f, err := os.OpenInRoot(k.Dir, name)
	if errors.Is(err, fs.ErrNotExist) {
		return fail("no such file", ErrSecretNotFound)
	}
	if err != nil {
		return fail("cannot open", errors.Unwrap(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
	if err != nil {
		return fail("cannot read", nil)
	}
	if len(data) > maxSecretBytes {
		return fail("larger than 1 MiB", nil)
	}
	data = bytes.TrimRight(data, "\r\n")
	if len(data) == 0 {
		return fail("empty", ErrSecretNotFound)
	}
	return data, nil
}
