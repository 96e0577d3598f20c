// Package ratingstate is the trainer's rating state in compact form and its
// binary, incremental checkpoint.
//
// A State holds the latest event per (user, movie) pair in about 24 bytes
// per pair (ids interned to int32, each user's entries in one pointer-free
// block, values as half steps, a 64-bit hash instead of the event id), with
// an order-independent content hash kept up to date by every change, each
// user's Kafka position, a copy-on-write Export for a refit running in
// another goroutine, and TakeDelta, which hands the changes since the last
// checkpoint to the writer in O(users changed).
//
// A Store keeps a state on disk as a base file plus a log of checksummed
// segments, one per Append, each with the Kafka offsets it covers; a
// compaction in the background merges them into a new base by streaming
// the files. Open loads the newest base and replays the log; a torn last
// segment is ignored (its events are read again from Kafka), anything else
// that fails a check is refused. docs/state.md describes the design, the
// file format and the measurements.
//
// The package does no I/O outside a Store's directory, reads no clock and
// keeps no package-level state.
package ratingstate
