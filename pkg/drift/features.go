package drift

import (
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// The features computed from the event stream, in report order.
const (
	FeatureRating     = "rating"           // numeric: the value of each rating
	FeatureSwipeMix   = "swipe_mix"        // categorical: rating, like, superlike, dislike, skip
	FeatureGenreMix   = "genre_mix"        // categorical: genres of the movies in the events
	FeaturePopularity = "movie_popularity" // categorical: the movie's popularity decile in the reference
	FeatureActivity   = "user_activity"    // numeric: the reference's events of the event's (known) user
	FeatureNewUsers   = "new_users"        // categorical: new or known user per event
	FeatureNewMovies  = "new_movies"       // categorical: new or known movie per event
)

// FeatureNames lists every feature in report order.
func FeatureNames() []string {
	return []string{FeatureRating, FeatureSwipeMix, FeatureGenreMix, FeaturePopularity,
		FeatureActivity, FeatureNewUsers, FeatureNewMovies}
}

// Labels used by the categorical features.
const (
	LabelUnseen   = "unseen" // movie_popularity of a movie the reference's known half has no event of
	LabelNew      = "new"
	LabelKnown    = "known"
	LabelNoGenres = "(no genres listed)" // MovieLens' own label for a movie without genres
)

// GenreLookup returns the genres of a movie, or none when the movie is not
// known (yet). The catalog implements it.
type GenreLookup interface {
	Genres(movieID string) []string
}

// Kind says whether a feature is numeric or categorical.
type Kind string

// The kinds of feature.
const (
	Numerical   Kind = "numerical"
	Categorical Kind = "categorical"
)

// Distribution is one feature's observations in one window: for a numeric
// feature the distinct Values with their Counts, for a categorical one the
// Labels with their Counts. It doubles as the histogram a report charts.
type Distribution struct {
	Kind   Kind      `json:"kind"`
	Values []float64 `json:"values,omitempty"`
	Labels []string  `json:"labels,omitempty"`
	Counts []float64 `json:"counts"`
}

// Total is the number (or weight) of observations.
func (d Distribution) Total() float64 {
	var s float64
	for _, c := range d.Counts {
		s += c
	}
	return s
}

func numericDist(m map[float64]int64) Distribution {
	n := numericFromMap(m)
	d := Distribution{Kind: Numerical, Values: n.Values, Counts: make([]float64, len(n.Counts))}
	for i, c := range n.Counts {
		d.Counts[i] = float64(c)
	}
	return d
}

// numeric converts back to value counts; counts of numeric features are
// whole numbers of observations.
func (d Distribution) numeric() (Numeric, error) {
	n := Numeric{Values: d.Values, Counts: make([]int64, len(d.Counts))}
	for i, c := range d.Counts {
		if c != math.Trunc(c) {
			return Numeric{}, fmt.Errorf("numeric count %v at index %d is not a whole number", c, i)
		}
		n.Counts[i] = int64(c)
	}
	return n, nil
}

// categoricalDist keeps labels in the given order first (fixed vocabularies
// such as the swipe kinds) and then any others sorted, so reports compare
// and chart in a stable order.
func categoricalDist(m map[string]float64, order []string) Distribution {
	d := Distribution{Kind: Categorical}
	seen := make(map[string]bool, len(order))
	for _, l := range order {
		seen[l] = true
		d.Labels = append(d.Labels, l)
		d.Counts = append(d.Counts, m[l])
	}
	var rest []string
	for l := range m {
		if !seen[l] {
			rest = append(rest, l)
		}
	}
	sort.Strings(rest)
	for _, l := range rest {
		d.Labels = append(d.Labels, l)
		d.Counts = append(d.Counts, m[l])
	}
	return d
}

// align returns the counts of a and b over the union of their labels.
func align(a, b Distribution) (labels []string, ca, cb []float64) {
	idx := map[string]int{}
	add := func(l string) {
		if _, ok := idx[l]; !ok {
			idx[l] = len(labels)
			labels = append(labels, l)
		}
	}
	for _, l := range a.Labels {
		add(l)
	}
	for _, l := range b.Labels {
		add(l)
	}
	ca = make([]float64, len(labels))
	cb = make([]float64, len(labels))
	for i, l := range a.Labels {
		ca[idx[l]] += a.Counts[i]
	}
	for i, l := range b.Labels {
		cb[idx[l]] += b.Counts[i]
	}
	return labels, ca, cb
}

// Reference is the profile the current window is compared with: a sample
// of the reference events, and what the reference's known half says about
// users and movies (built by a Sampler, or by NewReference).
type Reference struct {
	// Window spans the reference population by event time; Events is the
	// sample's size and Population the number of events it was drawn from.
	Window WindowInfo

	sample   []events.Event // every sampled event
	measured []events.Event // the sampled events of the measuring half
	users    map[string]int // known half: events per user
	bucket   map[string]int // known half: popularity bucket (1..buckets) per movie
	buckets  int
}

// NewReference profiles evs as a whole reference population: every event
// is in the sample, and seed splits them into the known and the measuring
// half (see Sampler).
//
// The known half decides which users and movies are known, how active each
// user is and how popular each movie is; movie_popularity, user_activity,
// new_users and new_movies take their reference values from the measuring
// half, the other features from every sampled event. For a stationary
// stream the measuring half and the current window are then two
// independent samples of one distribution given the known half, which is
// what the tests assume. Deciding and counting on the same events would
// not be: the popular movies are popular partly by chance and look less
// popular in any later window (61 false alarms in 100 random ml-100k
// windows with the first version's top-20 movies), and every reference user
// is known by definition.
func NewReference(evs []events.Event, buckets int, seed uint64) *Reference {
	s, _ := NewSampler(max(1, len(evs)), seed) // size >= 1: no error
	for i := range evs {
		s.Add(evs[i])
	}
	if r := s.Reference(buckets); r != nil {
		return r
	}
	return &Reference{users: map[string]int{}, bucket: map[string]int{}, buckets: buckets}
}

// Known reports whether the reference's known half has events of the user.
func (r *Reference) Known(userID string) bool { return r.users[userID] > 0 }

// Popularity returns the movie_popularity label of a movie: its bucket
// (q1 the most popular .. qN), or "unseen" when the known half has no
// event of it.
func (r *Reference) Popularity(movieID string) string {
	if b := r.bucket[movieID]; b > 0 {
		return popularityLabel(b)
	}
	return LabelUnseen
}

func popularityLabel(b int) string { return "q" + strconv.Itoa(b) }

// popularityOrder lists the movie_popularity labels in chart order.
func (r *Reference) popularityOrder() []string {
	out := make([]string, 0, r.buckets+1)
	for b := 1; b <= r.buckets; b++ {
		out = append(out, popularityLabel(b))
	}
	return append(out, LabelUnseen)
}

// Distributions profiles the reference: the sampled events for rating,
// swipe_mix and genre_mix, the measuring half for the features relative to
// the known half. genres may be nil (every movie then counts as without
// genres); it is read now, so a catalog loaded since the last call counts.
func (r *Reference) Distributions(genres GenreLookup) map[string]Distribution {
	d := r.profile(r.sample, genres)
	half := r.profile(r.measured, nil)
	for _, name := range []string{FeaturePopularity, FeatureActivity, FeatureNewUsers, FeatureNewMovies} {
		d[name] = half[name]
	}
	return d
}

// Current profiles the current window's events against r.
func (r *Reference) Current(evs []events.Event, genres GenreLookup) map[string]Distribution {
	return r.profile(evs, genres)
}

var swipeKinds = []string{"rating", string(events.Like), string(events.Superlike), string(events.Dislike), string(events.Skip)}

// profile computes every feature's distribution over evs.
func (r *Reference) profile(evs []events.Event, genres GenreLookup) map[string]Distribution {
	ratings := map[float64]int64{}
	kinds := map[string]float64{}
	genreMix := map[string]float64{}
	pop := map[string]float64{}
	activity := map[float64]int64{}
	newUsers := map[string]float64{}
	newMovies := map[string]float64{}
	for i := range evs {
		e := &evs[i]
		if e.Rating != nil {
			ratings[*e.Rating]++
		}
		kinds[e.Kind()]++
		// Each event weighs one in total, shared among its movie's genres,
		// so a multi-genre movie does not count as several observations
		// (which would overstate the chi-square's sample size).
		var gs []string
		if genres != nil {
			gs = genres.Genres(e.MovieID)
		}
		if len(gs) == 0 {
			genreMix[LabelNoGenres]++
		} else {
			for _, g := range gs {
				genreMix[g] += 1 / float64(len(gs))
			}
		}
		label := r.Popularity(e.MovieID)
		pop[label]++
		// Activity is measured on known users only: a new user has no
		// reference activity, and counting it as 0 would make every
		// new-user shift drift two features (this one and new_users).
		if n := r.users[e.UserID]; n > 0 {
			activity[float64(n)]++
			newUsers[LabelKnown]++
		} else {
			newUsers[LabelNew]++
		}
		if label == LabelUnseen {
			newMovies[LabelNew]++
		} else {
			newMovies[LabelKnown]++
		}
	}
	return map[string]Distribution{
		FeatureRating:     numericDist(ratings),
		FeatureSwipeMix:   categoricalDist(kinds, swipeKinds),
		FeatureGenreMix:   categoricalDist(genreMix, nil),
		FeaturePopularity: categoricalDist(pop, r.popularityOrder()),
		FeatureActivity:   numericDist(activity),
		FeatureNewUsers:   categoricalDist(newUsers, []string{LabelNew, LabelKnown}),
		FeatureNewMovies:  categoricalDist(newMovies, []string{LabelNew, LabelKnown}),
	}
}
