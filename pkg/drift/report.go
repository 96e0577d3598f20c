package drift

import (
	"errors"
	"fmt"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// Method names a feature's drift test, with Evidently's names.
type Method string

// The methods Evidently picks by default.
const (
	MethodKS            Method = "ks"
	MethodChiSquare     Method = "chisquare"
	MethodWasserstein   Method = "wasserstein"
	MethodJensenShannon Method = "jensenshannon"
)

// Alert is the report's alert level.
type Alert string

// Alert levels: high when the drift score exceeds Config.AlertScore.
const (
	AlertNone Alert = "none"
	AlertHigh Alert = "high"
)

// Config holds the decision thresholds; DefaultConfig gives Evidently's
// defaults and the seed's alert level.
type Config struct {
	// SmallReference is the largest reference (observations of the
	// feature) compared with a statistical test; above it a distance is used.
	SmallReference int `json:"small_reference"`
	// PValue: a test flags drift when p < PValue.
	PValue float64 `json:"p_value"`
	// Distance: a distance flags drift when it is >= Distance.
	Distance float64 `json:"distance"`
	// DatasetDriftShare: the dataset drifts when the share of drifted
	// features is >= DatasetDriftShare.
	DatasetDriftShare float64 `json:"dataset_drift_share"`
	// AlertScore: the alert is high when the share is > AlertScore.
	AlertScore float64 `json:"alert_score"`
	// PopularityBuckets is how many buckets of the reference's event mass
	// movie_popularity uses (10: deciles), besides "unseen".
	PopularityBuckets int `json:"popularity_buckets"`
}

// DefaultConfig is Evidently's default drift preset (K-S and chi-square at
// p < 0.05 up to 1,000 reference rows, normalised Wasserstein and
// Jensen-Shannon at >= 0.1 above, dataset drift at a share of 0.5) with the
// seed's alert above 0.15 and popularity deciles.
func DefaultConfig() Config {
	return Config{SmallReference: 1000, PValue: 0.05, Distance: 0.1,
		DatasetDriftShare: 0.5, AlertScore: 0.15, PopularityBuckets: 10}
}

// Validate names the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.SmallReference < 0:
		return fmt.Errorf("small_reference: must be >= 0, got %d", c.SmallReference)
	case c.PValue <= 0 || c.PValue >= 1:
		return fmt.Errorf("p_value: must be in (0, 1), got %v", c.PValue)
	case c.Distance <= 0:
		return fmt.Errorf("distance: must be > 0, got %v", c.Distance)
	case c.DatasetDriftShare <= 0 || c.DatasetDriftShare > 1:
		return fmt.Errorf("dataset_drift_share: must be in (0, 1], got %v", c.DatasetDriftShare)
	case c.AlertScore < 0 || c.AlertScore >= 1:
		return fmt.Errorf("alert_score: must be in [0, 1), got %v", c.AlertScore)
	case c.PopularityBuckets < 1 || c.PopularityBuckets > 100:
		return fmt.Errorf("popularity_buckets: must be 1..100, got %d", c.PopularityBuckets)
	}
	return nil
}

// WindowInfo bounds a window by event time and counts its events. For a
// sampled reference, Events is the sample's size and Population the number
// of events it was drawn from (From and To span those).
type WindowInfo struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	Events     int       `json:"events"`
	Population int       `json:"population,omitempty"`
}

func windowOf(evs []events.Event) WindowInfo {
	w := WindowInfo{Events: len(evs)}
	for i := range evs {
		ts := evs[i].TS
		if w.From.IsZero() || ts.Before(w.From) {
			w.From = ts
		}
		if ts.After(w.To) {
			w.To = ts
		}
	}
	return w
}

// FeatureResult is one feature's comparison.
type FeatureResult struct {
	Name   string `json:"name"`
	Kind   Kind   `json:"kind"`
	Method Method `json:"method,omitempty"`
	// Statistic is the test statistic (K-S D, chi-square) or the distance.
	Statistic float64 `json:"statistic"`
	// PValue is set for the tests, Distance for the distances.
	PValue   *float64 `json:"p_value,omitempty"`
	Distance *float64 `json:"distance,omitempty"`
	// Score is the p-value or the distance, whichever the method gives (as
	// Evidently's drift_score); it feeds swipeflix_drift_feature_score.
	Score     float64 `json:"score"`
	Threshold float64 `json:"threshold"`
	Drifted   bool    `json:"drifted"`
	// Skipped explains why a feature was not compared (no observations in
	// one of the windows); skipped features do not count in the share.
	Skipped   string       `json:"skipped,omitempty"`
	Reference Distribution `json:"reference"`
	Current   Distribution `json:"current"`
}

// Report is the outcome of comparing a current window with the reference.
type Report struct {
	Time time.Time `json:"time"`
	// ModelVersion is the serving model whose training events are the
	// reference (0 when the reference is a configured period).
	ModelVersion int64           `json:"model_version,omitempty"`
	Reference    WindowInfo      `json:"reference"`
	Current      WindowInfo      `json:"current"`
	Features     []FeatureResult `json:"features"`
	// Evaluated counts the features compared, Drifted those that drifted.
	Evaluated int `json:"evaluated"`
	Drifted   int `json:"drifted"`
	// Share is the drift score: Drifted / Evaluated.
	Share        float64 `json:"share"`
	DatasetDrift bool    `json:"dataset_drift"`
	Alert        Alert   `json:"alert"`
}

// Feature returns the named feature's result.
func (r Report) Feature(name string) (FeatureResult, bool) {
	for _, f := range r.Features {
		if f.Name == name {
			return f, true
		}
	}
	return FeatureResult{}, false
}

// Compare builds the report for the current events against ref at time
// now (the caller's clock).
func Compare(cfg Config, ref *Reference, cur []events.Event, genres GenreLookup, now time.Time) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("drift config: %w", err)
	}
	refDist, curDist := ref.Distributions(genres), ref.Current(cur, genres)
	rep := Report{Time: now, Reference: ref.Window, Current: windowOf(cur), Alert: AlertNone}
	for _, name := range FeatureNames() {
		fr, err := compareFeature(cfg, name, refDist[name], curDist[name])
		if err != nil {
			return Report{}, fmt.Errorf("feature %s: %w", name, err)
		}
		rep.Features = append(rep.Features, fr)
		if fr.Skipped == "" {
			rep.Evaluated++
			if fr.Drifted {
				rep.Drifted++
			}
		}
	}
	if rep.Evaluated > 0 {
		rep.Share = float64(rep.Drifted) / float64(rep.Evaluated)
	}
	rep.DatasetDrift = rep.Evaluated > 0 && rep.Share >= cfg.DatasetDriftShare
	if rep.Share > cfg.AlertScore {
		rep.Alert = AlertHigh
	}
	return rep, nil
}

func compareFeature(cfg Config, name string, ref, cur Distribution) (FeatureResult, error) {
	fr := FeatureResult{Name: name, Kind: ref.Kind, Reference: ref, Current: cur}
	nRef, nCur := ref.Total(), cur.Total()
	switch {
	case nRef == 0:
		fr.Skipped = "no observations in the reference window"
		return fr, nil
	case nCur == 0:
		fr.Skipped = "no observations in the current window"
		return fr, nil
	}
	small := nRef <= float64(cfg.SmallReference)
	if ref.Kind == Numerical {
		rn, err := ref.numeric()
		if err != nil {
			return fr, fmt.Errorf("reference: %w", err)
		}
		cn, err := cur.numeric()
		if err != nil {
			return fr, fmt.Errorf("current: %w", err)
		}
		if small {
			ks, err := KS(rn, cn)
			if err != nil {
				return fr, err
			}
			fr.setTest(MethodKS, ks.Statistic, ks.PValue, cfg.PValue)
			return fr, nil
		}
		w, err := NormalisedWasserstein(rn, cn)
		if err != nil {
			return fr, err
		}
		fr.setDistance(MethodWasserstein, w, cfg.Distance)
		return fr, nil
	}
	_, rc, cc := align(ref, cur)
	if small {
		chi, err := ChiSquareHomogeneity(rc, cc)
		if err != nil {
			return fr, err
		}
		fr.setTest(MethodChiSquare, chi.Statistic, chi.PValue, cfg.PValue)
		return fr, nil
	}
	js, err := JensenShannon(rc, cc)
	if err != nil {
		return fr, err
	}
	fr.setDistance(MethodJensenShannon, js, cfg.Distance)
	return fr, nil
}

func (f *FeatureResult) setTest(m Method, stat, p, threshold float64) {
	f.Method, f.Statistic, f.Score, f.Threshold = m, stat, p, threshold
	f.PValue = &p
	f.Drifted = p < threshold
}

func (f *FeatureResult) setDistance(m Method, d, threshold float64) {
	f.Method, f.Statistic, f.Score, f.Threshold = m, d, d, threshold
	f.Distance = &d
	f.Drifted = d >= threshold
}

// ErrNoReport is returned by stores that hold no report yet.
var ErrNoReport = errors.New("no drift report yet")
