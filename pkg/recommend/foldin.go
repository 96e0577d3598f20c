package recommend

import (
	"fmt"
	"math"
)

// Rated is one movie a user rated, on the rating scale (0.5..5). A Value of
// 0 means the user saw or skipped it: never recommended to them, no signal.
type Rated struct {
	Movie string  `json:"m"`
	Value float32 `json:"v"`
}

// Rater is one user who rated a movie.
type Rater struct {
	User  string
	Value float32
}

// UserDelta is a user's complete serving state after a fold-in.
type UserDelta struct {
	ID    string  `json:"id"`
	Rated []Rated `json:"rated"`
	// Factors is the user's ranking projection; RatingFactors and RatingBias
	// their rating-model vector and bias.
	Factors       []float32 `json:"f"`
	RatingFactors []float32 `json:"rf"`
	RatingBias    float32   `json:"rb"`
}

// MovieDelta is a movie's state after a fold-in (a movie new since the fit,
// or a catalog update).
type MovieDelta struct {
	Info          MovieInfo `json:"info"`
	Factors       []float32 `json:"f"`
	RatingFactors []float32 `json:"rf"`
	RatingBias    float32   `json:"rb"`
	// Count is the number of users with a signal on the movie.
	Count int `json:"n"`
	// Content is the movie's TF-IDF vector in the model's vocabulary.
	ContentTerms  []int32   `json:"ct,omitempty"`
	ContentValues []float32 `json:"cv,omitempty"`
}

// Delta carries fold-ins from the trainer to the readers between snapshots.
// It applies to the model whose Version is BaseVersion only.
type Delta struct {
	BaseVersion int64 `json:"base_version"`
	Seq         int64 `json:"seq"`
	// NewestEventMillis is the event time (Unix ms) of the newest event
	// folded into this delta, for freshness measurements.
	NewestEventMillis int64        `json:"newest_event_ms,omitempty"`
	Movies            []MovieDelta `json:"movies,omitempty"`
	Users             []UserDelta  `json:"users,omitempty"`
}

// FoldUser computes the serving state of user id from everything they have
// rated, without a refit: for PureSVD the projection r_u V (exactly what a
// fit gives a user, for the fitted V), for iALS one exact regularised
// least-squares solve with the movie factors held fixed, for EASE, item-kNN
// and popularity nothing beyond the user's row (their scores are computed
// from it at request time); and the rating-model vector by one exact
// regularised least-squares solve (Sarwar et al. 2002). Movies the model
// does not know are kept in Rated (so they are excluded once known) but
// carry no weight; a Value of 0 marks a movie seen or skipped: excluded
// from recommendations, no signal. The model is not changed.
func (m *Model) FoldUser(id string, rated []Rated) UserDelta {
	m = m.current()
	idx := make([]int32, 0, len(rated))
	val := make([]float32, 0, len(rated))
	for _, r := range rated {
		if i, ok := m.items.Lookup(r.Movie); ok && r.Value > 0 {
			idx = append(idx, i)
			val = append(val, r.Value)
		}
	}
	d := UserDelta{ID: id, Rated: rated, Factors: make([]float32, m.k), RatingFactors: make([]float32, m.rating.k)}
	cur := m.user(id)
	switch m.cfg.Family {
	case FamilyPureSVD:
		m.project(idx, val, d.Factors)
	case FamilyIALS:
		known := idx[:0:0]
		for p, i := range idx {
			if int(i+1)*m.k <= len(m.v) && m.cfg.implicitWeight(val[p]) > 0 {
				known = append(known, i)
			}
		}
		// Conjugate gradients to full precision from the user's current
		// vector: exact (the system is k x k and positive definite), and a
		// few steps when one rating changed.
		if len(known) > 0 {
			s := newIALSCG(m.k)
			if cur != nil && len(cur.vec) == m.k {
				for f, x := range cur.vec {
					s.x[f] = float64(x)
				}
			}
			s.solve(known, m.v, m.itemGram, ialsParams{k: m.k, reg: m.cfg.IALSReg,
				a0: m.cfg.IALSUnobserved, nOther: m.items.Len()}, 2*m.k, foldTolerance)
			for f := range d.Factors {
				d.Factors[f] = float32(s.x[f])
			}
		}
	case FamilyEnsemble:
		m.foldEnsembleUser(id, idx, val, d.Factors)
	}
	rm := m.rating
	if len(idx) == 0 {
		return d
	}
	// Solve from the user's current vector, if any, to full precision: the
	// system is small and positive definite, so conjugate gradients converge
	// in at most k+1 steps, and in a few when one rating changed.
	s := newCG(rm.k)
	if cur != nil && len(cur.rvec) == rm.k {
		for f, x := range cur.rvec {
			s.x[f] = float64(x)
		}
		s.x[rm.k] = float64(cur.rbias)
	}
	prm := alsParams{factors: rm.k, reg: m.cfg.RatingReg, biasReg: m.cfg.BiasReg}
	s.solve(idx, val, rm.q, rm.bi, rm.mu, prm, 2*(rm.k+1), foldTolerance)
	for f := 0; f < rm.k; f++ {
		d.RatingFactors[f] = float32(s.x[f])
	}
	d.RatingBias = float32(s.x[rm.k])
	return d
}

// foldTolerance is the relative squared residual at which a fold-in solve
// stops: far below float32 resolution of the stored vectors.
const foldTolerance = 1e-12

// FoldMovie computes the state of a movie from the users who rated it,
// without a refit: for PureSVD its factors by projection, v_i = sum_u r_ui
// p_u / sigma^2 (which is what a fit gives a column, for fixed user
// factors); for iALS one exact regularised least-squares solve with the user
// vectors held fixed; EASE and item-kNN have no place for a movie they never
// saw (it gets no collaborative score until the next refit, only content and
// popularity). In every family: its rating-model vector by a regularised
// least-squares solve, its popularity from the raters, and its content
// vector in the model's vocabulary. Raters the model does not know, and
// seen-only raters (Value 0), carry no weight. The model is not changed.
func (m *Model) FoldMovie(info MovieInfo, raters []Rater) MovieDelta {
	m = m.current()
	d := MovieDelta{Info: info, Factors: make([]float32, m.k), RatingFactors: make([]float32, m.rating.k)}
	rm := m.rating
	fixedP := make([]float32, 0, len(raters)*rm.k)
	fixedB := make([]float32, 0, len(raters))
	vals := make([]float32, 0, len(raters))
	userVecs := make([]float32, 0, len(raters)*m.k)
	for _, r := range raters {
		if r.Value <= 0 {
			continue
		}
		d.Count++
		st := m.user(r.User)
		if st == nil {
			continue
		}
		if m.cfg.Family == FamilyPureSVD && len(st.vec) == m.k {
			for f := 0; f < m.k; f++ {
				d.Factors[f] += r.Value * st.vec[f]
			}
		}
		if len(st.vec) == m.k && m.cfg.implicitWeight(r.Value) > 0 {
			userVecs = append(userVecs, st.vec...)
		}
		fixedP = append(fixedP, st.rvec...)
		fixedB = append(fixedB, st.rbias)
		vals = append(vals, r.Value)
	}
	switch m.cfg.Family {
	case FamilyEnsemble:
		m.foldEnsembleMovie(raters, d.Factors)
	case FamilyPureSVD:
		// The fit scaled each column by count^-ItemNorm; scale alike.
		colScale := 1.0
		if n := len(vals); n > 0 && m.cfg.ItemNorm > 0 {
			colScale = math.Pow(float64(n), -m.cfg.ItemNorm)
		}
		for f := 0; f < m.k; f++ {
			if s2 := m.sigma[f] * m.sigma[f]; s2 > 0 {
				d.Factors[f] = float32(colScale * float64(d.Factors[f]) / s2)
			}
		}
	case FamilyIALS:
		idx := make([]int32, len(userVecs)/max(m.k, 1))
		for j := range idx {
			idx[j] = int32(j)
		}
		x := ialsSolveExact(idx, userVecs, m.userGram, ialsParams{k: m.k, reg: m.cfg.IALSReg,
			a0: m.cfg.IALSUnobserved, nOther: m.seen.rows})
		for f := range x {
			d.Factors[f] = float32(x[f])
		}
	}
	idx := make([]int32, len(vals))
	for j := range idx {
		idx[j] = int32(j)
	}
	s := newSolver(rm.k + 1)
	prm := alsParams{factors: rm.k, reg: m.cfg.RatingReg, biasReg: m.cfg.BiasReg}
	if x := s.solveRow(idx, vals, fixedP, fixedB, rm.mu, prm); x != nil {
		for f := 0; f < rm.k; f++ {
			d.RatingFactors[f] = float32(x[f])
		}
		d.RatingBias = float32(x[rm.k])
	}
	d.ContentTerms, d.ContentValues = m.content.vector(info)
	return d
}

// Apply folds d into the model: movies first, then users. It fails without
// changing anything when d is for another version or malformed. A request
// in flight or starting meanwhile never waits for it, and sees d wholly or
// not at all: a delta of users only publishes each user's new state whole;
// a delta with movies builds the next item side beside the current one and
// publishes it whole, its users with it (itemside.go).
func (m *Model) Apply(d Delta) error {
	m.overlay.mu.Lock()
	defer m.overlay.mu.Unlock()
	if err := m.checkApply(d); err != nil {
		return err
	}
	cur := m.current()
	if len(d.Movies) == 0 {
		for _, ud := range d.Users {
			st, indexed := cur.userState(ud)
			m.overlay.store(ud.ID, st, indexed)
		}
		return nil
	}
	next := cur.withMovies(d.Movies)
	states := make([]*userState, len(d.Users))
	for j, ud := range d.Users {
		st, indexed := next.userState(ud)
		states[j] = st
		pending := *st
		pending.pending, pending.prev = true, m.overlay.load(ud.ID)
		if p := pending.prev; p != nil && p.pending { // the same user twice in d
			pending.prev = p.prev
		}
		m.overlay.store(ud.ID, &pending, indexed)
	}
	m.live.Store(next)
	for j, ud := range d.Users {
		m.overlay.states.Store(ud.ID, states[j])
	}
	return nil
}

// userState is ud's state on item side m.
func (m *Model) userState(ud UserDelta) (st *userState, indexed bool) {
	st = &userState{vec: ud.Factors, rvec: ud.RatingFactors, rbias: ud.RatingBias, gen: m.gen}
	for _, r := range ud.Rated {
		if i, ok := m.items.Lookup(r.Movie); ok {
			st.items = append(st.items, i)
			st.values = append(st.values, r.Value)
		}
	}
	_, indexed = m.users.Lookup(ud.ID)
	return st, indexed
}

// checkApply checks that d fits the model. The caller holds
// m.overlay.mu: the dimensions it reads change only in fits.
func (m *Model) checkApply(d Delta) error {
	if d.BaseVersion != m.Version {
		return fmt.Errorf("%w: delta for %d, model is %d", ErrVersion, d.BaseVersion, m.Version)
	}
	for _, md := range d.Movies {
		if md.Info.ID == "" || len(md.Factors) != m.k || len(md.RatingFactors) != m.rating.k ||
			len(md.ContentTerms) != len(md.ContentValues) {
			return fmt.Errorf("%w: movie %q has wrong dimensions", ErrCorrupt, md.Info.ID)
		}
		if err := checkMovieDelta(md); err != nil {
			return err
		}
		for _, t := range md.ContentTerms {
			if t < 0 || int(t) >= len(m.content.terms) {
				return fmt.Errorf("%w: movie %q has term %d out of range", ErrCorrupt, md.Info.ID, t)
			}
		}
	}
	for _, ud := range d.Users {
		if ud.ID == "" || len(ud.Factors) != m.k || len(ud.RatingFactors) != m.rating.k {
			return fmt.Errorf("%w: user %q has wrong dimensions", ErrCorrupt, ud.ID)
		}
		if err := checkUserDelta(ud); err != nil {
			return err
		}
	}
	return nil
}
