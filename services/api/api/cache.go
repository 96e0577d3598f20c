package api

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// answerCache keeps the encoded recommendations of recent /predict answers
// for one serving model, so a repeated question costs a map lookup instead
// of a scan of the whole catalog. It lives in the serving struct: a swap
// starts with an empty cache. Deltas invalidate what they change: the users
// they carry, or everything when they carry movies (a new or moved movie
// can enter anyone's top K).
//
// A request that computed its answer on the model as it was before a delta
// must not store it after the delta's invalidation: put takes the
// generation read before ranking and stores only when no invalidation
// happened since.
type answerCache struct {
	gen      atomic.Uint64
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

const cacheShards = 64

type cacheShard struct {
	mu    sync.RWMutex
	users map[string][]cachedAnswer
	n     int
}

// cachedAnswer is the answer to (user, k, offset) without exclude or genre
// filters.
type cachedAnswer struct {
	k, offset int
	cold      bool
	// items is the encoded recommendations array, "[...]".
	items []byte
}

// newAnswerCache returns a cache of about entries answers, or nil (no
// caching) when entries <= 0.
func newAnswerCache(entries int) *answerCache {
	if entries <= 0 {
		return nil
	}
	c := &answerCache{seed: maphash.MakeSeed(), perShard: max(1, entries/cacheShards)}
	for i := range c.shards {
		c.shards[i].users = map[string][]cachedAnswer{}
	}
	return c
}

func (c *answerCache) shard(user string) *cacheShard {
	return &c.shards[maphash.String(c.seed, user)%cacheShards]
}

// generation is read before ranking and handed to put.
func (c *answerCache) generation() uint64 { return c.gen.Load() }

func (c *answerCache) get(user string, k, offset int) (cachedAnswer, bool) {
	sh := c.shard(user)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	for _, a := range sh.users[user] {
		if a.k == k && a.offset == offset {
			return a, true
		}
	}
	return cachedAnswer{}, false
}

// put stores a for user unless the cache was invalidated after gen was
// read. A full shard is emptied first: crude, but it bounds memory without
// bookkeeping on the hot path.
func (c *answerCache) put(gen uint64, user string, a cachedAnswer) {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	for _, old := range sh.users[user] {
		if old.k == a.k && old.offset == a.offset {
			return
		}
	}
	if sh.n >= c.perShard {
		clear(sh.users)
		sh.n = 0
	}
	sh.users[user] = append(sh.users[user], a)
	sh.n++
}

// invalidate drops the answers of users.
func (c *answerCache) invalidate(users []string) {
	c.gen.Add(1)
	for _, u := range users {
		sh := c.shard(u)
		sh.mu.Lock()
		sh.n -= len(sh.users[u])
		delete(sh.users, u)
		sh.mu.Unlock()
	}
}

// invalidateAll drops every answer.
func (c *answerCache) invalidateAll() {
	c.gen.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.users)
		sh.n = 0
		sh.mu.Unlock()
	}
}
