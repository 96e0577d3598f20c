package trainer

import (
	"fmt"
	"math"

	"github.com/swipeflix/swipeflix/pkg/eval"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Scores are a model's figures on the holdout.
type Scores struct {
	// RMSE and MAE of the rating estimates over every holdout pair.
	RMSE float64 `json:"rmse"`
	MAE  float64 `json:"mae"`
	// NDCG10 is the mean NDCG@10 over users with at least one relevant
	// holdout movie (value >= RelevantAt), ranking every movie they have not
	// rated in the model's training data.
	NDCG10 float64 `json:"ndcg@10"`
	// Pairs and Users count what was evaluated.
	Pairs int `json:"holdout_pairs"`
	Users int `json:"holdout_users"`
}

// Map returns the scores as manifest metrics.
func (s Scores) Map() map[string]float64 {
	return map[string]float64{"rmse": s.RMSE, "mae": s.MAE, "ndcg@10": s.NDCG10,
		"holdout_pairs": float64(s.Pairs), "holdout_users": float64(s.Users)}
}

// RelevantAt is the holdout value from which a movie counts as relevant for
// NDCG (the DESIGN.md top-N protocol: a test rating >= 4).
const RelevantAt = 4.0

// scorer is what Evaluate needs of a model.
type scorer interface {
	Predict(user, movie string) float64
	Recommend(q recommend.Query) (recommend.Result, error)
}

// Evaluate scores m on holdout with pkg/eval's metrics. It is pure: the
// same model and holdout give the same scores.
func Evaluate(m scorer, holdout []recommend.Interaction) (Scores, error) {
	var s Scores
	if len(holdout) == 0 {
		return s, nil
	}
	relevant := map[string]map[string]bool{}
	var errs eval.ErrorStats
	for _, it := range holdout {
		errs.Add(m.Predict(it.User, it.Movie), it.Value)
		if it.Value >= RelevantAt {
			if relevant[it.User] == nil {
				relevant[it.User] = map[string]bool{}
			}
			relevant[it.User][it.Movie] = true
		}
	}
	s.Pairs = len(holdout)
	s.RMSE, s.MAE = errs.RMSE(), errs.MAE()
	var sum float64
	for user, rel := range relevant {
		res, err := m.Recommend(recommend.Query{User: user, K: eval.K})
		if err != nil {
			return Scores{}, fmt.Errorf("evaluate: recommend for %s: %w", user, err)
		}
		ranked := make([]string, len(res.Items))
		for i, it := range res.Items {
			ranked[i] = it.MovieID
		}
		sum += eval.NDCG(ranked, rel, eval.K)
	}
	s.Users = len(relevant)
	if s.Users > 0 {
		s.NDCG10 = sum / float64(s.Users)
	}
	return s, nil
}

// Gate is the quality gate a refit must pass to be published.
type Gate struct {
	// Tolerance is how much worse than the serving model a candidate may be,
	// relative: RMSE up to (1+Tolerance) times, NDCG@10 down to
	// (1-Tolerance) times the serving model's.
	Tolerance float64
}

// Check decides whether cand may replace serving. hasServing is false when
// no model serves yet: then any finite candidate passes. reason says why,
// either way.
func (g Gate) Check(cand, serving Scores, hasServing bool) (ok bool, reason string) {
	if math.IsNaN(cand.RMSE) || math.IsInf(cand.RMSE, 0) || math.IsNaN(cand.NDCG10) {
		return false, fmt.Sprintf("candidate scores are not finite (rmse %v, ndcg@10 %v)", cand.RMSE, cand.NDCG10)
	}
	if !hasServing {
		return true, "first model"
	}
	if cand.Pairs == 0 {
		return true, "empty holdout: nothing to compare"
	}
	if limit := serving.RMSE * (1 + g.Tolerance); cand.RMSE > limit {
		return false, fmt.Sprintf("rmse %.4f worse than serving %.4f beyond tolerance %.2f%% (limit %.4f)",
			cand.RMSE, serving.RMSE, 100*g.Tolerance, limit)
	}
	if limit := serving.NDCG10 * (1 - g.Tolerance); cand.NDCG10 < limit {
		return false, fmt.Sprintf("ndcg@10 %.4f worse than serving %.4f beyond tolerance %.2f%% (limit %.4f)",
			cand.NDCG10, serving.NDCG10, 100*g.Tolerance, limit)
	}
	return true, fmt.Sprintf("rmse %.4f (serving %.4f), ndcg@10 %.4f (serving %.4f) within tolerance %.2f%%",
		cand.RMSE, serving.RMSE, cand.NDCG10, serving.NDCG10, 100*g.Tolerance)
}
