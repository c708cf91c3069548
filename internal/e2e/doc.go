// Package e2e holds the end-to-end tests of sfconnector: whole runs
// against the SuccessFactors simulator over TLS and a real S3 server,
// with faults injected on both sides, and the security checks that only
// a whole run can make (no secret in any log line, error or state
// record; no request to a host a __next link names; no key built from
// unchecked input).
//
// The package has no API. Its tests are bounded in time and data so that
// they run in CI; `go test -v ./internal/e2e` prints the fault matrix.
package e2e
