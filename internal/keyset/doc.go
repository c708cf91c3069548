// Package keyset remembers which entity keys a run has staged, in memory
// that stays nearly flat however many keys there are.
//
// A [Set] keeps 128-bit hashes of the keys. The newest keys are held in
// a small in-memory table; when it fills, they are sorted and written to
// a temporary file (a run), and runs of similar size are merged as they
// accumulate, so there are never more than a few dozen. A Bloom filter of
// 1 to 1.5 bytes a spilled key answers all but about 2% of lookups
// of new keys without touching the disk; a hit is checked in the runs,
// with one read per run through a sparse in-memory index. A million keys
// take about 2 MiB of memory rather than the 53 MiB of a Go map of the
// same hashes.
//
// Two different keys share a hash with probability about n²/2¹²⁹ for n
// keys: for a billion keys, about one in 10²¹.
//
// The files are unlinked as soon as they are created where the system
// allows it, so nothing is left behind if the process dies; Close
// releases them. If the disk fails, a Set keeps the keys in memory
// instead and stays correct; [Set.Err] reports the first such failure.
//
// A Set is not safe for concurrent use.
package keyset
