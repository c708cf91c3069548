// Package bench holds the benchmarks of sfconnector as a whole: the
// connector run end to end against the SuccessFactors simulator
// (internal/sfsim) and a real S3 server on loopback (internal/s3test),
// with latency added on either side (sfsim's Options.Latency and the
// proxy of internal/s3latency).
//
// The script bench/run runs them and prints one table of four figures,
// each a ratio of two measurements taken in the same run:
//
//   - overlap: the time of a run of N pages whose source answers each
//     page after S and whose store takes K to accept each page object,
//     over N·max(S, K). A pipeline that fetches the next page while the
//     last one uploads comes close to 1; a sequential one to (S+K)/max.
//   - overhead: records per second of a whole run with no latency added,
//     over records per second of a plain HTTP client that reads the same
//     pages from the simulator and discards them.
//   - transform: bytes per second of an SF JSON page turned into a gzip
//     NDJSON page object by the connector, over a plain baseline that
//     decodes into maps and re-encodes with encoding/json and
//     compress/gzip.
//   - memory: peak heap and peak RSS of a run of 1,000,000 records over
//     those of a run of 10,000, each in a process of its own, with the
//     simulator in another.
//
// The benchmarks are ordinary Go benchmarks; `go test ./bench` runs only
// a short smoke test of the harness.
package bench
