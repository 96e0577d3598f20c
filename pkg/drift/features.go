package drift

import (
	"fmt"
	"math"
	"sort"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// The features computed from the event stream, in report order.
const (
	FeatureRating     = "rating"           // numeric: the value of each rating
	FeatureSwipeMix   = "swipe_mix"        // categorical: rating, like, superlike, dislike, skip
	FeatureGenreMix   = "genre_mix"        // categorical: genres of the movies in the events
	FeaturePopularity = "movie_popularity" // categorical: the reference's top movies plus "other"
	FeatureActivity   = "user_activity"    // numeric: events per user in the window
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
	LabelOther    = "other"
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

// Reference is the reference profile the current window is compared with:
// the distribution of every feature, the reference's top movies, and the
// users and movies it has seen.
type Reference struct {
	Window        WindowInfo
	Distributions map[string]Distribution
	// TopMovies are the reference's most frequent movies (counted on its
	// even-numbered events), most frequent first; movie_popularity counts
	// every other movie as "other".
	TopMovies []string
	// KnownUsers and KnownMovies decide "new" in the current window: the
	// ids of the reference's even half, or for a pinned reference the ids
	// the caller passes.
	KnownUsers  map[string]bool
	KnownMovies map[string]bool
}

// NewReference profiles the reference events. topN is the number of movies
// movie_popularity tracks by name. genres may be nil (every movie then
// counts as without genres).
//
// The reference is split in two interleaved halves, its even-numbered and
// odd-numbered events. The even half decides which users and movies are
// known and which movies are the top ones; movie_popularity, new_users and
// new_movies take their reference counts from the odd half, the other
// features from every event. An event (of the odd half or of the current
// window) is "new" when its user (movie) does not occur in the even half.
// For a stationary stream the odd half and the current window are then two
// independent samples of one distribution given the even half, which is
// what the tests assume. Choosing and counting on the same events would not
// be: the top movies are top partly by chance and look less popular in any
// later window (61 false alarms in 100 random ml-100k windows), and every
// reference user is known by definition.
func NewReference(evs []events.Event, genres GenreLookup, topN int) *Reference {
	r := &Reference{
		Window:      windowOf(evs),
		KnownUsers:  make(map[string]bool),
		KnownMovies: make(map[string]bool),
	}
	movieCounts := map[string]int{}
	odd := make([]events.Event, 0, len(evs)/2)
	for i := range evs {
		if i%2 == 1 {
			odd = append(odd, evs[i])
			continue
		}
		r.KnownUsers[evs[i].UserID] = true
		r.KnownMovies[evs[i].MovieID] = true
		movieCounts[evs[i].MovieID]++
	}
	r.TopMovies = topMovies(movieCounts, topN)
	newUser := func(e *events.Event) bool { return !r.KnownUsers[e.UserID] }
	newMovie := func(e *events.Event) bool { return !r.KnownMovies[e.MovieID] }
	r.Distributions = profile(evs, genres, r.TopMovies, newUser, newMovie)
	half := profile(odd, nil, r.TopMovies, newUser, newMovie)
	for _, name := range []string{FeaturePopularity, FeatureNewUsers, FeatureNewMovies} {
		r.Distributions[name] = half[name]
	}
	return r
}

// ReferenceFromReport pins the reference distributions of an earlier
// report, so a restart or a deliberate baseline keeps comparing with the
// same reference. A report does not carry the ids it saw, so the caller
// passes the users and movies to treat as known (for example every id seen
// before the current window).
func ReferenceFromReport(rep Report, knownUsers, knownMovies map[string]bool) (*Reference, error) {
	r := &Reference{
		Window:        rep.Reference,
		Distributions: make(map[string]Distribution, len(rep.Features)),
		KnownUsers:    knownUsers,
		KnownMovies:   knownMovies,
	}
	for _, f := range rep.Features {
		r.Distributions[f.Name] = f.Reference
		if f.Name == FeaturePopularity {
			for _, l := range f.Reference.Labels {
				if l != LabelOther {
					r.TopMovies = append(r.TopMovies, l)
				}
			}
		}
	}
	if len(r.Distributions) == 0 {
		return nil, fmt.Errorf("pin report of %s: it has no features", rep.Time.Format("2006-01-02T15:04:05Z07:00"))
	}
	return r, nil
}

// Current profiles the current window's events against r.
func (r *Reference) Current(evs []events.Event, genres GenreLookup) map[string]Distribution {
	newUser := func(e *events.Event) bool { return !r.KnownUsers[e.UserID] }
	newMovie := func(e *events.Event) bool { return !r.KnownMovies[e.MovieID] }
	return profile(evs, genres, r.TopMovies, newUser, newMovie)
}

func topMovies(counts map[string]int, n int) []string {
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if counts[ids[i]] != counts[ids[j]] {
			return counts[ids[i]] > counts[ids[j]]
		}
		return ids[i] < ids[j]
	})
	if len(ids) > n {
		ids = ids[:n]
	}
	return ids
}

var swipeKinds = []string{"rating", string(events.Like), string(events.Superlike), string(events.Dislike), string(events.Skip)}

// profile computes every feature's distribution over evs.
func profile(evs []events.Event, genres GenreLookup, top []string,
	newUser, newMovie func(*events.Event) bool) map[string]Distribution {
	ratings := map[float64]int64{}
	kinds := map[string]float64{}
	genreMix := map[string]float64{}
	pop := map[string]float64{}
	perUser := map[string]int64{}
	newUsers := map[string]float64{}
	newMovies := map[string]float64{}
	isTop := make(map[string]bool, len(top))
	for _, m := range top {
		isTop[m] = true
	}
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
		if isTop[e.MovieID] {
			pop[e.MovieID]++
		} else {
			pop[LabelOther]++
		}
		perUser[e.UserID]++
		if newUser(e) {
			newUsers[LabelNew]++
		} else {
			newUsers[LabelKnown]++
		}
		if newMovie(e) {
			newMovies[LabelNew]++
		} else {
			newMovies[LabelKnown]++
		}
	}
	activity := map[float64]int64{}
	for _, c := range perUser {
		activity[float64(c)]++
	}
	return map[string]Distribution{
		FeatureRating:     numericDist(ratings),
		FeatureSwipeMix:   categoricalDist(kinds, swipeKinds),
		FeatureGenreMix:   categoricalDist(genreMix, nil),
		FeaturePopularity: categoricalDist(pop, append(append([]string(nil), top...), LabelOther)),
		FeatureActivity:   numericDist(activity),
		FeatureNewUsers:   categoricalDist(newUsers, []string{LabelNew, LabelKnown}),
		FeatureNewMovies:  categoricalDist(newMovies, []string{LabelNew, LabelKnown}),
	}
}
