// Package e2e holds the end-to-end tests of sfconnector: whole runs
// against the SuccessFactors simulator over TLS and a real S3 server
// behind a fault proxy, with faults injected on both sides, and the
// security checks that only a whole run can make (no secret in any log
// line, error or state record; no request to a host a __next link names;
// no key built from unchecked input; no work on forged state records).
//
// The package has no API. Its tests are bounded in time and data so that
// they run in CI; `go test -v ./internal/e2e` prints the fault matrix, one
// row per fault with the run's outcome, error kind, records staged
// against expected, and duplicates. The random fault mixes log their seed;
// SFCONNECTOR_E2E_SEED replays one.
package e2e
