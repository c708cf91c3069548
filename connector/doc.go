// Package connector moves SuccessFactors data to S3 staging, one run per
// data type. It composes the building blocks: [odata] reads pages,
// [sfauth] signs in, [staging] stores pages and manifests, [runstate]
// keeps each run's state record.
//
// A host builds a [Connector] from a [TenantConfig] and a [Keystore] with
// [NewFromTenant], or from parts with [New]. [Connector.Submit] checks a
// data type against the [Catalog], writes a queued state record, hands
// the run to a [Queue] and returns the run id; workers started with
// [Connector.Start] take runs from the queue. [Connector.Run] does both
// in the calling goroutine. The package-level [Run] builds a connector
// from the environment for one call.
//
// # Runs
//
// A worker claims a run by compare-and-swap, renews its lease with a
// heartbeat, and reads the data type's query page by page. Each page is
// transformed (see [Transformer]), deduplicated by entity key, encoded
// as gzip NDJSON and written to
//
//	{base}/{dataType}/{runID}/pages/{attempt}/{seq:06}.jsonl.gz
//
// while the next page is fetched; at most [Options.PagesInFlight] pages
// are held at once, so memory does not grow with the page count; only the
// set of staged entity keys does, by 16 bytes a record. The manifest is
// written after the last page, then the state turns done. A failed run
// ends in state failed with an [ErrorKind] an operator can act on.
//
// When SF drops a snapshot mid-read, the run starts over from the first
// page once; when a later page keeps timing out at SF's gateway (502,
// 504), it starts over with half the page size, since SF fixes the size
// with the first request. A run starts over at most three times in all.
// The pages of an abandoned pass are replaced, and the manifest lists
// only the complete pass. Every query asks for $inlinecount, and a run
// whose rows differ from the count on the first page fails as
// [KindIncomplete].
//
// # Several machines
//
// With [Options.SharedQueue] (or a [NewS3Queue] as [Options.Queue]) the
// queued state records in the bucket are the queue: workers on any number
// of machines list them, claim one by compare-and-swap, and take over runs
// whose lease ran out. A worker that cannot renew its lease in time stops
// sending requests before another may take the run over.
//
// With the default in-process queue, [Connector.Start] also picks up the
// runs an earlier process left queued or let expire.
//
// # Observability
//
// An optional [Observer] receives run, page and retry events; an optional
// *slog.Logger receives one structured record per event with the run id
// and data type as attributes. Both default to nothing. Secrets never
// reach either, nor an error or a state record.
package connector
