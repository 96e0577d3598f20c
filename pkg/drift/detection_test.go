package drift

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// trialStats counts, over trials, how often each feature drifted, how often
// the dataset drifted and how often the alert fired.
type trialStats struct {
	trials       int
	feature      map[string]int
	method       map[string]Method
	datasetDrift int
	alert        int
	// boostShare sums the boosted genre's stationary share over trials.
	boostShare float64
}

type scenario struct {
	name  string
	shift Shift
	// target is the feature the shift is aimed at ("" for i.i.d.).
	target string
}

type regime struct {
	name string
	// covered is how many stationary events the serving model was trained
	// on; ref is the reference sample drawn from them, cur the current
	// window's size.
	covered, ref, cur int
}

// The regimes put the reference sample at either side of Evidently's
// 1,000-row switch: 1,000 events (statistical tests) drawn from 5,000
// covered events, and 5,000 events (distances) drawn from 10,000.
var regimes = []regime{{"1k", 5000, 1000, 1000}, {"5k", 10000, 5000, 5000}}

func scenarios() []scenario {
	return []scenario{
		{"iid", Shift{}, ""},
		// A latent shift of -0.53 moves the observed mean by -0.50 after
		// rounding and clipping (TestSynthShifts).
		{"rating mean -0.5", Shift{RatingDelta: -0.53}, FeatureRating},
		{"Action share x2", Shift{BoostGenre: "Action", BoostFactor: 2}, FeatureGenreMix},
		{"Drama share x2", Shift{BoostGenre: "Drama", BoostFactor: 2}, FeatureGenreMix},
		{"new-user burst 25%", Shift{NewUserShare: 0.25}, FeatureNewUsers},
		{"long tail 20%", Shift{TailShare: 0.2}, FeaturePopularity},
	}
}

// runTrials draws, per trial, a fresh synthetic world and the stationary
// events a model was trained on, samples the reference from them, and then
// compares perWorld fresh current windows of each scenario with it. It
// returns the counts per scenario, in the order given.
func runTrials(t testing.TB, rg regime, scs []scenario, trials, perWorld int) []trialStats {
	out := make([]trialStats, len(scs))
	for k := range out {
		out[k] = trialStats{trials: trials * perWorld, feature: map[string]int{}, method: map[string]Method{}}
	}
	cfg := DefaultConfig()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range trials {
		// Seeded per regime and trial: the rates are fixed numbers, not
		// flaky ones.
		rng := rand.New(rand.NewPCG(uint64(rg.ref), uint64(i)))
		s := NewSynth(rng, 1000, 500, start)
		sm, err := NewSampler(rg.ref, uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range s.Events(rg.covered, Shift{}) {
			sm.Add(e)
		}
		ref := sm.Reference(cfg.PopularityBuckets)
		for k, sc := range scs {
			st := &out[k]
			for range perWorld {
				st.boostShare += s.GenreShare(sc.shift.BoostGenre)
				rep, err := Compare(cfg, ref, s.Events(rg.cur, sc.shift), s, start)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range rep.Features {
					if f.Drifted {
						st.feature[f.Name]++
					}
					st.method[f.Name] = f.Method
				}
				if rep.DatasetDrift {
					st.datasetDrift++
				}
				if rep.Alert == AlertHigh {
					st.alert++
				}
			}
		}
	}
	return out
}

// TestDetectionAndFalseAlarms measures, on seeded synthetic streams, how
// often each injected shift is detected by the feature it targets, and how
// often i.i.d. windows raise dataset drift. With DRIFT_TABLE=path it also
// writes the measured table (the one in docs/drift.md).
func TestDetectionAndFalseAlarms(t *testing.T) {
	measurement(t, "2,200 seeded comparisons")
	var table strings.Builder
	fmt.Fprintf(&table, "| covered / reference sample / current | scenario | target feature detected | dataset drift | alert (> 0.15) | per-feature drift rate |\n|---|---|---|---|---|---|\n")
	for _, rg := range regimes {
		scs := scenarios()
		for k, st := range runTrials(t, rg, scs, 100, 1) {
			sc := scs[k]
			var per []string
			for _, name := range FeatureNames() {
				per = append(per, fmt.Sprintf("%s (%s) %d", name, st.method[name], st.feature[name]))
			}
			target := "-"
			if sc.target != "" {
				target = fmt.Sprintf("%d/100", st.feature[sc.target])
			}
			name := sc.name
			if sc.shift.BoostGenre != "" {
				name += fmt.Sprintf(" (mean share %.1f%%)", 100*st.boostShare/float64(st.trials))
			}
			fmt.Fprintf(&table, "| %d / %d / %d | %s | %s | %d/100 | %d/100 | %s |\n",
				rg.covered, rg.ref, rg.cur, name, target, st.datasetDrift, st.alert, strings.Join(per, ", "))
			switch {
			case sc.target == "":
				if st.datasetDrift > 5 {
					t.Errorf("%s %s: dataset drift in %d of 100 i.i.d. trials, want <= 5", rg.name, sc.name, st.datasetDrift)
				}
			case (sc.name == "Action share x2" || sc.name == "long tail 20%") && rg.name == "5k":
				// Reported, not asserted: see docs/drift.md (Evidently's
				// 0.1 Jensen-Shannon threshold is above these shifts'
				// distances).
			case sc.name == "long tail 20%":
				// The first version's top-20 buckets caught this shift in
				// 60 of 100 trials, the deciles in 90.
				if got := st.feature[sc.target]; got < 85 {
					t.Errorf("%s %s: %s detected in %d of 100 trials, want >= 85", rg.name, sc.name, sc.target, got)
				}
			default:
				if got := st.feature[sc.target]; got < 95 {
					t.Errorf("%s %s: %s detected in %d of 100 trials, want >= 95", rg.name, sc.name, sc.target, got)
				}
			}
		}
	}
	// Per-feature false-alarm rates are ~5% quantities; 100 trials give
	// them to +-2 points only, so the i.i.d. case of the test regime (the
	// distances flagged nothing in 100 trials) also runs 1,000 times: 250
	// worlds with four current windows each.
	for _, rg := range regimes[:1] {
		st := runTrials(t, rg, []scenario{{name: "iid x1000"}}, 250, 4)[0]
		var per []string
		for _, name := range FeatureNames() {
			per = append(per, fmt.Sprintf("%s (%s) %d", name, st.method[name], st.feature[name]))
		}
		fmt.Fprintf(&table, "| %d / %d / %d | iid, 1,000 comparisons | - | %d/1000 | %d/1000 | %s |\n",
			rg.covered, rg.ref, rg.cur, st.datasetDrift, st.alert, strings.Join(per, ", "))
		if st.datasetDrift > 5 {
			t.Errorf("%s: dataset drift in %d of 1,000 i.i.d. comparisons, want <= 5", rg.name, st.datasetDrift)
		}
		// The nominal rate is 5%; see docs/drift.md for the measured
		// rates. Guard against anything clearly worse.
		for name, n := range st.feature {
			if n > 80 {
				t.Errorf("%s: %s false alarms in %d of 1,000 i.i.d. comparisons, want <= 80", rg.name, name, n)
			}
		}
	}
	t.Log("\n" + table.String())
	if path := os.Getenv("DRIFT_TABLE"); path != "" {
		if err := os.WriteFile(path, []byte(table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
