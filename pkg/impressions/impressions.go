// Package impressions remembers which movies were dealt to each user, so
// the swipe deck never deals one twice: in the NATS JetStream KV bucket
// SWIPEFLIX_DECK (KV, shared by every api replica and surviving restarts)
// or in memory (Memory, for an api without a NATS connection).
//
// Each user's list is bounded (the oldest impressions fall out first) and,
// in the bucket, expires after a period without a deal.
package impressions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the JetStream KV bucket of the deck's impressions: one key per
// user (the user id, base64url-encoded: KV keys allow few characters),
// whose value is the JSON array of the movie ids dealt, oldest first.
const Bucket = "SWIPEFLIX_DECK"

// ErrContended means a user's list changed under every attempt to update
// it (many deals for one user at once); the caller may retry.
var ErrContended = errors.New("impressions: too many concurrent updates for one user")

// DealFunc receives the movies dealt to a user so far, oldest first, and
// returns the movies it deals now (none: nothing is stored). It may run
// more than once when another deal for the same user raced it; it must not
// keep dealt.
type DealFunc func(dealt []string) (add []string, err error)

// trim keeps the newest max ids of list.
func trim(list []string, max int) []string {
	if max > 0 && len(list) > max {
		return list[len(list)-max:]
	}
	return list
}

// Memory keeps impressions in the process: at most MaxPerUser per user and
// MaxUsers users (past that, an arbitrary user is forgotten). It is safe
// for concurrent use.
type Memory struct {
	maxPerUser, maxUsers int
	mu                   sync.Mutex
	users                map[string][]string
}

// NewMemory returns an empty in-memory store.
func NewMemory(maxPerUser, maxUsers int) *Memory {
	return &Memory{maxPerUser: maxPerUser, maxUsers: maxUsers, users: map[string][]string{}}
}

// Update runs deal with user's impressions and stores what it adds, under
// one lock.
func (m *Memory) Update(_ context.Context, user string, deal DealFunc) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.users[user]
	add, err := deal(prev)
	if err != nil || len(add) == 0 {
		return err
	}
	if _, ok := m.users[user]; !ok && m.maxUsers > 0 && len(m.users) >= m.maxUsers {
		for u := range m.users {
			delete(m.users, u)
			break
		}
	}
	next := make([]string, 0, len(prev)+len(add))
	next = append(append(next, prev...), add...)
	m.users[strings.Clone(user)] = trim(next, m.maxPerUser)
	return nil
}

// KVConfig configures the bucket.
type KVConfig struct {
	// MaxPerUser bounds each user's list; the oldest fall out first.
	MaxPerUser int
	// TTL forgets a user's list this long after their last deal (0: never).
	TTL time.Duration
	// MaxBytes bounds the bucket (0: unbounded); the oldest lists go first.
	MaxBytes int64
	// Replicas is the bucket's replication in a NATS cluster (0 means 1).
	Replicas int
}

// KV keeps impressions in the JetStream KV bucket SWIPEFLIX_DECK. An update
// reads the user's list, deals, and writes the longer list only if nobody
// wrote it meanwhile (compare-and-set on the key's revision), retrying
// otherwise, so api replicas dealing to one user at once never deal the
// same movie twice.
type KV struct {
	kv  jetstream.KeyValue
	cfg KVConfig
}

// maxAttempts bounds the compare-and-set retries of one update.
const maxAttempts = 8

// OpenKV opens (creating it when missing) the bucket on nc. The caller
// keeps ownership of nc.
func OpenKV(ctx context.Context, nc *nats.Conn, cfg KVConfig) (*KV, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("open impressions: jetstream context: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "SwipeFlix swipe deck: the movies dealt to each user",
		History:     1,
		TTL:         cfg.TTL,
		MaxBytes:    cfg.MaxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("open impressions: kv bucket %s: %w", Bucket, err)
	}
	return &KV{kv: kv, cfg: cfg}, nil
}

// Key is the bucket key of user.
func Key(user string) string { return "u." + base64.RawURLEncoding.EncodeToString([]byte(user)) }

// Update runs deal with user's impressions and appends what it adds,
// atomically per user.
func (s *KV) Update(ctx context.Context, user string, deal DealFunc) error {
	key := Key(user)
	for range maxAttempts {
		var prev []string
		var rev uint64
		e, err := s.kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
		case err != nil:
			return fmt.Errorf("impressions of %q: get: %w", user, err)
		default:
			rev = e.Revision()
			if err := json.Unmarshal(e.Value(), &prev); err != nil {
				// Unreadable: start the list afresh rather than fail every deal.
				prev = nil
			}
		}
		add, err := deal(prev)
		if err != nil || len(add) == 0 {
			return err
		}
		next := trim(append(prev, add...), s.cfg.MaxPerUser)
		value, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("impressions of %q: encode: %w", user, err)
		}
		if rev == 0 {
			_, err = s.kv.Create(ctx, key, value)
		} else {
			_, err = s.kv.Update(ctx, key, value, rev)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue // another deal for this user won: deal again on its list
		default:
			return fmt.Errorf("impressions of %q: put: %w", user, err)
		}
	}
	return fmt.Errorf("impressions of %q: %w", user, ErrContended)
}

// Dealt returns user's impressions, oldest first (for tests and tools).
func (s *KV) Dealt(ctx context.Context, user string) ([]string, error) {
	var out []string
	err := s.Update(ctx, user, func(dealt []string) ([]string, error) {
		out = append([]string(nil), dealt...)
		return nil, nil
	})
	return out, err
}
