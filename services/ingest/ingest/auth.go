package ingest

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
)

// tokenSet checks bearer tokens in constant time: every configured token
// is compared, whatever matched, and the comparison is on SHA-256 digests,
// so neither the position of a mismatch nor a token's length leaks.
type tokenSet struct {
	digests [][32]byte
}

func newTokenSet(tokens []string) tokenSet {
	ts := tokenSet{}
	for _, t := range tokens {
		ts.digests = append(ts.digests, sha256.Sum256([]byte(t)))
	}
	return ts
}

func (ts tokenSet) enabled() bool { return len(ts.digests) > 0 }

// allow reports whether header is "Bearer <a configured token>".
func (ts tokenSet) allow(header string) bool {
	const prefix = "bearer "
	if len(header) < len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	ok := 0
	for _, d := range ts.digests {
		ok |= subtle.ConstantTimeCompare(got[:], d[:])
	}
	return ok == 1
}
