package recommend

import "maps"

// Clone returns a deep copy of the model, folded-in state included, without
// a marshal and decode round trip. The copy shares nothing mutable with m.
func (m *Model) Clone() *Model {
	m.overlay.mu.Lock() // no delta meanwhile
	defer m.overlay.mu.Unlock()
	version := m.Version
	m = m.current()
	c := &Model{Version: version, cfg: m.cfg,
		users: m.users.clone(), items: m.items.clone(), genres: m.genres.clone(),
		movies:    cloneMovies(m.movies),
		genreMask: append([]uint64(nil), m.genreMask...),
		seen:      m.seen.clone(), k: m.k,
		sigma:    append([]float64(nil), m.sigma...),
		v:        append([]float32(nil), m.v...),
		userVec:  append([]float32(nil), m.userVec...),
		itemGram: append([]float64(nil), m.itemGram...), userGram: append([]float64(nil), m.userGram...),
		ease: m.ease.clone(), knn: m.knn.clone(), ens: m.ens.clone(),
		rating:       m.rating.clone(),
		content:      m.content.clone(),
		extraContent: make(map[int32]sparseVec, m.extraCount()),
		popularity:   append([]float32(nil), m.popularity...),
		overlay:      m.overlay.clone(m.users.IDs()),
	}
	for i := int32(m.content.vecs.rows); int(i) < m.items.Len(); i++ {
		if v, ok := m.extraVec(i); ok {
			c.extraContent[i] = sparseVec{append([]int32(nil), v.idx...), append([]float32(nil), v.val...)}
		}
	}
	return c
}

func (x *Index) clone() *Index {
	if x.later == nil {
		return &Index{ids: append([]string(nil), x.ids...), pos: maps.Clone(x.pos)}
	}
	return NewIndex(x.ids)
}

func cloneMovies(ms []MovieInfo) []MovieInfo {
	out := make([]MovieInfo, len(ms))
	for i, mv := range ms {
		mv.Genres = append([]string(nil), mv.Genres...)
		mv.Tags = append([]string(nil), mv.Tags...)
		out[i] = mv
	}
	return out
}

func (r *ratingModel) clone() *ratingModel {
	return &ratingModel{k: r.k, mu: r.mu, p: append([]float32(nil), r.p...), q: append([]float32(nil), r.q...),
		bu: append([]float32(nil), r.bu...), bi: append([]float32(nil), r.bi...), nbr: r.nbr}
}

func (c *contentModel) clone() *contentModel {
	return &contentModel{terms: append([]string(nil), c.terms...), idf: append([]float32(nil), c.idf...), vecs: c.vecs.clone()}
}
