package trainer

import (
	"flag"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

func TestHoldoutIsDeterministicAndSized(t *testing.T) {
	n, in := 20000, 0
	pair := func(i int) (string, string) {
		return "u" + string(rune('a'+i%26)), "m" + strings.Repeat("x", i%7) + string(rune(i))
	}
	first := make([]bool, n)
	for i := 0; i < n; i++ {
		u, m := pair(i)
		first[i] = InHoldout(u, m, 10)
		if first[i] {
			in++
		}
	}
	// A second pass in the opposite order must agree: the split depends on
	// the pair alone, not on call order or hidden state.
	for i := n - 1; i >= 0; i-- {
		if u, m := pair(i); InHoldout(u, m, 10) != first[i] {
			t.Fatalf("InHoldout(%q, %q) changed between passes", u, m)
		}
	}
	if share := float64(in) / float64(n); share < 0.08 || share > 0.12 {
		t.Errorf("holdout share %.3f, want about 0.10", share)
	}
	if InHoldout("u", "m", 0) {
		t.Error("0% holdout holds something out")
	}
}

func TestGate(t *testing.T) {
	serving := Scores{RMSE: 1.0, NDCG10: 0.30, Pairs: 100}
	g := Gate{Tolerance: 0.02}
	tests := []struct {
		name       string
		cand       Scores
		hasServing bool
		ok         bool
		why        string
	}{
		{"first model passes", Scores{RMSE: 3, Pairs: 10}, false, true, "first model"},
		{"better passes", Scores{RMSE: 0.9, NDCG10: 0.35, Pairs: 100}, true, true, "within tolerance"},
		{"slightly worse within tolerance", Scores{RMSE: 1.019, NDCG10: 0.295, Pairs: 100}, true, true, "within tolerance"},
		{"rmse beyond tolerance", Scores{RMSE: 1.03, NDCG10: 0.35, Pairs: 100}, true, false, "rmse"},
		{"ndcg beyond tolerance", Scores{RMSE: 0.9, NDCG10: 0.29, Pairs: 100}, true, false, "ndcg@10"},
		{"nan rejected", Scores{RMSE: math.NaN(), Pairs: 100}, true, false, "not finite"},
		{"empty holdout passes", Scores{}, true, true, "empty holdout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, why := g.Check(tc.cand, serving, tc.hasServing)
			if ok != tc.ok || !strings.Contains(why, tc.why) {
				t.Errorf("Check = %v, %q; want %v and a reason with %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}

// fixedModel scores with a table, to check Evaluate's arithmetic.
type fixedModel struct {
	pred map[string]float64
	top  map[string][]string
}

func (f fixedModel) Predict(user, movie string) float64 { return f.pred[user+"/"+movie] }
func (f fixedModel) Recommend(q recommend.Query) (recommend.Result, error) {
	var r recommend.Result
	for _, m := range f.top[q.User] {
		r.Items = append(r.Items, recommend.Scored{MovieID: m})
	}
	return r, nil
}

func TestEvaluate(t *testing.T) {
	m := fixedModel{
		pred: map[string]float64{"a/1": 4, "a/2": 2, "b/3": 5},
		top:  map[string][]string{"a": {"9", "1"}, "b": {"3"}},
	}
	hold := []recommend.Interaction{{User: "a", Movie: "1", Value: 5}, {User: "a", Movie: "2", Value: 2}, {User: "b", Movie: "3", Value: 4}}
	s, err := Evaluate(m, hold)
	if err != nil {
		t.Fatal(err)
	}
	// Errors 1, 0, 1: RMSE sqrt(2/3), MAE 2/3. NDCG: a has its relevant
	// movie at rank 2 (1/log2(3)), b at rank 1 (1).
	wantNDCG := (1/math.Log2(3) + 1) / 2
	if math.Abs(s.RMSE-math.Sqrt(2.0/3)) > 1e-12 || math.Abs(s.MAE-2.0/3) > 1e-12 || math.Abs(s.NDCG10-wantNDCG) > 1e-12 {
		t.Errorf("Evaluate = %+v, want rmse %v, mae %v, ndcg %v", s, math.Sqrt(2.0/3), 2.0/3, wantNDCG)
	}
	if s.Pairs != 3 || s.Users != 2 {
		t.Errorf("counted %d pairs, %d users; want 3 and 2", s.Pairs, s.Users)
	}
}

func TestConfigSettings(t *testing.T) {
	env := map[string]string{
		"SWIPEFLIX_REFIT_INTERVAL": "90s", "SWIPEFLIX_REFIT_EVERY": "500",
		"SWIPEFLIX_SWIPE_WEIGHTS": "like=3.5,skip=2", "SWIPEFLIX_ADMIN_TOKEN": "s3cret", "SWIPEFLIX_RETRAIN_TOKEN": "r",
	}
	cfg := DefaultConfig()
	s := envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return env[k] })
	cfg.RegisterSettings(s)
	if err := s.Parse([]string{"-trainer.min-events", "7"}); err != nil {
		t.Fatal(err)
	}
	if cfg.RefitInterval.Seconds() != 90 || cfg.RefitEvery != 500 || cfg.MinEvents != 7 || cfg.RetrainToken != "r" ||
		cfg.Weights.Like != 3.5 || cfg.Weights.Skip != 2 || cfg.Weights.IgnoreSkip || cfg.AdminToken != "s3cret" {
		t.Errorf("settings gave %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}

	bad := map[string]string{"SWIPEFLIX_REFIT_EVERY": "many", "SWIPEFLIX_SWIPE_WEIGHTS": "love=5"}
	c := DefaultConfig()
	s = envconfig.NewSettings(flag.NewFlagSet("t", flag.ContinueOnError), func(k string) string { return bad[k] })
	c.RegisterSettings(s)
	err := s.Parse(nil)
	for _, want := range []string{"SWIPEFLIX_REFIT_EVERY", "SWIPEFLIX_SWIPE_WEIGHTS", "love"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to name %s", err, want)
		}
	}
	c = DefaultConfig()
	c.HoldoutPercent, c.Weights.Dislike = 80, 0
	err = c.Validate()
	for _, want := range []string{"holdout percent", "weights.dislike"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate err = %v, want it to name %s", err, want)
		}
	}
}

// Weights off the rating grid are refused: the rating state keeps half
// steps only.
func TestWeightsOnTheRatingGrid(t *testing.T) {
	var w events.Weights
	if err := parseWeights("like=4.2", &w); err == nil || !strings.Contains(err.Error(), "steps of 0.5") {
		t.Errorf("like=4.2: %v", err)
	}
	c := DefaultConfig()
	c.Weights.Like = 3.3
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "weights.like") {
		t.Errorf("Validate with like 3.3: %v", err)
	}
}

// While catching up, refits that grow slow are spaced by twice their own
// time, so they take at most a third of the CPU the fold loop shares.
func TestCatchUpGap(t *testing.T) {
	for _, c := range []struct{ minGap, took, want time.Duration }{
		{time.Minute, 10 * time.Second, time.Minute},
		{time.Minute, 2 * time.Minute, 4 * time.Minute},
		{0, 0, 0},
	} {
		if got := catchUpGap(c.minGap, c.took); got != c.want {
			t.Errorf("catchUpGap(%s, %s) = %s, want %s", c.minGap, c.took, got, c.want)
		}
	}
}

// While behind, a tick folds in only as many of the backlog's users as
// fit in its share of the tick at the measured time per user, at least
// one (folding in all of them at once held the loop 40 s at 3M ratings).
func TestBehindFoldLimit(t *testing.T) {
	tick := 200 * time.Millisecond
	for _, c := range []struct {
		per  time.Duration
		want int
	}{
		{0, defaultRefoldBatch},
		{time.Millisecond, 40},
		{400 * time.Microsecond, 100},
		{50 * time.Millisecond, 1},
		{time.Second, 1},
	} {
		if got := behindFoldLimit(tick, 0.2, c.per); got != c.want {
			t.Errorf("behindFoldLimit(%s, 0.2, %s) = %d, want %d", tick, c.per, got, c.want)
		}
	}
}
