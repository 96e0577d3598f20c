// Package recommend is SwipeFlix's recommender. It holds several model
// families that rank movies for a user, each with an exact fold-in of new
// ratings without a refit:
//
//   - PureSVD (Cremonesi et al. 2010): a truncated SVD of the user-item matrix;
//   - EASE (Steck 2019): a closed-form item-item model on the active catalog;
//   - iALS (Hu, Koren and Volinsky 2008), tuned as in Rendle et al. 2021;
//   - item-kNN: cosine similarity with shrinkage over co-ratings;
//   - popularity.
//
// Whatever family ranks, a model also carries TF-IDF content vectors blended
// in with a tuned weight, a biased matrix factorisation for rating estimates,
// and popularity for cold starts. Tune chooses the family and its settings on
// a validation split carved from the training data.
//
// The package is pure: no I/O, no clocks, no globals. A Model is safe for
// concurrent use. No delta makes a reader wait: each user's state is
// published whole (userOverlay), and a delta with movies publishes a new
// item side whole (itemside.go).
package recommend

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Family names a ranking model family.
type Family string

// The model families.
const (
	// FamilyPureSVD is a truncated SVD of the (popularity-normalised) rating
	// matrix; a user is the projection r_u V.
	FamilyPureSVD Family = "puresvd"
	// FamilyEASE is Steck's closed-form item-item model on the most-rated
	// movies (at most Config.EASEMaxItems of them).
	FamilyEASE Family = "ease"
	// FamilyIALS is implicit alternating least squares.
	FamilyIALS Family = "ials"
	// FamilyKNN is item-based nearest neighbours.
	FamilyKNN Family = "knn"
	// FamilyPopularity ranks by the number of users who rated a movie.
	FamilyPopularity Family = "popularity"
	// FamilyEnsemble is a weighted sum of z-scored PureSVD, EASE and iALS
	// scores (ensemble.go).
	FamilyEnsemble Family = "ensemble"
)

// Families lists every family, in the order reports print them.
var Families = []Family{FamilyPopularity, FamilyPureSVD, FamilyEASE, FamilyIALS, FamilyKNN}

func (f Family) valid() bool {
	switch f {
	case FamilyPureSVD, FamilyEASE, FamilyIALS, FamilyKNN, FamilyPopularity, FamilyEnsemble:
		return true
	}
	return false
}

// Config sets the model's hyperparameters. The zero value of a field means
// its default (see DefaultConfig).
type Config struct {
	// Family is the ranking family ("" means PureSVD).
	Family Family `json:"family"`
	// Factors is the rank of the ranking factorisation (PureSVD, iALS).
	Factors int `json:"factors"`
	// Oversample and PowerIters tune the randomised SVD.
	Oversample int `json:"oversample"`
	PowerIters int `json:"power_iters"`
	// RatingFactors, RatingReg, BiasReg and Iterations tune the ALS rating
	// model. Regularisation is multiplied by each row's rating count.
	// RatingBiasesOnly drops the factors: the estimate is mu + b_u + b_i.
	RatingFactors    int     `json:"rating_factors"`
	RatingReg        float64 `json:"rating_reg"`
	BiasReg          float64 `json:"bias_reg"`
	Iterations       int     `json:"iterations"`
	RatingBiasesOnly bool    `json:"rating_biases_only,omitempty"`
	// RatingBlend, when not all zero, makes the estimate a linear blend of
	// the biased MF, Koren's neighbourhood predictor and its baseline, with
	// these weights (see blendFeatures); Tune fits them on its validation
	// split. Ignored with RatingBiasesOnly.
	RatingBlend [BlendFeatures]float64 `json:"rating_blend"`
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
	// EASEReg is EASE's lambda; EASEMaxItems caps its catalog (the n x n
	// solve costs n^3): the most-rated movies up to the cap are modelled,
	// the others get no collaborative score.
	EASEReg      float64 `json:"ease_reg,omitempty"`
	EASEMaxItems int     `json:"ease_max_items,omitempty"`
	// IALSReg is iALS's lambda, scaled per row by (n_u + IALSUnobserved *
	// movies) as in Rendle et al. 2021; IALSUnobserved (alpha_0) is the
	// weight of every unobserved pair; IALSIters the number of sweeps.
	IALSReg        float64 `json:"ials_reg,omitempty"`
	IALSUnobserved float64 `json:"ials_unobserved,omitempty"`
	IALSIters      int     `json:"ials_iters,omitempty"`
	// LowWeight is the weight, in the implicit families' input (EASE, iALS,
	// item-kNN), of a rating at or below Neutral; a rating above Neutral
	// weighs 1. 0 (the default) means only likes are evidence of taste, so
	// a dislike never pulls similar movies up; 1 means every rating is
	// (MovieLens users rate what they chose to watch). Tune tries both.
	LowWeight float64 `json:"low_weight,omitempty"`
	// Neighbors is item-kNN's neighbourhood size and Shrink its shrinkage.
	Neighbors int     `json:"neighbors,omitempty"`
	Shrink    float64 `json:"shrink,omitempty"`
	// EnsembleWeights are the ensemble family's weights of PureSVD, EASE
	// and iALS (a member of weight 0 is left out). Its PureSVD member has
	// rank SVDFactors and the family's ItemNorm; its iALS member has rank
	// Factors; EASE and iALS share LowWeight.
	EnsembleWeights [3]float64 `json:"ensemble_weights,omitzero"`
	SVDFactors      int        `json:"svd_factors,omitempty"`
	// Seed makes fits deterministic.
	Seed uint64 `json:"seed"`
	// Workers bounds parallelism; 0 means GOMAXPROCS.
	Workers int `json:"-"`
}

// DefaultConfig is the configuration used when nothing was tuned: PureSVD
// with the settings first chosen on ml-100k. Tune replaces it at each refit.
func DefaultConfig() Config {
	return Config{
		Family:  FamilyPureSVD,
		Factors: 20, Oversample: 10, PowerIters: 3,
		RatingFactors: 64, RatingReg: 0.12, BiasReg: 0.01, Iterations: 10,
		Alpha: 0.8, ItemNorm: 0.1, Neutral: 3, Seed: 1,
		EASEReg: 300, EASEMaxItems: DefaultEASEMaxItems,
		IALSReg: 0.01, IALSUnobserved: 0.1, IALSIters: 10,
		Neighbors: 100, Shrink: 10,
	}
}

// DefaultEASEMaxItems is the largest catalog EASE models by default: its
// n x n inverse took 3.8 s at n = 2,000 and 10.5 s at n = 3,000 on the
// project's 2-core machine (docs/model.md).
const DefaultEASEMaxItems = 2000

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Family == "" {
		c.Family = d.Family
	}
	pos := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	posf := func(v *float64, def float64) {
		if !(*v > 0) || math.IsInf(*v, 0) {
			*v = def
		}
	}
	pos(&c.Factors, d.Factors)
	pos(&c.Oversample, d.Oversample)
	pos(&c.PowerIters, d.PowerIters)
	pos(&c.RatingFactors, d.RatingFactors)
	posf(&c.RatingReg, d.RatingReg)
	posf(&c.BiasReg, d.BiasReg)
	pos(&c.Iterations, d.Iterations)
	if !(c.Alpha > 0 && c.Alpha <= 1) {
		c.Alpha = d.Alpha
	}
	posf(&c.Neutral, d.Neutral)
	if !(c.ItemNorm >= 0) || math.IsInf(c.ItemNorm, 0) {
		c.ItemNorm = 0
	}
	posf(&c.EASEReg, d.EASEReg)
	pos(&c.EASEMaxItems, d.EASEMaxItems)
	posf(&c.IALSReg, d.IALSReg)
	posf(&c.IALSUnobserved, d.IALSUnobserved)
	pos(&c.IALSIters, d.IALSIters)
	pos(&c.Neighbors, d.Neighbors)
	if !(c.LowWeight >= 0 && c.LowWeight <= 1) {
		c.LowWeight = 0
	}
	if !(c.Shrink >= 0) || math.IsInf(c.Shrink, 0) {
		c.Shrink = 0
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	for _, w := range c.RatingBlend {
		if math.IsNaN(w) || math.IsInf(w, 0) || math.Abs(w) > maxAbsFactor {
			c.RatingBlend = [BlendFeatures]float64{}
			break
		}
	}
	return c
}

// blends reports whether the rating estimate is a blend.
func (c Config) blends() bool {
	return !c.RatingBiasesOnly && c.RatingBlend != [BlendFeatures]float64{}
}

// Interaction is one training signal on the rating scale (0.5..5). Swipes
// are mapped to this scale before they reach the model (events.Weights). A
// Value of 0 means the user saw or skipped the movie: it is never
// recommended to them, and it is no signal.
type Interaction struct {
	User, Movie string
	Value       float64
}

// Ratings is a compact training input for large data: ids are given once,
// and each rating is two int32 indices into them and a float32 value (0.5..5,
// or 0 for seen-only). The i-th rating is (UserIDs[User[i]],
// MovieIDs[Movie[i]], Value[i]). When a pair repeats, the last one wins.
type Ratings struct {
	UserIDs, MovieIDs []string
	User, Movie       []int32
	Value             []float32
	// Time, when not nil, is each rating's event time in Unix nanoseconds
	// (the unit of the event bus and of ratingstate; files with times in
	// seconds are multiplied up), of the same length as Value; 0 means the
	// time is unknown. Fit ignores it; Tune uses it to hold out each user's
	// latest ratings for validation (TuneOptions.Split).
	Time []int64
}

// Len is the number of ratings.
func (r *Ratings) Len() int { return len(r.Value) }

// TrainSet is what Fit learns from: Interactions, or Ratings for large data,
// or both (Ratings first).
type TrainSet struct {
	Interactions []Interaction
	Ratings      Ratings
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
	ErrInvalid        = errors.New("recommend: invalid model")
)

// Model is a fitted recommender.
type Model struct {
	// Version is the snapshot version, set by whoever publishes the model.
	Version int64
	cfg     Config

	// mu is held for reading by code that reads a model's item side
	// directly (the tuner's working models); no delta takes it: a movie
	// delta publishes a new item side in live instead.
	mu sync.RWMutex

	// live is the item side that requests read once a movie delta
	// replaced it: a copy of the model that shares every array it did not
	// change (itemside.go); nil before. gen counts the item sides since
	// the fit, and handle is the model whose live a copy is (nil in the
	// model itself).
	live   atomic.Pointer[Model]
	gen    uint64
	handle *Model

	users, items *Index
	movies       []MovieInfo
	genres       *Index   // genre names, for the filter
	genreMask    []uint64 // per item; genres beyond the 64th are not filterable

	// seen holds every base user's interactions (value 0: seen only).
	seen *csr

	// Factor families (PureSVD, iALS): item factors v (items x k), user
	// vectors (base users x k), and for PureSVD the singular values.
	k       int
	sigma   []float64
	v       []float32
	userVec []float32
	// iALS: the Gramians V^T V and U^T U (k x k), derived, not stored.
	itemGram, userGram []float64

	ease *easeModel
	knn  *csr // item x item neighbour similarities, rows sorted by column
	// ens is the ensemble family's derived moments' statistics (nil for
	// the other families).
	ens *ensembleStats

	rating *ratingModel

	content      *contentModel
	extraContent map[int32]sparseVec // movies folded in after the fit
	// newContent holds the content vectors of movies newFrom, newFrom+1,
	// ... that deltas added to this item side's chain (extraVec).
	newContent []sparseVec
	newFrom    int32

	popularity []float32 // log(1 + number of users with a signal), per item

	// users holds the users of the fit or snapshot, fixed; overlay the
	// users that deltas changed or added since, by id.
	overlay *userOverlay

	scratch sync.Pool // *scratch: per-request working memory

	kern atomic.Pointer[kernel] // the serving layout, built on first use
}

type sparseVec struct {
	idx []int32
	val []float32
}

// userState is a user's serving state: what they rated and their vectors.
type userState struct {
	items  []int32
	values []float32
	vec    []float32 // ranking vector, k (factor families)
	rvec   []float32 // rating model factors
	rbias  float32
	// gen is the item side the state's movies need. A pending state is
	// stored before its item side is published; prev is then the user's
	// state before (nil: the fitted one, or none), for older item sides.
	gen     uint64
	pending bool
	prev    *userState
}

// Fit learns a model of the family cfg.Family from ts.
func Fit(ts TrainSet, cfg Config) (*Model, error) {
	cfg = cfg.withDefaults()
	if !cfg.Family.valid() {
		return nil, fmt.Errorf("fit: unknown family %q", cfg.Family)
	}
	m, err := prepare(ts, cfg)
	if err != nil {
		return nil, err
	}
	m.fitPrepared(cfg, nil)
	return m, nil
}

// fitPrepared fits every component of a prepared model (indexes and
// interactions set); content, when given, is reused instead of refitted.
func (m *Model) fitPrepared(cfg Config, content *contentModel) {
	m.cfg = cfg
	sig := m.seen.signal()
	m.popularity = popularityOf(sig, m.items.Len())
	m.fitRanking(sig, m.seen.implicit(cfg), cfg)
	sigT := sig.transpose()
	m.rating = fitRatingModel(sig, sigT, ratingParams(cfg))
	if cfg.blends() {
		prm := defaultKNNBaseParams()
		prm.workers = cfg.Workers
		m.rating.nbr = fitKNNBaseline(sig, sigT, prm)
	}
	if content == nil {
		content = fitContent(m.movies)
	}
	m.content = content
}

// prepare indexes the catalog and the interactions of ts.
func prepare(ts TrainSet, cfg Config) (*Model, error) {
	n := len(ts.Interactions) + ts.Ratings.Len()
	if n == 0 {
		return nil, ErrNoData
	}
	r := &ts.Ratings
	if len(r.User) != len(r.Value) || len(r.Movie) != len(r.Value) || (r.Time != nil && len(r.Time) != len(r.Value)) {
		return nil, fmt.Errorf("%w: ratings columns of lengths %d, %d, %d, time %d", ErrBadInteraction, len(r.User), len(r.Movie), len(r.Value), len(r.Time))
	}
	m := &Model{cfg: cfg, users: NewIndex(nil), items: NewIndex(nil), genres: NewIndex(nil),
		extraContent: map[int32]sparseVec{}, overlay: &userOverlay{}}
	for _, mv := range ts.Movies {
		if _, dup := m.items.Lookup(mv.ID); dup || mv.ID == "" {
			continue
		}
		m.addMovie(mv)
	}
	entries := make([]Entry, 0, n)
	userOf := make([]int32, len(r.UserIDs))
	for j, id := range r.UserIDs {
		if id == "" {
			return nil, fmt.Errorf("%w: empty user id at %d", ErrBadInteraction, j)
		}
		userOf[j] = m.users.Add(id)
	}
	movieOf := make([]int32, len(r.MovieIDs))
	for j, id := range r.MovieIDs {
		if id == "" {
			return nil, fmt.Errorf("%w: empty movie id at %d", ErrBadInteraction, j)
		}
		i, ok := m.items.Lookup(id)
		if !ok {
			i = m.addMovie(MovieInfo{ID: id})
		}
		movieOf[j] = i
	}
	for j, v := range r.Value {
		u, i := r.User[j], r.Movie[j]
		if u < 0 || int(u) >= len(userOf) || i < 0 || int(i) >= len(movieOf) || !validValue(float64(v)) {
			return nil, fmt.Errorf("%w %d: user %d movie %d value %v", ErrBadInteraction, j, u, i, v)
		}
		entries = append(entries, Entry{Row: userOf[u], Col: movieOf[i], Value: v})
	}
	for j, it := range ts.Interactions {
		if it.User == "" || it.Movie == "" || !validValue(it.Value) {
			return nil, fmt.Errorf("%w %d: %+v", ErrBadInteraction, j, it)
		}
		i, ok := m.items.Lookup(it.Movie)
		if !ok {
			i = m.addMovie(MovieInfo{ID: it.Movie})
		}
		entries = append(entries, Entry{Row: m.users.Add(it.User), Col: i, Value: float32(it.Value)})
	}
	m.seen = newCSR(m.users.Len(), m.items.Len(), entries)
	return m, nil
}

// validValue accepts a rating on the 0.5..5 scale or 0 (seen only).
func validValue(v float64) bool { return v == 0 || (v >= 0.5 && v <= 5) }

func ratingParams(cfg Config) alsParams {
	k := cfg.RatingFactors
	if cfg.RatingBiasesOnly {
		k = 0
	}
	return alsParams{factors: k, reg: cfg.RatingReg, biasReg: cfg.BiasReg,
		iters: cfg.Iterations, seed: cfg.Seed, workers: cfg.Workers}
}

// popularityOf is log(1 + number of signals) per item.
func popularityOf(sig *csr, items int) []float32 {
	counts := make([]int, items)
	for _, c := range sig.idx {
		counts[c]++
	}
	pop := make([]float32, items)
	for i, n := range counts {
		pop[i] = float32(math.Log1p(float64(n)))
	}
	return pop
}

// implicitWeight is the weight of a rating of value v in the implicit
// families' input.
func (c Config) implicitWeight(v float32) float32 {
	switch {
	case v <= 0:
		return 0
	case float64(v) > c.Neutral:
		return 1
	}
	return float32(c.LowWeight)
}

// implicit returns the implicit families' input: each entry weighted by
// cfg.implicitWeight, zero weights dropped.
func (m *csr) implicit(cfg Config) *csr {
	out := &csr{rows: m.rows, cols: m.cols, ptr: make([]int64, m.rows+1),
		idx: make([]int32, 0, len(m.idx)), val: make([]float32, 0, len(m.val))}
	for r := 0; r < m.rows; r++ {
		idx, val := m.row(r)
		for p, c := range idx {
			if w := cfg.implicitWeight(val[p]); w != 0 {
				out.idx = append(out.idx, c)
				out.val = append(out.val, w)
			}
		}
		out.ptr[r+1] = int64(len(out.idx))
	}
	return out
}

// fitRanking fits the ranking family of cfg: PureSVD on the rating values
// sig (base users x items, values > 0), the implicit families on their
// weighted input imp.
func (m *Model) fitRanking(sig, imp *csr, cfg Config) {
	m.k, m.sigma, m.v, m.userVec, m.ease, m.knn = 0, nil, nil, nil, nil, nil
	m.itemGram, m.userGram, m.ens = nil, nil, nil
	switch cfg.Family {
	case FamilyEnsemble:
		m.fitEnsemble(sig, cfg)
	case FamilyPureSVD:
		m.fitPureSVD(sig, cfg)
	case FamilyIALS:
		m.fitIALS(imp, cfg)
	case FamilyEASE:
		m.ease = fitEASE(imp, cfg.EASEReg, cfg.EASEMaxItems)
	case FamilyKNN:
		m.knn = fitKNN(imp, cfg.Neighbors, cfg.Shrink, cfg.Workers)
	case FamilyPopularity:
	}
}

func (m *Model) fitPureSVD(sig *csr, cfg Config) {
	sigT := sig.transpose()
	rankIn, rankInT := sig, sigT
	if cfg.ItemNorm > 0 {
		rankIn = sig.scaleCols(sigT, cfg.ItemNorm)
		rankInT = rankIn.transpose()
	}
	sigma, v := truncatedSVD(rankIn, rankInT, cfg.Factors, cfg.Oversample, cfg.PowerIters, cfg.Seed, cfg.Workers)
	ni, nu := sig.cols, sig.rows
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

// project writes r_u V into out: the user's position in the PureSVD space.
// Seen-only entries (value 0) add nothing.
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

// WithAlpha returns a deep copy of the model that blends content with
// weight 1-alpha (alpha in 0..1]; the evaluation scores one fit at several
// weights with it.
func (m *Model) WithAlpha(alpha float64) *Model {
	c := m.Clone()
	if alpha > 0 && alpha <= 1 {
		c.cfg.Alpha = alpha
	}
	return c
}

// Family returns the model's ranking family.
func (m *Model) Family() Family { return m.cfg.Family }

// Stats describes the model's size.
type Stats struct {
	Users, Movies, Interactions, Factors, RatingFactors, Terms int
	// Family is the ranking family; Neighbors the item-kNN links and
	// EASEItems the movies EASE models.
	Family    Family
	Neighbors int
	EASEItems int
}

// Stats returns the model's size.
func (m *Model) Stats() Stats {
	m = m.current()
	s := Stats{Users: m.users.Len() + m.overlay.newUsers(), Movies: m.items.Len(), Interactions: m.seen.nnz(),
		Factors: m.k, RatingFactors: m.rating.k, Terms: len(m.content.terms), Family: m.cfg.Family}
	if m.knn != nil {
		s.Neighbors = m.knn.nnz()
	}
	if m.ease != nil {
		s.EASEItems = m.ease.n
	}
	return s
}

// Movie returns what the model knows of a movie.
func (m *Model) Movie(id string) (MovieInfo, bool) {
	m = m.current()
	i, ok := m.items.Lookup(id)
	if !ok {
		return MovieInfo{}, false
	}
	return m.movies[i], true
}

// user returns the serving state of user id as of item side m, or nil
// when unknown: the state a delta published last, else the fitted one.
// Slices alias the model's arrays: read only. Requests take the item side
// and the user together (load).
func (m *Model) user(id string) *userState {
	return m.userOf(id, m.overlay.load(id))
}

// userAt returns the fitted state of user u (deltas are looked up by id,
// in user), or nil for a user that only a delta gave state.
func (m *Model) userAt(u int32) *userState {
	if int(u) >= m.seen.rows {
		return nil
	}
	idx, val := m.seen.row(int(u))
	rk := m.rating.k
	st := &userState{items: idx, values: val, rvec: m.rating.p[int(u)*rk : int(u)*rk+rk], rbias: m.rating.bu[u]}
	if m.k > 0 {
		st.vec = m.userVec[int(u)*m.k : int(u)*m.k+m.k]
	}
	return st
}

// hasSignal reports whether st holds at least one rating (not seen-only).
func (st *userState) hasSignal() bool {
	for _, v := range st.values {
		if v > 0 {
			return true
		}
	}
	return false
}

// Predict estimates the rating user would give movie, on the 0.5..5 scale.
// Unknown users or movies get the biases that are known.
func (m *Model) Predict(user, movie string) float64 {
	m, st := m.load(user)
	i, ok := m.items.Lookup(movie)
	if !ok {
		i = -1
	}
	var ku knnUser
	return m.estimator(st, &ku).predict(i)
}

// estimator estimates one user's ratings.
type estimator struct {
	m  *Model
	st *userState // nil: an unknown user
	ku *knnUser   // the neighbourhood predictor's user state; nil without a blend
}

// estimator prepares the estimates of st (nil for an unknown user); ku is
// working memory, used when the estimate is a blend.
func (m *Model) estimator(st *userState, ku *knnUser) estimator {
	e := estimator{m: m, st: st}
	if nb := m.rating.nbr; nb != nil {
		var idx []int32
		var val []float32
		if st != nil {
			idx, val = st.items, st.values
		}
		nb.user(idx, val, ku)
		e.ku = ku
	}
	return e
}

// predict estimates the rating of movie i (-1: unknown) on the 0.5..5 scale.
func (e estimator) predict(i int32) float64 {
	v := e.m.mfEstimate(e.st, i)
	if e.ku != nil {
		kn, base, li := e.m.rating.nbr.predict(e.ku, i)
		v = blended(&e.m.cfg.RatingBlend, [3]float64{v, kn, base}, e.ku.lu, li)
	}
	return math.Max(0.5, math.Min(5, v))
}

// mfEstimate is the biased MF's estimate, unclipped.
func (m *Model) mfEstimate(st *userState, i int32) float64 {
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
	return v
}
