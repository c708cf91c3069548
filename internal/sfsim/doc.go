// Package sfsim is a SuccessFactors simulator for tests, benchmarks and the
// examples.
//
// A [Server] serves the SAML bearer token endpoint (/oauth/token) and
// OData V2 entity sets under /odata/v2/ with the SF dialect: the JSON
// envelope with d.results, __next and __count, $select, $filter,
// $orderby, $top, $skip, $expand, customPageSize, paging=cursor and
// paging=snapshot, and effective dating (asOfDate, fromDate, toDate).
// Records are generated from a seed, by index, so they are the same on
// every run and a large simulated tenant takes little memory.
//
// The token endpoint verifies the assertion's XML signature against the
// certificate registered for the client id, then its Issuer, time window,
// Audience, Recipient, api_key attribute and user, answering each failure
// with its own SF-shaped message (listed in token.go). $metadata is served
// from the same property lists as the data.
//
// Faults are injected on demand ([Server.Inject]), throttling and latency
// are options, data is changed for incremental runs ([Server.Touch],
// [Server.Add], [Server.Delete]) and every request is logged without
// secrets ([Server.Requests]).
package sfsim
