package ratingstate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
)

// Hash is the content hash of a rating state: an order-independent
// multiset hash of its entries. Two states hash alike exactly when they hold
// the same latest event for every (user, movie) pair (up to collisions of
// SHA-256). The zero Hash is the empty state's.
type Hash [32]byte

// String is the hash in lower-case hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// sum is a Hash as four 64-bit lanes. The state's hash is the lane-wise sum
// (mod 2^64) of its entries' SHA-256 digests, so adding an entry is one
// addition and replacing one is a subtraction and an addition, whatever
// the order in which they arrived (MSet-Add-Hash, Clarke et al. 2003).
type sum [4]uint64

func (s *sum) add(d sum) {
	for i := range s {
		s[i] += d[i]
	}
}

func (s *sum) sub(d sum) {
	for i := range s {
		s[i] -= d[i]
	}
}

func (s sum) hash() Hash {
	var h Hash
	for i, v := range s {
		binary.LittleEndian.PutUint64(h[8*i:], v)
	}
	return h
}

func sumOf(h Hash) sum {
	var s sum
	for i := range s {
		s[i] = binary.LittleEndian.Uint64(h[8*i:])
	}
	return s
}

// entryDigestVersion is the first byte of what an entry's digest covers;
// bumped if that ever changes, so old and new hashes can never match.
const entryDigestVersion = 1

// entryDigest is the SHA-256 digest of one entry as lanes: the user and
// movie ids (length-prefixed), the value, the event time and the event
// hash. Ids, not indices: the indices depend on the order of arrival.
func entryDigest(user, movie string, code uint8, ts int64, eh uint64) sum {
	var stack [160]byte
	buf := stack[:0]
	if n := len(user) + len(movie) + 32; n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = append(buf, entryDigestVersion)
	buf = binary.AppendUvarint(buf, uint64(len(user)))
	buf = append(buf, user...)
	buf = binary.AppendUvarint(buf, uint64(len(movie)))
	buf = append(buf, movie...)
	buf = append(buf, code)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(ts))
	buf = binary.LittleEndian.AppendUint64(buf, eh)
	d := sha256.Sum256(buf)
	return sumOf(d)
}

// EventHash is the 64-bit hash the state keeps instead of an event id: the
// first 8 bytes of the id's SHA-256, little-endian. The same event always
// hashes alike (so a duplicate compares equal and changes nothing), and two
// events at the same event time are ordered by it, which is as
// deterministic as ordering by the id itself.
func EventHash(eventID string) uint64 {
	var stack [128]byte
	var d [32]byte
	if len(eventID) <= len(stack) {
		n := copy(stack[:], eventID)
		d = sha256.Sum256(stack[:n])
	} else {
		d = sha256.Sum256([]byte(eventID))
	}
	return binary.LittleEndian.Uint64(d[:8])
}

// newer reports whether the event (ts, eh) supersedes (ots, oeh): a later
// event time, or the same time and a greater event hash. The same event is
// never newer than itself.
func newer(ts int64, eh uint64, ots int64, oeh uint64) bool {
	if ts != ots {
		return ts > ots
	}
	return eh > oeh
}

// The values a state holds: 0 (seen, no signal) and 0.5..5 in half steps,
// kept as their number of half steps (0..10) in 4 bits.
const (
	maxCode  = 10
	codeBits = 4
)

// valueCode is v's number of half steps, and whether v is a value the state
// can hold.
func valueCode(v float32) (uint8, bool) {
	x := float64(v) * 2
	if x < 0 || x > maxCode || x != math.Trunc(x) {
		return 0, false
	}
	return uint8(x), true
}

// codeValue is the value of a number of half steps.
func codeValue(c uint8) float32 { return float32(c) / 2 }

// ValidValue reports whether v can be held: 0 or 0.5..5 in steps of 0.5.
func ValidValue(v float32) bool {
	_, ok := valueCode(v)
	return ok
}
