// Package s3test starts a real S3 server, Versity Gateway (versitygw), on
// loopback for tests.
//
// The binary is found as $VERSITYGW, on PATH, or in $GOPATH/bin. When it
// is missing a test fails if the environment variable CI is set, and is
// skipped with a notice otherwise.
//
// Starting a server takes a fraction of a second; a test binary that uses
// one in many tests shares it with [Shared] and stops it in TestMain with
// [StopShared]. Each test takes a fresh bucket with [Server.NewBucket] or
// [Server.Store], so tests never see each other's objects.
package s3test
