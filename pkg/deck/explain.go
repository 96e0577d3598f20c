package deck

import (
	"cmp"
	"slices"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Explainer is a model that can say which rated movie contributes most to
// another movie's score for a user. The model families of the recommend
// rewrite provide it; Reasons uses it when the model has it and falls back
// to item similarity when it has not.
type Explainer interface {
	Because(user, movie string) (because string, ok bool)
}

// similarModel is the fallback's need: the movies most like a given one.
type similarModel interface {
	Similar(id string, k int) ([]recommend.Scored, error)
}

var _ similarModel = (*recommend.Model)(nil)

// Fallback bounds: the liked movies looked at, how far down each one's
// similar list a movie may sit, and the rating estimate that counts as
// liked (a like is 4 on the rating scale, a dislike 1).
const (
	fallbackLiked = 8
	fallbackK     = 200
	likedAt       = 3.5
)

// Reasons says, for each of movies, "because you liked X" where the model
// can tell: X is the model's own answer (Explainer) when it has one,
// otherwise the movie among the user's best-estimated seen movies to which
// it is most similar (within that movie's 200 nearest). Movies with no
// answer are absent from the map.
func Reasons(m Model, c *Catalog, user string, movies []string) map[string]string {
	out := make(map[string]string, len(movies))
	if len(movies) == 0 {
		return out
	}
	title := func(id string) string {
		if c != nil {
			if i, ok := c.byID[id]; ok {
				return c.items[i].title
			}
		}
		return id
	}
	if ex, ok := m.(Explainer); ok {
		for _, mv := range movies {
			if b, ok := ex.Because(user, mv); ok && b != "" {
				out[mv] = "because you liked " + title(b)
			}
		}
		return out
	}
	sm, ok := m.(similarModel)
	if !ok {
		return out
	}
	type scored struct {
		id string
		v  float64
	}
	var liked []scored
	for _, id := range m.Seen(user) {
		if v := m.Predict(user, id); v >= likedAt {
			liked = append(liked, scored{id, v})
		}
	}
	slices.SortFunc(liked, func(a, b scored) int {
		if d := cmp.Compare(b.v, a.v); d != 0 {
			return d
		}
		return cmp.Compare(a.id, b.id)
	})
	liked = liked[:min(len(liked), fallbackLiked)]
	want := make(map[string]bool, len(movies))
	for _, mv := range movies {
		want[mv] = true
	}
	best := map[string]scored{}
	for _, l := range liked {
		sim, err := sm.Similar(l.id, fallbackK)
		if err != nil {
			continue
		}
		for _, s := range sim {
			if !want[s.MovieID] || s.Score <= 0 {
				continue
			}
			if b, ok := best[s.MovieID]; !ok || s.Score > b.v {
				best[s.MovieID] = scored{l.id, s.Score}
			}
		}
	}
	for mv, b := range best {
		out[mv] = "because you liked " + title(b.id)
	}
	return out
}
