package recommend

import "sync"

// Index maps external string ids to dense int32 indices and back.
type Index struct {
	ids []string
	pos map[string]int32
	// later holds the ids added by with (movie deltas) since pos was
	// shared, for every index of the chain; each reads it below its length.
	later *sync.Map
}

// NewIndex returns an index over ids, in order; duplicates keep their first position.
func NewIndex(ids []string) *Index {
	x := &Index{ids: make([]string, 0, len(ids)), pos: make(map[string]int32, len(ids))}
	for _, id := range ids {
		x.Add(id)
	}
	return x
}

// Add returns the index of id, adding it at the end when new. An index
// that with extended is shared: it is never added to.
func (x *Index) Add(id string) int32 {
	if i, ok := x.pos[id]; ok {
		return i
	}
	i := int32(len(x.ids))
	x.ids = append(x.ids, id)
	x.pos[id] = i
	return i
}

// Lookup returns the index of id.
func (x *Index) Lookup(id string) (int32, bool) {
	if i, ok := x.pos[id]; ok || x.later == nil {
		return i, ok
	}
	if v, ok := x.later.Load(id); ok && int(v.(int32)) < len(x.ids) {
		return v.(int32), true
	}
	return 0, false
}

// ID returns the id at index i.
func (x *Index) ID(i int32) string { return x.ids[i] }

// Len is the number of ids.
func (x *Index) Len() int { return len(x.ids) }

// IDs returns the ids in index order; the caller must not modify it.
func (x *Index) IDs() []string { return x.ids }
