package recommend

import (
	"fmt"
	"math"
)

// Bounds that Validate and the decoders enforce besides finiteness.
const (
	// maxAbsFactor bounds every stored factor, weight and similarity: a
	// fitted model's values are far smaller, so a larger one is damage.
	maxAbsFactor = 1e6
	// maxFactors bounds a rank read from untrusted bytes.
	maxFactors = 4096
)

// Validate checks every number the model serves: finite everywhere, ratings
// in 0..5, popularity non-negative, content weights within [-1, 1] (they are
// L2-normalised), factors and weights bounded; and the configuration in its
// ranges. The error names the first offending array and position. The
// trainer's gate calls it before publishing a model.
func (m *Model) Validate() error {
	m.overlay.mu.Lock() // no delta meanwhile
	defer m.overlay.mu.Unlock()
	return m.current().validate()
}

func (m *Model) validate() error {
	c := m.cfg
	switch {
	case !c.Family.valid():
		return fmt.Errorf("%w: config: unknown family %q", ErrInvalid, c.Family)
	case !finiteIn(c.Alpha, 0, 1):
		return fmt.Errorf("%w: config: alpha %v outside 0..1", ErrInvalid, c.Alpha)
	case !finiteIn(c.Neutral, 0, 5), !finiteIn(c.ItemNorm, 0, 10), !finiteIn(c.RatingReg, 0, maxAbsFactor),
		!finiteIn(c.BiasReg, 0, maxAbsFactor), !finiteIn(c.EASEReg, 0, math.MaxFloat64), !finiteIn(c.IALSReg, 0, maxAbsFactor),
		!finiteIn(c.IALSUnobserved, 0, maxAbsFactor), !finiteIn(c.Shrink, 0, math.MaxFloat64):
		return fmt.Errorf("%w: config: a setting is not finite or out of range: %+v", ErrInvalid, c)
	}
	checks := []struct {
		name   string
		v      []float32
		lo, hi float32
	}{
		{"ratings", m.seen.val, 0, 5},
		{"item factors", m.v, -maxAbsFactor, maxAbsFactor},
		{"user factors", m.userVec, -maxAbsFactor, maxAbsFactor},
		{"rating user factors", m.rating.p, -maxAbsFactor, maxAbsFactor},
		{"rating item factors", m.rating.q, -maxAbsFactor, maxAbsFactor},
		{"rating user biases", m.rating.bu, -maxAbsFactor, maxAbsFactor},
		{"rating item biases", m.rating.bi, -maxAbsFactor, maxAbsFactor},
		{"content idf", m.content.idf, 0, maxAbsFactor},
		{"content vectors", m.content.vecs.val, -1.001, 1.001},
		{"popularity", m.popularity, 0, 100},
	}
	if m.ease != nil {
		checks = append(checks, struct {
			name   string
			v      []float32
			lo, hi float32
		}{"EASE weights", m.ease.b, -maxAbsFactor, maxAbsFactor})
	}
	if m.knn != nil {
		checks = append(checks, struct {
			name   string
			v      []float32
			lo, hi float32
		}{"kNN similarities", m.knn.val, 0, 1.001})
	}
	if nb := m.rating.nbr; nb != nil {
		for _, ch := range []struct {
			name string
			v    []float32
		}{{"blend item biases", nb.bi}, {"blend item log counts", nb.li}, {"blend similarities", nb.nb.val}} {
			checks = append(checks, struct {
				name   string
				v      []float32
				lo, hi float32
			}{ch.name, ch.v, -maxAbsFactor, maxAbsFactor})
		}
		if !finiteIn(nb.mu, 0, 5) || !finiteIn(nb.userReg, 0, maxAbsFactor) {
			return fmt.Errorf("%w: rating blend baseline mean %v, regularisation %v", ErrInvalid, nb.mu, nb.userReg)
		}
	}
	for _, w := range c.RatingBlend {
		if !finiteIn(w, -maxAbsFactor, maxAbsFactor) {
			return fmt.Errorf("%w: config: rating blend weight %v", ErrInvalid, w)
		}
	}
	for _, ch := range checks {
		if j, ok := checkRange(ch.v, ch.lo, ch.hi); !ok {
			return fmt.Errorf("%w: %s[%d] = %v is not finite or outside %v..%v", ErrInvalid, ch.name, j, ch.v[j], ch.lo, ch.hi)
		}
	}
	if !finiteIn(m.rating.mu, 0, 5) {
		return fmt.Errorf("%w: rating mean %v", ErrInvalid, m.rating.mu)
	}
	for f, s := range m.sigma {
		if !finiteIn(s, 0, math.MaxFloat64) {
			return fmt.Errorf("%w: singular value %d = %v", ErrInvalid, f, s)
		}
	}
	for i := int32(m.content.vecs.rows); int(i) < m.items.Len(); i++ {
		v, _ := m.extraVec(i)
		if j, ok := checkRange(v.val, -1.001, 1.001); !ok {
			return fmt.Errorf("%w: content of folded-in movie %d [%d] = %v", ErrInvalid, i, j, v.val[j])
		}
	}
	var bad error
	m.overlay.each(m.users.IDs(), func(_ int, id string, st *userState) {
		if bad != nil {
			return
		}
		for _, a := range []struct {
			name   string
			v      []float32
			lo, hi float32
		}{{"ratings", st.values, 0, 5}, {"factors", st.vec, -maxAbsFactor, maxAbsFactor},
			{"rating factors", st.rvec, -maxAbsFactor, maxAbsFactor}, {"rating bias", []float32{st.rbias}, -maxAbsFactor, maxAbsFactor}} {
			if j, ok := checkRange(a.v, a.lo, a.hi); !ok {
				bad = fmt.Errorf("%w: folded-in user %q: %s[%d] = %v", ErrInvalid, id, a.name, j, a.v[j])
				return
			}
		}
	})
	return bad
}

func finiteIn(v, lo, hi float64) bool {
	return !math.IsNaN(v) && !math.IsInf(v, 0) && v >= lo && v <= hi
}

// checkRange returns the first index whose value is not finite or outside
// lo..hi.
func checkRange(v []float32, lo, hi float32) (int, bool) {
	for j, x := range v {
		if !(x >= lo && x <= hi) { // NaN fails both
			return j, false
		}
	}
	return 0, true
}

// checkUserDelta refuses non-finite or out-of-range values in a user delta.
func checkUserDelta(ud UserDelta) error {
	for j, r := range ud.Rated {
		if !(r.Value >= 0 && r.Value <= 5) {
			return fmt.Errorf("%w: user %q rated %q with %v", ErrCorrupt, ud.ID, r.Movie, ud.Rated[j].Value)
		}
	}
	if j, ok := checkRange(ud.Factors, -maxAbsFactor, maxAbsFactor); !ok {
		return fmt.Errorf("%w: user %q factor %d = %v", ErrCorrupt, ud.ID, j, ud.Factors[j])
	}
	if j, ok := checkRange(ud.RatingFactors, -maxAbsFactor, maxAbsFactor); !ok {
		return fmt.Errorf("%w: user %q rating factor %d = %v", ErrCorrupt, ud.ID, j, ud.RatingFactors[j])
	}
	if _, ok := checkRange([]float32{ud.RatingBias}, -maxAbsFactor, maxAbsFactor); !ok {
		return fmt.Errorf("%w: user %q rating bias %v", ErrCorrupt, ud.ID, ud.RatingBias)
	}
	return nil
}

// checkMovieDelta refuses non-finite or out-of-range values in a movie delta.
func checkMovieDelta(md MovieDelta) error {
	if md.Count < 0 {
		return fmt.Errorf("%w: movie %q count %d", ErrCorrupt, md.Info.ID, md.Count)
	}
	for _, a := range []struct {
		name   string
		v      []float32
		lo, hi float32
	}{{"factor", md.Factors, -maxAbsFactor, maxAbsFactor}, {"rating factor", md.RatingFactors, -maxAbsFactor, maxAbsFactor},
		{"rating bias", []float32{md.RatingBias}, -maxAbsFactor, maxAbsFactor}, {"content value", md.ContentValues, -1.001, 1.001}} {
		if j, ok := checkRange(a.v, a.lo, a.hi); !ok {
			return fmt.Errorf("%w: movie %q %s %d = %v", ErrCorrupt, md.Info.ID, a.name, j, a.v[j])
		}
	}
	return nil
}
