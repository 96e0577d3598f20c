package recommend

import (
	"maps"
	"math"
	"slices"
	"sync"
)

// Movie deltas without a lock that requests wait for (issue 12).
//
// A delta with movies does not change the item side that requests read.
// Apply builds the next one, a copy of the Model value that shares every
// array with the current one, and publishes it whole in Model.live:
// a request loads it once, so it answers with the item side before or
// after any delta, never a mix, and never waits for Apply.
//
// The copy is cheap for what the trainer sends, movies new since the fit:
// the item arrays (factors, rating model, popularity, catalog) only grow,
// so a new movie is appended past the end that older item sides read
// (Go's append, into spare capacity when there is some); the item index
// keeps the ids added since in a map shared by every copy, which a copy
// reads only below its own length; the kernel is copied as a list of
// blocks, and only the block a movie lands in is copied before it is
// changed. A delta that changes a movie the current item side already
// holds copies the arrays it changes (once per delta): the trainer never
// sends one, and a catalog update is rare.
//
// Users of a delta with movies refer to its movies, so their states are
// published with it: Apply stores each as pending, holding the user's state
// before, then publishes the item side, then stores the states again
// without the past. A request loads the user's state first and the item
// side after, and takes a pending state's past while the item side it
// loaded is older (userOf).

// current returns the item side that requests read now.
func (m *Model) current() *Model {
	if c := m.live.Load(); c != nil {
		return c
	}
	return m
}

// load returns the current item side and user id's state in it (nil if
// unknown). Loading the user first makes the pair consistent: a state is
// stored only after the item side it needs is published, except a
// pending one, whose past fits any item side from the one before it. A
// delta applied wholly between the two loads would pair the user's state
// before it with the item side after it (the delta's movies without its
// users), so the user is read again after the item side, and both are
// read again when it changed: a delta stores its users' pending states
// before it publishes its item side.
func (m *Model) load(id string) (*Model, *userState) {
	st := m.overlay.load(id)
	for {
		if h := testHookUserLoaded; h != nil {
			h()
		}
		c := m.current()
		again := m.overlay.load(id)
		if again == st {
			return c, c.userOf(id, st)
		}
		st = again
	}
}

// testHookUserLoaded, when a test sets it, runs in load between the loads
// of the user's state and of the item side.
var testHookUserLoaded func()

// userOf returns user id's state as of item side m, given the state st
// the overlay holds (nil: none): st, or the past of a pending st for an
// older item side, or the fitted state when there is no other.
func (m *Model) userOf(id string, st *userState) *userState {
	if st != nil && st.pending && st.gen > m.gen {
		st = st.prev
	}
	if st != nil {
		return st
	}
	u, ok := m.users.Lookup(id)
	if !ok {
		return nil
	}
	return m.userAt(u)
}

// pool is the scratch pool that every item side of a model shares.
func (m *Model) pool() *sync.Pool {
	if m.handle != nil {
		return &m.handle.scratch
	}
	return &m.scratch
}

// next returns a copy of item side m that shares its arrays, for the
// item side gen+1 that a movie delta builds. The caller holds
// m.overlay.mu.
func (m *Model) next() *Model {
	c := &Model{Version: m.Version, cfg: m.cfg, gen: m.gen + 1, handle: m.handle,
		users: m.users, items: m.items, movies: m.movies, genres: m.genres, genreMask: m.genreMask,
		seen: m.seen, k: m.k, sigma: m.sigma, v: m.v, userVec: m.userVec,
		itemGram: m.itemGram, userGram: m.userGram, ease: m.ease, knn: m.knn, ens: m.ens.clone(),
		content: m.content, extraContent: m.extraContent, newContent: m.newContent, newFrom: m.newFrom,
		popularity: m.popularity, overlay: m.overlay}
	if c.handle == nil {
		c.handle = m
	}
	rm := *m.rating
	c.rating = &rm
	// The ensemble's iALS Gram matrix is its statistics' (deriveEnsemble):
	// keep them one.
	if c.ens != nil && len(m.itemGram) > 0 && len(m.ens.gram[1]) > 0 && &m.itemGram[0] == &m.ens.gram[1][0] {
		c.itemGram = c.ens.gram[1]
	}
	if len(c.newContent) == 0 {
		c.newFrom = int32(m.items.Len())
	}
	return c
}

// itemWriter applies movie deltas to a new item side, copying an array
// that the older item sides share before it changes a value they read.
type itemWriter struct {
	c      *Model
	shared int // the older item sides' movie count
	kern   *kernel
	// copied records that the catalog arrays, the genre index, the extra
	// content map and the new movies' content have their own copies.
	arrays, genres, extra, content bool
}

// withMovies returns the item side that follows m with mds applied. The
// caller holds m.overlay.mu.
func (m *Model) withMovies(mds []MovieDelta) *Model {
	w := &itemWriter{c: m.next(), shared: m.items.Len()}
	if kn := m.kern.Load(); kn != nil && kn.content == m.content && kn.fits(m) {
		w.kern = kn.next(w.c.gen)
	}
	for _, md := range mds {
		w.apply(md)
	}
	if w.kern != nil {
		w.c.kern.Store(w.kern)
	}
	return w.c
}

func (w *itemWriter) apply(md MovieDelta) {
	c := w.c
	rm := c.rating
	i, known := c.items.Lookup(md.Info.ID)
	if c.ens != nil {
		var old []float32
		if known {
			old = c.v[int(i)*c.k : int(i)*c.k+c.k]
		}
		c.updateEnsembleStats(old, md.Factors)
	}
	if !known {
		w.ownGenres(md.Info.Genres)
		c.items, i = c.items.with(md.Info.ID)
		c.movies = append(c.movies, md.Info)
		c.genreMask = append(c.genreMask, c.maskOf(md.Info.Genres))
		c.v = append(c.v, md.Factors...)
		rm.q = append(rm.q, md.RatingFactors...)
		rm.bi = append(rm.bi, md.RatingBias)
		c.popularity = append(c.popularity, float32(math.Log1p(float64(md.Count))))
	} else {
		if int(i) < w.shared && !w.arrays {
			w.arrays = true
			c.movies, c.genreMask = slices.Clone(c.movies), slices.Clone(c.genreMask)
			c.v, rm.q, rm.bi = slices.Clone(c.v), slices.Clone(rm.q), slices.Clone(rm.bi)
			c.popularity = slices.Clone(c.popularity)
		}
		if md.Info.Title != "" {
			w.ownGenres(md.Info.Genres)
			c.movies[i] = md.Info
			c.genreMask[i] = c.maskOf(md.Info.Genres)
		}
		copy(c.v[int(i)*c.k:], md.Factors)
		copy(rm.q[int(i)*rm.k:], md.RatingFactors)
		rm.bi[i] = md.RatingBias
		c.popularity[i] = float32(math.Log1p(float64(md.Count)))
	}
	if int(i) >= c.content.vecs.rows {
		w.setContent(i, sparseVec{md.ContentTerms, md.ContentValues})
	}
	// The kernel is patched, not dropped: rebuilding it would cost the
	// next request a copy of every movie's factors.
	if w.kern != nil {
		w.kern.setItem(c, i)
	}
}

// ownGenres copies the genre index before genres adds a name to it.
func (w *itemWriter) ownGenres(genres []string) {
	if w.genres {
		return
	}
	for _, g := range genres {
		if _, ok := w.c.genres.Lookup(g); !ok {
			w.c.genres, w.genres = w.c.genres.clone(), true
			return
		}
	}
}

// setContent sets the content vector of movie i (past the fitted ones):
// appended to the new movies' content, or replacing an entry there or in
// the extra content map, each copied first when older item sides share it.
func (w *itemWriter) setContent(i int32, v sparseVec) {
	c := w.c
	if j := int(i - c.newFrom); i >= c.newFrom && j <= len(c.newContent) {
		if j == len(c.newContent) {
			c.newContent = append(c.newContent, v)
			return
		}
		if int(i) < w.shared && !w.content {
			c.newContent, w.content = slices.Clone(c.newContent), true
		}
		c.newContent[j] = v
		return
	}
	if !w.extra {
		c.extraContent, w.extra = maps.Clone(c.extraContent), true
	}
	c.extraContent[i] = v
}

// extraVec returns the content vector of a movie past the fitted ones.
func (m *Model) extraVec(i int32) (sparseVec, bool) {
	if j := int(i - m.newFrom); i >= m.newFrom && j < len(m.newContent) {
		return m.newContent[j], true
	}
	v, ok := m.extraContent[i]
	return v, ok
}

// extraCount is how many movies past the fitted ones have a content vector.
func (m *Model) extraCount() int { return len(m.extraContent) + len(m.newContent) }

// with returns an index that adds id to x, sharing x's storage: the ids
// are appended past x's end, and the map of ids added since x was first
// shared is one for every index built this way, read below each one's
// own length. x stays valid for its readers; only the newest index of a
// chain may be extended. It returns id's position.
func (x *Index) with(id string) (*Index, int32) {
	later := x.later
	if later == nil {
		later = new(sync.Map)
	}
	i := int32(len(x.ids))
	later.Store(id, i)
	return &Index{ids: append(x.ids, id), pos: x.pos, later: later}, i
}
