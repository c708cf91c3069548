package odata

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// origin is the scheme, host and port a link must keep.
type origin struct {
	scheme, host, port string
}

func originOf(u *url.URL) origin {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	return origin{scheme: scheme, host: strings.ToLower(u.Hostname()), port: port}
}

func defaultPort(scheme string) string {
	switch scheme {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// checkRoot validates a service root and returns it parsed, without a
// trailing slash.
func checkRoot(root string, allowLoopback bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(root), "/"))
	if err != nil {
		return nil, fmt.Errorf("odata: service root: %w", err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("odata: service root %q must be scheme://host/path "+
			"without user information, query or fragment", redactURL(root))
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowLoopback || !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: %s (http is allowed only on loopback with "+
				"Options.AllowInsecureLoopback)", ErrInsecure, u.Redacted())
		}
	default:
		return nil, fmt.Errorf("%w: scheme %q", ErrInsecure, u.Scheme)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolveLink resolves a __next link against the URL of the page that
// carried it and checks it stays on the service root's origin. An
// absolute link is returned verbatim, so its $skiptoken is never
// re-encoded; a relative one is joined to the base with its query kept
// byte for byte.
func resolveLink(root *url.URL, base, link string) (string, error) {
	ref, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("%w: unparsable __next link %q", ErrUnsafeLink, clip(link))
	}
	resolved := link
	if !ref.IsAbs() {
		b, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("%w: base URL: %v", ErrUnsafeLink, err)
		}
		u := b.ResolveReference(ref)
		resolved = u.String()
		ref = u
	}
	if err := sameOrigin(root, ref); err != nil {
		return "", err
	}
	return resolved, nil
}

// resolveNext resolves a __next link with [resolveLink] and checks that
// it names the query's own entity set: a link to another set, even on the
// same service, would stage its rows as this query's.
func (c *Client) resolveNext(q Query, base, link string) (string, error) {
	resolved, err := resolveLink(c.root, base, link)
	if err != nil {
		return "", err
	}
	set, err := entitySetName(q.EntitySet)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(resolved)
	if err != nil {
		return "", fmt.Errorf("%w: unparsable __next link %q", ErrUnsafeLink, clip(link))
	}
	// The path is compared as the server will read it: dot segments in a
	// relative link are resolved above, those in an absolute one are
	// sent as they are and refused here.
	want := c.root.Path + "/" + set
	if got := u.Path; got != want && got != want+"/" {
		return "", fmt.Errorf("%w: __next link path %q is not the entity set's %q", ErrUnsafeLink,
			clip(got), want)
	}
	return resolved, nil
}

// sameOrigin refuses a URL whose scheme, host or port differs from the
// root's. An http link under an https root is refused, not upgraded: a
// server that sends one is misconfigured, and following it quietly would
// hide that.
func sameOrigin(root, u *url.URL) error {
	want, got := originOf(root), originOf(u)
	if u.User != nil {
		return fmt.Errorf("%w: link carries user information", ErrUnsafeLink)
	}
	if got != want {
		return fmt.Errorf("%w: %s://%s:%s is not the service %s://%s:%s", ErrUnsafeLink,
			got.scheme, got.host, got.port, want.scheme, want.host, want.port)
	}
	return nil
}
