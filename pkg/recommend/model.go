// Package recommend is SwipeFlix's hybrid recommender: a truncated SVD of
// the user-item matrix (PureSVD, Cremonesi et al. 2010) for ranking, a
// biased matrix factorisation fitted by ALS for rating estimates, TF-IDF
// content vectors, and popularity for cold starts. Users and movies that
// arrive after a fit are folded in exactly without a refit.
//
// The package is pure: no I/O, no clocks, no globals. A Model is safe for
// concurrent use; Apply (deltas) takes a write lock, readers a read lock.
package recommend

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Config sets the model's hyperparameters. The zero value of a field means
// its default (see DefaultConfig).
type Config struct {
	// Factors is the rank of the ranking SVD.
	Factors int `json:"factors"`
	// Oversample and PowerIters tune the randomised SVD.
	Oversample int `json:"oversample"`
	PowerIters int `json:"power_iters"`
	// RatingFactors, RatingReg, BiasReg and Iterations tune the ALS rating
	// model. Regularisation is multiplied by each row's rating count.
	RatingFactors int     `json:"rating_factors"`
	RatingReg     float64 `json:"rating_reg"`
	BiasReg       float64 `json:"bias_reg"`
	Iterations    int     `json:"iterations"`
	// Alpha weighs the collaborative score against content:
	// alpha*z(collaborative) + (1-alpha)*z(content).
	Alpha float64 `json:"alpha"`
	// Neutral is the rating that counts as neither like nor dislike: ratings
	// above it pull a user's content profile towards a movie, below it away.
	Neutral float64 `json:"neutral"`
	// ItemNorm (beta) divides each movie's column by its rating count to the
	// power beta before the ranking SVD, so that blockbusters do not take
	// every factor; scores are computed in the normalised space.
	ItemNorm float64 `json:"item_norm"`
	// Seed makes fits deterministic.
	Seed uint64 `json:"seed"`
	// Workers bounds parallelism; 0 means GOMAXPROCS.
	Workers int `json:"-"`
}

// DefaultConfig is the configuration chosen by measurement on ml-100k (see
// the README's evaluation table).
func DefaultConfig() Config {
	return Config{
		Factors: 20, Oversample: 10, PowerIters: 3,
		RatingFactors: 64, RatingReg: 0.12, BiasReg: 0.01, Iterations: 10,
		Alpha: 0.8, ItemNorm: 0.1, Neutral: 3, Seed: 1,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Factors <= 0 {
		c.Factors = d.Factors
	}
	if c.Oversample <= 0 {
		c.Oversample = d.Oversample
	}
	if c.PowerIters <= 0 {
		c.PowerIters = d.PowerIters
	}
	if c.RatingFactors <= 0 {
		c.RatingFactors = d.RatingFactors
	}
	if c.RatingReg <= 0 {
		c.RatingReg = d.RatingReg
	}
	if c.BiasReg <= 0 {
		c.BiasReg = d.BiasReg
	}
	if c.Iterations <= 0 {
		c.Iterations = d.Iterations
	}
	if c.Alpha <= 0 || c.Alpha > 1 {
		c.Alpha = d.Alpha
	}
	if c.Neutral <= 0 {
		c.Neutral = d.Neutral
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	return c
}

// Interaction is one training signal on the rating scale (0.5..5). Swipes
// are mapped to this scale before they reach the model (events.Weights).
type Interaction struct {
	User, Movie string
	Value       float64
}

// TrainSet is what Fit learns from.
type TrainSet struct {
	Interactions []Interaction
	// Movies is the catalog. Movies with no interactions can still be
	// recommended by content and to cold-start users; movies rated but not
	// in the catalog get a placeholder title.
	Movies []MovieInfo
}

// Errors returned by the package.
var (
	ErrNoData         = errors.New("recommend: no interactions to fit")
	ErrBadQuery       = errors.New("recommend: bad query")
	ErrUnknownMovie   = errors.New("recommend: unknown movie")
	ErrVersion        = errors.New("recommend: delta is for another model version")
	ErrCorrupt        = errors.New("recommend: corrupt snapshot")
	ErrBadInteraction = errors.New("recommend: bad interaction")
)

// Model is a fitted hybrid recommender.
type Model struct {
	// Version is the snapshot version, set by whoever publishes the model.
	Version int64
	cfg     Config

	mu sync.RWMutex // guards everything below against Apply

	users, items *Index
	movies       []MovieInfo
	genres       *Index   // genre names, for the filter
	genreMask    []uint64 // per item; genres beyond the 64th are not filterable

	// Ranking: item factors v (items x k), singular values, user projections.
	k       int
	sigma   []float64
	v       []float32
	userVec []float32 // base users x k: r_u V
	seen    *csr      // base users x base items, the signal values

	rating *ratingModel

	content      *contentModel
	extraContent map[int32]sparseVec // movies folded in after the fit

	popularity []float32 // log(1 + number of interactions), per item

	overlay map[int32]*userState // users changed or added by deltas, by user index

	scratch sync.Pool // *scratch: per-request working memory
}

type sparseVec struct {
	idx []int32
	val []float32
}

// userState is a user's serving state: what they rated and their vectors.
type userState struct {
	items  []int32
	values []float32
	vec    []float32 // ranking projection, k
	rvec   []float32 // rating model factors
	rbias  float32
}

// Fit learns a model from ts.
func Fit(ts TrainSet, cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if len(ts.Interactions) == 0 {
		return nil, ErrNoData
	}
	m := &Model{cfg: cfg, users: NewIndex(nil), items: NewIndex(nil), genres: NewIndex(nil),
		extraContent: map[int32]sparseVec{}, overlay: map[int32]*userState{}}
	for _, mv := range ts.Movies {
		if _, dup := m.items.Lookup(mv.ID); dup || mv.ID == "" {
			continue
		}
		m.addMovie(mv)
	}
	entries := make([]Entry, 0, len(ts.Interactions))
	for n, it := range ts.Interactions {
		if it.User == "" || it.Movie == "" || math.IsNaN(it.Value) || it.Value < 0.5 || it.Value > 5 {
			return nil, fmt.Errorf("%w %d: %+v", ErrBadInteraction, n, it)
		}
		i, ok := m.items.Lookup(it.Movie)
		if !ok {
			i = m.addMovie(MovieInfo{ID: it.Movie})
		}
		entries = append(entries, Entry{Row: m.users.Add(it.User), Col: i, Value: float32(it.Value)})
	}
	nu, ni := m.users.Len(), m.items.Len()
	m.seen = newCSR(nu, ni, entries)
	seenT := m.seen.transpose()

	m.popularity = make([]float32, ni)
	for i := 0; i < ni; i++ {
		m.popularity[i] = float32(math.Log1p(float64(seenT.ptr[i+1] - seenT.ptr[i])))
	}

	rankIn, rankInT := m.seen, seenT
	if cfg.ItemNorm > 0 {
		rankIn = m.seen.scaleCols(seenT, cfg.ItemNorm)
		rankInT = rankIn.transpose()
	}
	sigma, v := truncatedSVD(rankIn, rankInT, cfg.Factors, cfg.Oversample, cfg.PowerIters, cfg.Seed, cfg.Workers)
	m.k, m.sigma = len(sigma), sigma
	raw := v.RawMatrix()
	m.v = make([]float32, ni*m.k)
	for i := 0; i < ni; i++ {
		for f := 0; f < m.k; f++ {
			m.v[i*m.k+f] = float32(raw.Data[i*raw.Stride+f])
		}
	}
	m.userVec = make([]float32, nu*m.k)
	parallelRows(nu, cfg.Workers, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			idx, val := m.seen.row(u)
			m.project(idx, val, m.userVec[u*m.k:(u+1)*m.k])
		}
	})

	m.rating = fitRatingModel(m.seen, seenT, alsParams{
		factors: cfg.RatingFactors, reg: cfg.RatingReg, biasReg: cfg.BiasReg,
		iters: cfg.Iterations, seed: cfg.Seed, workers: cfg.Workers,
	})
	m.content = fitContent(m.movies)
	return m, nil
}

// addMovie appends a movie to the item tables (not the factor arrays).
func (m *Model) addMovie(mv MovieInfo) int32 {
	i := m.items.Add(mv.ID)
	m.movies = append(m.movies, mv)
	m.genreMask = append(m.genreMask, m.maskOf(mv.Genres))
	return i
}

// maskOf returns the filter bits of genres, adding unknown genre names.
func (m *Model) maskOf(genres []string) uint64 {
	var mask uint64
	for _, g := range genres {
		if gi := m.genres.Add(g); gi < 64 {
			mask |= 1 << uint(gi)
		}
	}
	return mask
}

// project writes r_u V into out: the user's position in the ranking space.
func (m *Model) project(idx []int32, val []float32, out []float32) {
	clear(out)
	k := m.k
	for p, i := range idx {
		if int(i)*k >= len(m.v) {
			continue
		}
		w := val[p]
		vi := m.v[int(i)*k : int(i)*k+k]
		for f := range out {
			out[f] += w * vi[f]
		}
	}
}

// Config returns the configuration the model was fitted with.
func (m *Model) Config() Config { return m.cfg }

// Stats describes the model's size.
type Stats struct {
	Users, Movies, Interactions, Factors, RatingFactors, Terms int
}

// Stats returns the model's size.
func (m *Model) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Users: m.users.Len(), Movies: m.items.Len(), Interactions: m.seen.nnz(),
		Factors: m.k, RatingFactors: m.rating.k, Terms: len(m.content.terms)}
}

// Movie returns what the model knows of a movie.
func (m *Model) Movie(id string) (MovieInfo, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.items.Lookup(id)
	if !ok {
		return MovieInfo{}, false
	}
	return m.movies[i], true
}

// user returns the serving state of user id, or nil when unknown. The caller
// holds the read lock. Slices alias the model's arrays: read only.
func (m *Model) user(id string) *userState {
	u, ok := m.users.Lookup(id)
	if !ok {
		return nil
	}
	if st, ok := m.overlay[u]; ok {
		return st
	}
	if int(u) >= m.seen.rows {
		return nil
	}
	idx, val := m.seen.row(int(u))
	rk := m.rating.k
	return &userState{items: idx, values: val, vec: m.userVec[int(u)*m.k : int(u)*m.k+m.k],
		rvec: m.rating.p[int(u)*rk : int(u)*rk+rk], rbias: m.rating.bu[u]}
}

// Predict estimates the rating user would give movie, on the 0.5..5 scale.
// Unknown users or movies get the biases that are known.
func (m *Model) Predict(user, movie string) float64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.items.Lookup(movie)
	if !ok {
		i = -1
	}
	return m.predict(m.user(user), i)
}

func (m *Model) predict(st *userState, i int32) float64 {
	rm := m.rating
	v := rm.mu
	if i >= 0 && int(i) < len(rm.bi) {
		v += float64(rm.bi[i])
		if st != nil {
			v += float64(st.rbias) + float64(dot32(st.rvec, rm.q[int(i)*rm.k:int(i)*rm.k+rm.k]))
		}
	} else if st != nil {
		v += float64(st.rbias)
	}
	return math.Max(0.5, math.Min(5, v))
}
