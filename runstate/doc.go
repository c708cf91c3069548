// Package runstate keeps the state record of a run and lets the ingestion
// side follow it.
//
// A run moves through four statuses:
//
//	queued ──▶ running ──▶ done
//	   │          │ ▲
//	   │          └─┘ progress, heartbeat, takeover (attempt + 1)
//	   └──────────┴──▶ failed
//
// done and failed are final. The record lives at
// {base}/{dataType}/{runID}/state.json (see [staging.Layout]) and every write
// is a compare-and-swap on its ETag: [Tracker.Create] writes with
// If-None-Match: * and [Tracker.Update] with If-Match, so of two writers
// racing on one record exactly one wins and the other gets [ErrConflict].
// A write the state machine forbids gets [ErrIllegalTransition] and nothing
// is written.
//
// A worker claims a run with [Tracker.Claim], which grants a lease, and keeps
// the lease with a [Heartbeat]. A running run whose lease has expired is
// stale; another worker may claim it, which starts a new attempt. The old
// worker learns of it on its next heartbeat ([Heartbeat.Lost]) and must stop
// writing. Each attempt writes its pages under pages/{attempt}/, and the
// manifest of a done run lists the pages of one attempt only.
//
// The ingestion side uses a [Reader]: it lists runs, waits for one to end,
// and iterates the records of a done run page by page, checking each page
// against the manifest before yielding any of its records.
//
// Times in records are UTC. The package logs nothing.
package runstate
