// Package deck deals the swipe deck: the next cards to show a user, never a
// movie they rated, swiped, skipped or were already dealt, with a share of
// exploration from outside their top list and a popular, genre-spread deck
// for a newcomer.
//
// It is pure: no I/O, no clock, no package state; randomness comes from a
// seed the caller passes. The api serves exactly what Deal returns, and the
// cold-start simulation and the tests call the same function.
package deck

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Model is what dealing needs from the serving model; *recommend.Model is
// one.
type Model interface {
	// Recommend ranks the movies the user has not seen.
	Recommend(q recommend.Query) (recommend.Result, error)
	// Seen lists what the user rated or swiped, as the model knows it.
	Seen(user string) []string
	// Predict estimates the rating the user would give a movie.
	Predict(user, movie string) float64
}

var _ Model = (*recommend.Model)(nil)

// Settings tune a deal. DefaultSettings fills every field.
type Settings struct {
	// Size is the number of cards wanted (1..MaxSize).
	Size int
	// ExploreShare is the expected share of cards from outside the user's
	// top list (0..1). A deck of Size cards gets floor(Size*share) of them,
	// plus one more with the probability of the fraction left, so small
	// decks keep the share on average.
	ExploreShare float64
	// PersonalAfter is the number of movies a user must have rated or
	// swiped before the non-exploring cards are all personal; before that,
	// that share is rated/PersonalAfter and the rest is popular and spread
	// across genres. 0 means personal from the first rating.
	PersonalAfter int
	// TopList is how many of the user's best-ranked movies count as their
	// top list, which exploration stays out of.
	TopList int
	// Seed drives exploration. The api derives it from the user and the
	// number of impressions, so a repeated request deals alike while each
	// new deck differs.
	Seed uint64
}

// Limits on a deal.
const (
	MaxSize = 50
	// exploreTries is how many random candidates an exploring card is
	// chosen from: the one the model rates best wins, so an exploring
	// card is new to the user but not junk.
	exploreTries = 24
	// popularScan bounds the walk down the popularity list when spreading
	// a newcomer's deck across genres.
	popularScan = 400
)

// DefaultSettings are the api's defaults: 10 cards, 20% exploration,
// personal after 5 ratings, a top list of 100.
func DefaultSettings() Settings {
	return Settings{Size: 10, ExploreShare: 0.2, PersonalAfter: 5, TopList: 100}
}

// Validate names the first setting that is out of range.
func (s Settings) Validate() error {
	switch {
	case s.Size < 1 || s.Size > MaxSize:
		return fmt.Errorf("size: must be 1..%d, got %d", MaxSize, s.Size)
	case math.IsNaN(s.ExploreShare) || s.ExploreShare < 0 || s.ExploreShare > 1:
		return fmt.Errorf("explore share: must be 0..1, got %v", s.ExploreShare)
	case s.PersonalAfter < 0:
		return fmt.Errorf("personal after: must be >= 0, got %d", s.PersonalAfter)
	case s.TopList < 0 || s.TopList > recommend.MaxK:
		return fmt.Errorf("top list: must be 0..%d, got %d", recommend.MaxK, s.TopList)
	}
	return nil
}

// Card is one dealt movie.
type Card struct {
	MovieID string
	Title   string
	Year    int
	Genres  []string
	// Reason says why the card was dealt: "because you liked X", "popular
	// in Comedy", "explore: a genre new to you (Documentary)".
	Reason string
	// Explore marks a card from outside the user's top list.
	Explore bool
}

// Catalog is the dealing view of one model's catalog, built once per
// model (NewCatalog copies what it needs) and then only read.
type Catalog struct {
	items   []item
	byID    map[string]int32
	popular []int32 // indices, most raters first
	// newYear is the year from which a movie counts as newer (the newest
	// fifth of the catalog's dated movies).
	newYear int
	// fewRaters is the rater count under which a rated movie counts as
	// less known (the median of rated movies).
	fewRaters int
}

type item struct {
	id, title string
	year      int
	genres    []string
	raters    int
}

// NewCatalog builds the view from a model's catalog
// ((*recommend.Model).Catalog).
func NewCatalog(movies []recommend.CatalogItem) *Catalog {
	c := &Catalog{items: make([]item, len(movies)), byID: make(map[string]int32, len(movies))}
	var years, raters []int
	for i, mv := range movies {
		c.items[i] = item{id: mv.ID, title: mv.Title, year: mv.Year, genres: slices.Clone(mv.Genres), raters: mv.Raters}
		c.byID[mv.ID] = int32(i)
		if mv.Year > 0 {
			years = append(years, mv.Year)
		}
		if mv.Raters > 0 {
			raters = append(raters, mv.Raters)
		}
	}
	c.popular = make([]int32, len(movies))
	for i := range c.popular {
		c.popular[i] = int32(i)
	}
	slices.SortStableFunc(c.popular, func(a, b int32) int {
		if d := cmp.Compare(c.items[b].raters, c.items[a].raters); d != 0 {
			return d
		}
		return cmp.Compare(c.items[a].id, c.items[b].id)
	})
	if len(years) > 0 {
		slices.Sort(years)
		c.newYear = years[len(years)*4/5]
	}
	if len(raters) > 0 {
		slices.Sort(raters)
		c.fewRaters = raters[len(raters)/2]
	}
	return c
}

// Len is the number of movies in the catalog.
func (c *Catalog) Len() int { return len(c.items) }

// card turns catalog entry i into a card; a movie the catalog does not
// know (folded in after it was built) gets its id as the title.
func (c *Catalog) card(id string) Card {
	i, ok := c.byID[id]
	if !ok {
		return Card{MovieID: id, Title: "Movie " + id, Genres: []string{}}
	}
	it := c.items[i]
	g := it.genres
	if g == nil {
		g = []string{}
	}
	return Card{MovieID: it.id, Title: it.title, Year: it.year, Genres: g}
}

// Deal returns the next s.Size cards for user (fewer when the catalog runs
// out). impressions are the movies already dealt to the user; they and the
// movies the model has seen the user rate or swipe are never dealt.
//
// The cards are, in order: personal picks (the model's ranking), popular
// movies spread across genres for users with fewer than s.PersonalAfter
// ratings (all of them for a newcomer), with the exploring cards mixed in
// at positions drawn from the seed.
func Deal(m Model, c *Catalog, user string, impressions []string, s Settings) ([]Card, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x5eed))
	seen := m.Seen(user)
	excluded := make(map[string]bool, len(seen)+len(impressions)+s.Size)
	for _, id := range seen {
		excluded[id] = true
	}
	for _, id := range impressions {
		excluded[id] = true
	}

	want := s.ExploreShare * float64(s.Size)
	nExplore := int(want)
	if rng.Float64() < want-float64(nExplore) {
		nExplore++
	}
	nMain := s.Size - nExplore
	nPersonal := 0
	if len(seen) > 0 {
		share := 1.0
		if s.PersonalAfter > 0 && len(seen) < s.PersonalAfter {
			share = float64(len(seen)) / float64(s.PersonalAfter)
		}
		nPersonal = max(1, int(math.Round(share*float64(nMain))))
		nPersonal = min(nPersonal, nMain)
	}

	// The top list: the user's ranking, or popularity for a newcomer.
	// Personal picks come from its head; exploration stays out of all of it.
	var ranked []recommend.Scored
	top := map[string]bool{}
	if k := max(nPersonal, s.TopList); len(seen) > 0 && k > 0 {
		res, err := m.Recommend(recommend.Query{User: user, K: k, Exclude: impressions})
		if err != nil {
			return nil, fmt.Errorf("deal for %q: rank: %w", user, err)
		}
		ranked = res.Items
	}
	for _, r := range ranked {
		top[r.MovieID] = true
	}
	if len(seen) == 0 {
		for _, i := range c.popular[:min(s.TopList, len(c.popular))] {
			top[c.items[i].id] = true
		}
	}

	cards := make([]Card, 0, s.Size)
	take := func(cd Card) {
		excluded[cd.MovieID] = true
		cards = append(cards, cd)
	}
	var personal []string
	for _, r := range ranked {
		if len(personal) == nPersonal {
			break
		}
		if !excluded[r.MovieID] {
			personal = append(personal, r.MovieID)
			excluded[r.MovieID] = true
		}
	}
	reasons := Reasons(m, c, user, personal)
	for _, id := range personal {
		cd := c.card(id)
		cd.Reason = reasons[id]
		if cd.Reason == "" {
			cd.Reason = "matches your taste"
		}
		take(cd)
	}
	for _, cd := range c.popularSpread(nMain-len(cards), excluded) {
		take(cd)
	}
	explore := c.explore(m, user, seen, cards, nExplore+nMain-len(cards), excluded, top, rng)
	for _, cd := range explore {
		// Mix the exploring cards in, so they are not always last.
		at := rng.IntN(len(cards) + 1)
		excluded[cd.MovieID] = true
		cards = slices.Insert(cards, at, cd)
	}
	// Exploration found too few (a small catalog, all of it in the top
	// list): the user's ranking further down, then popularity.
	for _, r := range ranked {
		if len(cards) >= s.Size {
			break
		}
		if !excluded[r.MovieID] {
			cd := c.card(r.MovieID)
			cd.Reason = "matches your taste"
			take(cd)
		}
	}
	for _, cd := range c.popularSpread(s.Size-len(cards), excluded) {
		take(cd)
	}
	return cards, nil
}

// popularSpread returns up to n of the most popular movies not excluded,
// spread across genres: walking down the popularity list, it first takes
// only movies that bring a genre the deck does not show yet, then any,
// and in both passes no genre may be on more than a third of the cards.
func (c *Catalog) popularSpread(n int, excluded map[string]bool) []Card {
	if n <= 0 {
		return nil
	}
	var out []Card
	used := map[string]int{}
	picked := map[int32]bool{}
	limit := (n + 2) / 3
	scan := c.popular[:min(popularScan, len(c.popular))]
	for _, needFresh := range []bool{true, false} {
		for _, i := range scan {
			if len(out) == n {
				return out
			}
			it := &c.items[i]
			if picked[i] || excluded[it.id] {
				continue
			}
			fits, fresh := true, ""
			for _, g := range it.genres {
				if used[g] >= limit {
					fits = false
				}
				if fresh == "" && used[g] == 0 {
					fresh = g
				}
			}
			if !fits || (needFresh && fresh == "") {
				continue
			}
			for _, g := range it.genres {
				used[g]++
			}
			picked[i] = true
			cd := c.card(it.id)
			cd.Reason = "popular"
			if fresh != "" {
				cd.Reason = "popular in " + fresh
			}
			out = append(out, cd)
		}
	}
	// Past the scan or the limits (a catalog of few genres): plain
	// popularity.
	for _, i := range c.popular {
		if len(out) == n {
			break
		}
		if it := &c.items[i]; !picked[i] && !excluded[it.id] {
			picked[i] = true
			cd := c.card(it.id)
			cd.Reason = "popular"
			out = append(out, cd)
		}
	}
	return out
}

// Kinds of exploration, tried in turn.
const (
	exploreGenre = iota
	exploreNewer
	exploreLessKnown
	exploreKinds
)

// explore returns up to n movies from outside top and excluded: each of a
// kind in turn (a genre the user has not rated and the deck does not show,
// a newer movie, a less known one), the best by the model's rating
// estimate among a few drawn at random. A kind with no candidate left
// gives way to the next.
func (c *Catalog) explore(m Model, user string, seen []string, dealt []Card, n int, excluded, top map[string]bool, rng *rand.Rand) []Card {
	if n <= 0 {
		return nil
	}
	known := map[string]bool{}
	for _, id := range seen {
		if i, ok := c.byID[id]; ok {
			for _, g := range c.items[i].genres {
				known[g] = true
			}
		}
	}
	for _, cd := range dealt {
		for _, g := range cd.Genres {
			known[g] = true
		}
	}
	var pools [exploreKinds][]int32
	for i := range c.items {
		it := &c.items[i]
		if excluded[it.id] || top[it.id] {
			continue
		}
		for _, g := range it.genres {
			if !known[g] {
				pools[exploreGenre] = append(pools[exploreGenre], int32(i))
				break
			}
		}
		if c.newYear > 0 && it.year >= c.newYear {
			pools[exploreNewer] = append(pools[exploreNewer], int32(i))
		}
		if it.raters > 0 && it.raters < c.fewRaters {
			pools[exploreLessKnown] = append(pools[exploreLessKnown], int32(i))
		}
	}
	var out []Card
	kind := rng.IntN(exploreKinds)
	for tries := 0; len(out) < n && tries < n*exploreKinds; tries++ {
		k := kind % exploreKinds
		kind++
		best, bestScore := int32(-1), math.Inf(-1)
		pool := pools[k]
		for range min(exploreTries, len(pool)) {
			i := pool[rng.IntN(len(pool))]
			if excluded[c.items[i].id] {
				continue
			}
			if v := m.Predict(user, c.items[i].id); v > bestScore {
				best, bestScore = i, v
			}
		}
		if best < 0 {
			continue
		}
		it := &c.items[best]
		excluded[it.id] = true
		cd := c.card(it.id)
		cd.Explore = true
		switch k {
		case exploreGenre:
			g := ""
			for _, name := range it.genres {
				if !known[name] {
					g = name
					break
				}
			}
			cd.Reason = "explore: a genre new to you (" + g + ")"
		case exploreNewer:
			cd.Reason = "explore: newer (" + strconv.Itoa(it.year) + ")"
		default:
			cd.Reason = "explore: less known (" + plural(it.raters, "rating") + ")"
		}
		out = append(out, cd)
	}
	return out
}

// plural writes n and noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
