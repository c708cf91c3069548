// Package s3latency is a loopback reverse proxy for tests and benchmarks
// that sits in front of a real S3 server (see internal/s3test) and makes
// it slow or faulty on demand.
//
// A [Proxy] forwards every request unchanged, keeping the client's Host
// header so that SigV4 signatures still verify at the server behind it.
// Before forwarding it can wait: [Options.Latency] for every request, or
// only for the requests [Options.Match] selects, such as the PUTs of page
// objects. [Proxy.SetLatency] changes the wait while the proxy serves.
//
// Faults answer as S3 does when it is unwell: [InternalError] is 500
// with S3's XML error body and code InternalError, [SlowDown] is 503
// with code SlowDown. A fault may first forward the request, so the
// object is written but the client sees the error, as when an answer is
// lost. [Refuse] resets the matching request's connection and refuses
// every new connection for a while; [Proxy.Refuse] does the same at
// once. The listening port stays the same throughout, so a client sees
// "connection refused" and later reaches the server again.
//
// [Proxy.Requests] is the log of what reached the proxy, with the status
// each request got, for tests that count retries.
//
// Everything listens on 127.0.0.1 only. A Proxy is safe for concurrent
// use.
package s3latency
