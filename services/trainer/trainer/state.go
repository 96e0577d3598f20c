package trainer

import (
	"hash/fnv"

	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// InHoldout reports whether the pair (user, movie) belongs to the holdout:
// a deterministic hash puts about pct percent of pairs there, the same pairs
// on every run and every refit, so models are compared on equal terms.
func InHoldout(user, movie string, pct int) bool {
	if pct <= 0 {
		return false
	}
	h := fnv.New64a()
	h.Write([]byte(user))
	h.Write([]byte{0})
	h.Write([]byte(movie))
	return int(h.Sum64()%100) < pct
}

// split divides the state's pairs (as columns) into training and holdout
// interactions (InHoldout with pct), and returns the users with a holdout
// pair: a model fitted on train has not seen those pairs, so the loop folds
// those users in when it installs the model. The ids are the columns'
// strings, shared, not copied.
func split(c ratingstate.Columns, pct int) (train, holdout []recommend.Interaction, holdoutUsers map[string]struct{}) {
	train = make([]recommend.Interaction, 0, len(c.User))
	holdoutUsers = map[string]struct{}{}
	for i := range c.User {
		it := recommend.Interaction{User: c.UserIDs[c.User[i]], Movie: c.MovieIDs[c.Movie[i]], Value: float64(c.Value[i])}
		// A seen-only pair (a skip, value 0) is no rating to score.
		if it.Value > 0 && InHoldout(it.User, it.Movie, pct) {
			holdout = append(holdout, it)
			holdoutUsers[it.User] = struct{}{}
		} else {
			train = append(train, it)
		}
	}
	return train, holdout, holdoutUsers
}

// rated converts the state's view of a user's ratings to the model's.
func rated(rs []ratingstate.Rated) []recommend.Rated {
	out := make([]recommend.Rated, len(rs))
	for i, r := range rs {
		out[i] = recommend.Rated{Movie: r.Movie, Value: r.Value}
	}
	return out
}

// raters converts the state's view of a movie's raters to the model's.
func raters(rs []ratingstate.Rater) []recommend.Rater {
	out := make([]recommend.Rater, len(rs))
	for i, r := range rs {
		out[i] = recommend.Rater{User: r.User, Value: r.Value}
	}
	return out
}
