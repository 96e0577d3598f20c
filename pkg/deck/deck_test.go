package deck_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/deck"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

var (
	fitOnce  sync.Once
	fitSnap  []byte
	fitError error
)

// testModel is a fresh copy of a model fitted once per test binary on a
// generated dataset (20,000 ratings, about 400 movies with genres).
func testModel(t testing.TB) *recommend.Model {
	t.Helper()
	fitOnce.Do(func() {
		syn := dataset.Generate(dataset.SizedConfig(20000, 3))
		var ts recommend.TrainSet
		for _, mv := range syn.Catalog {
			ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: mv.ID, Title: mv.Title, Year: mv.Year, Genres: mv.Genres})
		}
		for _, r := range syn.Ratings() {
			ts.Interactions = append(ts.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
		}
		m, err := recommend.Fit(ts, recommend.Config{Factors: 8, RatingFactors: 8, Seed: 1})
		if err != nil {
			fitError = err
			return
		}
		fitSnap, fitError = m.MarshalBinary()
	})
	if fitError != nil {
		t.Fatalf("fit: %v", fitError)
	}
	m, err := recommend.Decode(fitSnap)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// swipe folds a user's ratings into m, as the trainer's delta would.
func swipe(t testing.TB, m *recommend.Model, user string, rated []recommend.Rated) {
	t.Helper()
	if err := m.Apply(recommend.Delta{BaseVersion: m.Version, Users: []recommend.UserDelta{m.FoldUser(user, rated)}}); err != nil {
		t.Fatal(err)
	}
}

func ids(cards []deck.Card) []string {
	out := make([]string, len(cards))
	for i, c := range cards {
		out[i] = c.MovieID
	}
	return out
}

// Dealing over and over never repeats a card, never deals a movie the user
// rated, and never one already dealt (swiped, skipped or still unanswered).
func TestDealNeverRepeats(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	for _, user := range []string{"newcomer", "7"} {
		t.Run(user, func(t *testing.T) {
			seen := map[string]bool{}
			for _, id := range m.Seen(user) {
				seen[id] = true
			}
			var impressions []string
			for round := range 30 {
				s := deck.DefaultSettings()
				s.Seed = uint64(round)
				cards, err := deck.Deal(m, cat, user, impressions, s)
				if err != nil {
					t.Fatal(err)
				}
				if len(cards) != s.Size {
					t.Fatalf("round %d: %d cards, want %d", round, len(cards), s.Size)
				}
				for _, c := range cards {
					if seen[c.MovieID] {
						t.Fatalf("round %d: %s was rated by %s", round, c.MovieID, user)
					}
					if slices.Contains(impressions, c.MovieID) {
						t.Fatalf("round %d: %s dealt twice", round, c.MovieID)
					}
					impressions = append(impressions, c.MovieID)
					if c.Title == "" || c.Genres == nil || c.Reason == "" {
						t.Errorf("card %+v lacks a title, genres or reason", c)
					}
				}
			}
		})
	}
}

// A skipped movie (an impression the user answered with a skip) is never
// dealt again, although it is the most popular movie of all; and a skip is
// no rating signal: the user stays a newcomer.
func TestSkipsExcluded(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	first, err := deck.Deal(m, cat, "skipper", nil, deck.Settings{Size: 5, TopList: 100})
	if err != nil {
		t.Fatal(err)
	}
	skipped := first[0].MovieID
	for seed := range uint64(20) {
		s := deck.DefaultSettings()
		s.Seed = seed
		cards, err := deck.Deal(m, cat, "skipper", []string{skipped}, s)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(ids(cards), skipped) {
			t.Fatalf("skipped movie %s dealt again: %v", skipped, ids(cards))
		}
	}
	if seen := m.Seen("skipper"); len(seen) != 0 {
		t.Fatalf("a skip changed the model: %v", seen)
	}
}

// About ExploreShare of the cards explore, each from outside the user's
// top list, and the share follows the setting.
func TestExplorationShare(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	for _, share := range []float64{0, 0.2, 0.5} {
		t.Run(fmt.Sprint(share), func(t *testing.T) {
			explore, total := 0, 0
			for u := range 40 {
				user := fmt.Sprint(u + 1)
				var impressions []string
				for round := range 5 {
					s := deck.DefaultSettings()
					s.ExploreShare = share
					s.Size = 3 + round // small decks keep the share too
					s.Seed = uint64(u*100 + round)
					res, err := m.Recommend(recommend.Query{User: user, K: s.TopList, Exclude: impressions})
					if err != nil {
						t.Fatal(err)
					}
					top := map[string]bool{}
					for _, r := range res.Items {
						top[r.MovieID] = true
					}
					cards, err := deck.Deal(m, cat, user, impressions, s)
					if err != nil {
						t.Fatal(err)
					}
					for _, c := range cards {
						total++
						if c.Explore {
							explore++
							if top[c.MovieID] {
								t.Errorf("user %s: exploring card %s is in the top list", user, c.MovieID)
							}
							if !strings.HasPrefix(c.Reason, "explore: ") {
								t.Errorf("exploring card reason %q", c.Reason)
							}
						} else if strings.HasPrefix(c.Reason, "explore") {
							t.Errorf("card %+v says explore but is not marked", c)
						}
						impressions = append(impressions, c.MovieID)
					}
				}
			}
			got := float64(explore) / float64(total)
			t.Logf("share %.2f: %d of %d cards explore (%.3f)", share, explore, total, got)
			if got < share-0.05 || got > share+0.05 {
				t.Errorf("explore share %.3f, want %.2f ± 0.05", got, share)
			}
		})
	}
}

// A newcomer's first deck is popular and spread across genres; after 5
// likes every card that does not explore is personal.
func TestColdStart(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	s := deck.DefaultSettings()
	s.ExploreShare = 0
	cards, err := deck.Deal(m, cat, "fresh", nil, s)
	if err != nil {
		t.Fatal(err)
	}
	pop, err := m.Recommend(recommend.Query{User: "fresh", K: 100})
	if err != nil || !pop.ColdStart {
		t.Fatalf("popularity: %v, cold %v", err, pop.ColdStart)
	}
	popular := map[string]bool{}
	for _, r := range pop.Items {
		popular[r.MovieID] = true
	}
	// genres counts the distinct genres of cs and the cards of the most
	// frequent one.
	genres := func(cs []deck.Card) (distinct, most int) {
		g := map[string]int{}
		for _, c := range cs {
			for _, x := range c.Genres {
				g[x]++
				most = max(most, g[x])
			}
		}
		return len(g), most
	}
	var plain []deck.Card
	for _, r := range pop.Items[:len(cards)] {
		mi, _ := m.Movie(r.MovieID)
		plain = append(plain, deck.Card{MovieID: r.MovieID, Genres: mi.Genres})
	}
	for _, c := range cards {
		if !popular[c.MovieID] {
			t.Errorf("newcomer card %s (%s) is not among the 100 most popular", c.MovieID, c.Reason)
		}
		if !strings.HasPrefix(c.Reason, "popular") {
			t.Errorf("newcomer card reason %q", c.Reason)
		}
	}
	g, gMost := genres(cards)
	p, pMost := genres(plain)
	t.Logf("first deck: %d genres, at most %d cards per genre; the 10 most popular: %d genres, %d", g, gMost, p, pMost)
	if g < p || gMost > (len(cards)+2)/3 {
		t.Errorf("first deck covers %d genres (popularity %d), up to %d cards in one: not spread", g, p, gMost)
	}

	// Five likes: the deck turns personal.
	var rated []recommend.Rated
	for _, c := range cards[:5] {
		rated = append(rated, recommend.Rated{Movie: c.MovieID, Value: 4})
	}
	swipe(t, m, "fresh", rated)
	next, err := deck.Deal(m, cat, "fresh", ids(cards), s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range next {
		if strings.HasPrefix(c.Reason, "popular") {
			t.Errorf("after 5 likes a card is still popular filler: %+v", c)
		}
	}
	// With two likes, part of the deck is personal and the rest popular.
	swipe(t, m, "half", rated[:2])
	half, err := deck.Deal(m, cat, "half", ids(cards[:2]), s)
	if err != nil {
		t.Fatal(err)
	}
	personal := 0
	for _, c := range half {
		if !strings.HasPrefix(c.Reason, "popular") {
			personal++
		}
	}
	if personal != 4 {
		t.Errorf("after 2 of 5 likes %d of 10 cards are personal, want 4", personal)
	}
}

func TestSettingsValidate(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	for _, s := range []deck.Settings{
		{Size: 0}, {Size: deck.MaxSize + 1}, {Size: 5, ExploreShare: 1.5}, {Size: 5, ExploreShare: -0.1},
		{Size: 5, PersonalAfter: -1}, {Size: 5, TopList: -1},
	} {
		if _, err := deck.Deal(m, cat, "u", nil, s); err == nil {
			t.Errorf("settings %+v accepted", s)
		}
	}
}

// A catalog smaller than the deck deals what is left, then nothing.
func TestDealRunsOut(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	var impressions []string
	for range 100 {
		cards, err := deck.Deal(m, cat, "binge", impressions, deck.Settings{Size: deck.MaxSize, ExploreShare: 0.2, TopList: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(cards) == 0 {
			break
		}
		impressions = append(impressions, ids(cards)...)
	}
	if len(impressions) != cat.Len() {
		t.Fatalf("dealt %d movies of %d", len(impressions), cat.Len())
	}
	slices.Sort(impressions)
	if len(slices.Compact(impressions)) != cat.Len() {
		t.Fatal("a movie was dealt twice")
	}
}

// explained wraps a model with the Explainer the recommend rewrite adds,
// so that Reasons prefers it.
type explained struct{ *recommend.Model }

func (explained) Because(user, movie string) (string, bool) {
	if movie == "2" {
		return "1", true
	}
	return "", false
}

func TestReasons(t *testing.T) {
	m := testModel(t)
	cat := deck.NewCatalog(m.Catalog())
	one, _ := m.Movie("1")
	got := deck.Reasons(explained{m}, cat, "u", []string{"2", "3"})
	if len(got) != 1 || got["2"] != "because you liked "+one.Title {
		t.Errorf("with an explainer: %v", got)
	}

	// The fallback names a movie the user liked, never one they disliked.
	swipe(t, m, "fan", []recommend.Rated{{Movie: "1", Value: 5}, {Movie: "2", Value: 5}, {Movie: "3", Value: 0.5}})
	res, err := m.Recommend(recommend.Query{User: "fan", K: 10})
	if err != nil {
		t.Fatal(err)
	}
	var picks []string
	for _, r := range res.Items {
		picks = append(picks, r.MovieID)
	}
	got = deck.Reasons(m, cat, "fan", picks)
	if len(got) == 0 {
		t.Fatalf("no reason for any of %v", picks)
	}
	three, _ := m.Movie("3")
	for mv, r := range got {
		if r == "because you liked "+three.Title {
			t.Errorf("%s: %q names the disliked movie", mv, r)
		}
	}
	if len(deck.Reasons(m, cat, "nobody", picks)) != 0 {
		t.Error("a user with no history got reasons")
	}
}
