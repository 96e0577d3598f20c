package eval

import (
	"math"
	"testing"
)

func set(ids ...string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Hand-computed cases. Ranking a b c d e; relevant b, d, z.
func TestRankingMetricsByHand(t *testing.T) {
	ranked := []string{"a", "b", "c", "d", "e"}
	rel := set("b", "d", "z")
	// DCG@5 = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
	// IDCG@5 (3 relevant) = 1 + 0.630930 + 0.5 = 2.130930
	cases := []struct {
		name      string
		got, want float64
	}{
		{"precision@5", Precision(ranked, rel, 5), 2.0 / 5},
		{"precision@10 divides by 10", Precision(ranked, rel, 10), 2.0 / 10},
		{"precision@1", Precision(ranked, rel, 1), 0},
		{"recall@5", Recall(ranked, rel, 5), 2.0 / 3},
		{"recall@2", Recall(ranked, rel, 2), 1.0 / 3},
		{"hit@1", HitRate(ranked, rel, 1), 0},
		{"hit@2", HitRate(ranked, rel, 2), 1},
		{"ndcg@5", NDCG(ranked, rel, 5), (1/math.Log2(3) + 1/math.Log2(5)) / (1 + 1/math.Log2(3) + 0.5)},
		{"ndcg@2", NDCG(ranked, rel, 2), (1 / math.Log2(3)) / (1 + 1/math.Log2(3))},
		{"ndcg perfect", NDCG([]string{"b", "d", "z"}, rel, 10), 1},
		{"ndcg nothing relevant", NDCG(ranked, set(), 10), 0},
		{"recall nothing relevant", Recall(ranked, set(), 10), 0},
	}
	for _, c := range cases {
		if !near(c.got, c.want) {
			t.Errorf("%s = %.6f, want %.6f", c.name, c.got, c.want)
		}
	}
	if got := NDCG(ranked, rel, 5); !near(got, 1.061606/2.130930) && math.Abs(got-0.498187) > 1e-5 {
		t.Errorf("ndcg@5 = %.6f, want 0.498187", got)
	}
}

func TestErrorStatsByHand(t *testing.T) {
	var e ErrorStats
	if !math.IsNaN(e.RMSE()) || !math.IsNaN(e.MAE()) {
		t.Fatal("empty stats should be NaN")
	}
	// errors 1, -2, 0.5: squares 1 + 4 + 0.25 = 5.25; |.| 3.5.
	e.Add(4, 3)
	e.Add(1, 3)
	e.Add(3.5, 3)
	if !near(e.RMSE(), math.Sqrt(5.25/3)) || !near(e.MAE(), 3.5/3) || e.N() != 3 {
		t.Errorf("rmse %v mae %v n %d", e.RMSE(), e.MAE(), e.N())
	}
}
