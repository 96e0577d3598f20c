package recommend

import "math"

// Because returns the movie among those user rated above neutral that
// contributes most to movie's score for them: for PureSVD the term
// r_uj (v_j . v_i) of the user's score (exact, since p_u = r_u V), for iALS
// the factor similarity q_j . q_i, for EASE the weight B_ji, for item-kNN
// the similarity sim(j, i). ok is false when the model cannot tell: an
// unknown or cold user, an unknown movie, the popularity family, or no rated
// movie that pulls movie up. It costs O(rated movies x factors).
func (m *Model) Because(user, movie string) (because string, ok bool) {
	m, st := m.load(user)
	if m.cfg.Family == FamilyPopularity {
		return "", false
	}
	i, known := m.items.Lookup(movie)
	if st == nil || !known {
		return "", false
	}
	neutral := float32(m.cfg.Neutral)
	best, bestJ := float32(0), int32(-1)
	for p, j := range st.items {
		if st.values[p] <= neutral || j == i {
			continue
		}
		c := m.contribution(j, i, st.values[p])
		if c > best {
			best, bestJ = c, j
		}
	}
	if bestJ < 0 || math.IsNaN(float64(best)) {
		return "", false
	}
	return m.items.ID(bestJ), true
}

// contribution is how much rated movie j (rated w) adds to movie i's
// collaborative score under the model's family.
func (m *Model) contribution(j, i int32, w float32) float32 {
	switch {
	case m.k > 0:
		k := m.k
		if int(j+1)*k > len(m.v) || int(i+1)*k > len(m.v) {
			return 0
		}
		d := dot32(m.v[int(j)*k:int(j)*k+k], m.v[int(i)*k:int(i)*k+k])
		if m.cfg.Family == FamilyPureSVD {
			d *= w
		}
		return d
	case m.ease != nil:
		rj, ri := m.ease.row(j), m.ease.row(i)
		if rj < 0 || ri < 0 {
			return 0
		}
		return m.ease.b[int(rj)*m.ease.n+int(ri)]
	case m.knn != nil:
		v, _ := m.knn.find(j, i)
		return v
	}
	return 0
}
