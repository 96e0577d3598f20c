package recommend

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// zOf returns the z-scores of x over the catalog (zeros when constant).
func zOf(x []float32) []float64 {
	var sum, sq float64
	for _, v := range x {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(len(x))
	mean := sum / n
	sd := math.Sqrt(math.Max(sq/n-mean*mean, 0))
	out := make([]float64, len(x))
	for i, v := range x {
		if sd > 1e-9 {
			out[i] = (float64(v) - mean) / sd
		}
	}
	return out
}

func collabOf(m *Model, user string) []float32 {
	s := new(scratch)
	s.reset(m.items.Len(), len(m.content.terms))
	m.collabScores(m.user(user), s)
	return append([]float32(nil), s.collab...)
}

// The ensemble's score is, up to an affine map, the weighted sum of its
// members' z-scores, each member fitted alone with the same settings.
func TestEnsembleIsWeightedSumOfMembers(t *testing.T) {
	ts := world(40, 30, 1)
	for _, w := range [][3]float64{{1, 0, 0}, {0, 0, 1}, {0.5, 0, 0.5}, {0.2, 0.3, 0.5}, {0, 0.6, 0.4}} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			cfg := familyConfig(FamilyEnsemble)
			cfg.EnsembleWeights = w
			ens, err := Fit(ts, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var members [3]*Model
			for f := range members {
				if w[f] > 0 {
					c := cfg.member(f)
					c.Workers = 1
					if members[f], err = Fit(ts, c); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, u := range []string{"u0", "u17", "u39"} {
				got := zOf(collabOf(ens, u))
				want := make([]float32, len(got))
				for f, m := range members {
					if m == nil {
						continue
					}
					for i, z := range zOf(collabOf(m, u)) {
						want[i] += float32(w[f] * z)
					}
				}
				for i, z := range zOf(want) {
					if math.Abs(z-got[i]) > 1e-4 {
						t.Fatalf("%s movie %d: ensemble z %.6f, weighted members %.6f", u, i, got[i], z)
					}
				}
			}
		})
	}
}

// Folding a fitted user in again gives them the same scores, for the
// members whose fold-in reproduces the fit (PureSVD's projection, EASE's
// row; iALS's fitted user vectors precede its last item sweep).
func TestEnsembleFoldUserMatchesFit(t *testing.T) {
	cfg := familyConfig(FamilyEnsemble)
	cfg.EnsembleWeights, cfg.Alpha = [3]float64{0.6, 0.4, 0}, 1
	m, err := Fit(world(40, 30, 1), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u3", "u33"} {
		before := collabOf(m, u)
		d := m.FoldUser(u, ratedOf(m, u))
		if err := m.Apply(Delta{BaseVersion: m.Version, Users: []UserDelta{d}}); err != nil {
			t.Fatal(err)
		}
		after := collabOf(m, u)
		for i := range before {
			if math.Abs(float64(before[i]-after[i])) > 1e-4 {
				t.Fatalf("%s movie %d: fitted %v, folded in %v", u, i, before[i], after[i])
			}
		}
	}
}

// The iALS part of an ensemble user's fold-in is the exact solve of iALS
// alone: the same as folding the user into the iALS member.
func TestEnsembleIALSFoldInMatchesMember(t *testing.T) {
	ts := world(40, 30, 1)
	cfg := familyConfig(FamilyEnsemble)
	cfg.EnsembleWeights = [3]float64{0.5, 0, 0.5}
	ens, err := Fit(ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ials, err := Fit(ts, cfg.member(ensIALS))
	if err != nil {
		t.Fatal(err)
	}
	rated := []Rated{{"A1", 5}, {"A2", 4}, {"R3", 2}, {"A5", 5}}
	got := ens.FoldUser("new", rated).Factors[cfg.SVDFactors:]
	want := ials.FoldUser("new", rated).Factors
	for f := range want {
		if math.Abs(float64(got[f]-want[f])) > 1e-4 {
			t.Fatalf("factor %d: ensemble %v, iALS %v", f, got[f], want[f])
		}
	}
}

func TestEnsembleDeterministic(t *testing.T) {
	ts := world(40, 30, 1)
	a, err := Fit(ts, familyConfig(FamilyEnsemble))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fit(ts, familyConfig(FamilyEnsemble))
	if err != nil {
		t.Fatal(err)
	}
	ba, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if string(ba) != string(bb) {
		t.Error("two fits with one seed differ")
	}
}

// Format 3 is still read; an ensemble is format 4 only.
func TestSnapshotFormats(t *testing.T) {
	ts := world(20, 10, 1)
	m, err := Fit(ts, familyConfig(FamilyIALS))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.marshal(3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err != nil {
		t.Errorf("format 3: %v", err)
	}
	e, err := Fit(ts, familyConfig(FamilyEnsemble))
	if err != nil {
		t.Fatal(err)
	}
	if b, err = e.marshal(3); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("an ensemble in format 3 decoded: %v", err)
	}
}

// The tuner tries the ensemble of the families it searched, records it,
// and is deterministic for a seed.
func TestTuneEnsemble(t *testing.T) {
	ts := world(60, 40, 3)
	opt := TuneOptions{Families: []Family{FamilyPureSVD, FamilyEASE, FamilyIALS}}
	_, a, err := Tune(ts, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a.Ensemble == nil {
		t.Fatalf("no ensemble tried: %+v", a.Notes)
	}
	best := 0.0
	for _, fr := range a.Families {
		best = math.Max(best, fr.WithContent.NDCG)
	}
	if a.Winner.NDCG < best || (a.Ensemble.WithContent.NDCG > best && a.Winner.Family != FamilyEnsemble) {
		t.Errorf("winner %s %.4f; best family %.4f, ensemble %.4f", a.Winner.Family, a.Winner.NDCG, best, a.Ensemble.WithContent.NDCG)
	}
	_, b, err := Tune(ts, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a.Ensemble.WithContent != b.Ensemble.WithContent || a.Config != b.Config {
		t.Error("two searches with one seed differ")
	}
	opt.NoEnsemble = true
	if _, c, err := Tune(ts, opt); err != nil || c.Ensemble != nil {
		t.Errorf("NoEnsemble: %v, %+v", err, c.Ensemble)
	}
}
