// Package staging stores the output of runs: an object [Store] with
// S3-compatible semantics, the key [Layout] of staged data, gzip NDJSON
// pages and the run manifest.
//
// Two stores are provided. [S3Store] talks to S3 or any S3 server that
// honours conditional writes (If-None-Match and If-Match on PutObject).
// [DirStore] keeps objects in a local directory with the same semantics,
// including conditional writes that hold across processes, so several
// workers on one machine can share it.
//
// Staged data follows layout version 1:
//
//	{base}/{dataType}/{runID}/state.json
//	{base}/{dataType}/{runID}/pages/{attempt}/{seq:06}.jsonl.gz
//	{base}/{dataType}/{runID}/manifest.json
//
// Every part of a key is checked before use; a bad part is a
// [*LayoutError]. A page is written with a [PageEncoder] and [WritePage],
// listed in a [Manifest], and read back with [OpenPage], which checks the
// page against its manifest entry.
//
// The package logs nothing.
package staging
