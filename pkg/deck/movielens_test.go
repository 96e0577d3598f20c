package deck_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/deck"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// The measurements of docs/deck.md, on ml-latest-small (skipped when
// ../shared/datasets is absent, under -short and under -race; make test's
// second pass runs them):
//
//	go test -count=1 -run MLLatestSmall -v ./pkg/deck/

// mlSmall is the dataset: its catalog (with tags) and ratings by user in
// time order.
type mlSmall struct {
	movies []recommend.MovieInfo
	byUser map[string][]dataset.Rating
	users  []string // sorted
}

func loadMLSmall(t *testing.T) mlSmall {
	t.Helper()
	if testing.Short() || raceEnabled {
		t.Skip("real-data measurement runs without -short and without -race (make test's second pass)")
	}
	movies, ratings := datasettest.Load(t, "ml-latest-small")
	d := mlSmall{byUser: map[string][]dataset.Rating{}}
	for _, m := range movies {
		d.movies = append(d.movies, recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags, Overview: m.Overview})
	}
	for _, r := range ratings {
		d.byUser[r.User] = append(d.byUser[r.User], r)
	}
	for u, rs := range d.byUser {
		slices.SortStableFunc(rs, func(a, b dataset.Rating) int { return cmp.Compare(a.Time, b.Time) })
		d.users = append(d.users, u)
	}
	slices.Sort(d.users)
	return d
}

// fit learns the served model's configuration from every user but skip.
func (d mlSmall) fit(t *testing.T, skip map[string]bool) *recommend.Model {
	t.Helper()
	ts := recommend.TrainSet{Movies: d.movies}
	for _, u := range d.users {
		if skip[u] {
			continue
		}
		for _, r := range d.byUser[u] {
			ts.Interactions = append(ts.Interactions, recommend.Interaction{User: u, Movie: r.Movie, Value: r.Value})
		}
	}
	m, err := recommend.Fit(ts, recommend.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// swipeValue is the swipe a rating stands for (like 4, superlike 5: the
// default weights of pkg/events).
func swipeValue(r float64) float32 {
	if r >= 5 {
		return 5
	}
	return 4
}

// TestMLLatestSmallColdStart: 100 users held out of the fit arrive as new
// users and swipe their own likes (ratings >= 4) in time order. After 0,
// 1, 3, 5 and 10 swipes, folded into the model with FoldUser and Apply as
// the trainer does, the next deck of 10 is dealt; a hit is a deck holding
// at least one of the likes still to come. Baselines: the 10 most popular
// movies not swiped yet, and /predict's top 10.
func TestMLLatestSmallColdStart(t *testing.T) {
	d := loadMLSmall(t)
	var test []string
	likes := map[string][]dataset.Rating{}
	for _, u := range d.users {
		var l []dataset.Rating
		for _, r := range d.byUser[u] {
			if r.Value >= 4 {
				l = append(l, r)
			}
		}
		if len(l) >= 20 {
			likes[u] = l
			test = append(test, u)
		}
	}
	// Every third eligible user, at most 100: spread over the id range.
	var picked []string
	for i := 0; i < len(test) && len(picked) < 100; i += 3 {
		picked = append(picked, test[i])
	}
	skip := map[string]bool{}
	for _, u := range picked {
		skip[u] = true
	}
	m := d.fit(t, skip)
	cat := deck.NewCatalog(m.Catalog())

	steps := []int{0, 1, 3, 5, 10}
	// Per step: decks with a hit (HR) and likes per deck (hits), for each
	// way of choosing 10 movies.
	type row struct{ deck, deck0, popular, predict, personal, hDeck, hDeck0, hPopular, hPredict float64 }
	rows := make([]row, len(steps))
	for _, u := range picked {
		l := likes[u]
		for si, n := range steps {
			var rated []recommend.Rated
			var swiped []string
			for _, r := range l[:n] {
				rated = append(rated, recommend.Rated{Movie: r.Movie, Value: swipeValue(r.Value)})
				swiped = append(swiped, r.Movie)
			}
			if n > 0 {
				if err := m.Apply(recommend.Delta{BaseVersion: m.Version, Users: []recommend.UserDelta{m.FoldUser(u, rated)}}); err != nil {
					t.Fatal(err)
				}
			}
			future := map[string]bool{}
			for _, r := range l[n:] {
				future[r.Movie] = true
			}
			hits := func(ids []string) float64 {
				n := 0.0
				for _, id := range ids {
					if future[id] {
						n++
					}
				}
				return n
			}
			hit := func(ids []string) float64 { return min(1, hits(ids)) }
			s := deck.DefaultSettings()
			s.Seed = uint64(len(u)*1000 + n)
			cards, err := deck.Deal(m, cat, u, swiped, s)
			if err != nil {
				t.Fatal(err)
			}
			rows[si].deck += hit(cardIDs(cards))
			rows[si].hDeck += hits(cardIDs(cards))
			for _, c := range cards {
				if !strings.HasPrefix(c.Reason, "popular") && !c.Explore {
					rows[si].personal++
				}
			}
			s.ExploreShare = 0
			cards0, err := deck.Deal(m, cat, u, swiped, s)
			if err != nil {
				t.Fatal(err)
			}
			rows[si].deck0 += hit(cardIDs(cards0))
			rows[si].hDeck0 += hits(cardIDs(cards0))
			pop, err := m.Recommend(recommend.Query{User: "nobody-" + u, K: 10, Exclude: swiped})
			if err != nil {
				t.Fatal(err)
			}
			rows[si].popular += hit(scoredIDs(pop.Items))
			rows[si].hPopular += hits(scoredIDs(pop.Items))
			pred, err := m.Recommend(recommend.Query{User: u, K: 10})
			if err != nil {
				t.Fatal(err)
			}
			rows[si].predict += hit(scoredIDs(pred.Items))
			rows[si].hPredict += hits(scoredIDs(pred.Items))
		}
	}
	n := float64(len(picked))
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d held-out users (>= 20 likes each), next deck of 10: HR = share of decks with a like still to come, likes = future likes per deck\n", len(picked))
	fmt.Fprintf(&sb, "| swipes | deck (20%% explore) HR / likes | deck (no explore) | popularity | /predict top 10 | personal cards per deck |\n|---|---|---|---|---|---|\n")
	for i, st := range steps {
		r := rows[i]
		fmt.Fprintf(&sb, "| %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.1f |\n", st, r.deck/n, r.hDeck/n, r.deck0/n, r.hDeck0/n,
			r.popular/n, r.hPopular/n, r.predict/n, r.hPredict/n, r.personal/n)
	}
	t.Log("\n" + sb.String())
	at5 := rows[3]
	if at5.hDeck0 <= at5.hPopular {
		t.Errorf("after 5 likes the deck (no exploration) holds %.2f future likes, popularity %.2f: not personal", at5.hDeck0/n, at5.hPopular/n)
	}
	if at5.personal/n < 7.5 {
		t.Errorf("after 5 likes only %.1f cards per deck are personal", at5.personal/n)
	}
}

// TestMLLatestSmallCoverage: the share of the catalog that decks dealt to
// 100 users reach, against /predict's top 10 (and top 50, the same number
// of movies as five decks) for the same users.
func TestMLLatestSmallCoverage(t *testing.T) {
	d := loadMLSmall(t)
	m := d.fit(t, nil)
	cat := deck.NewCatalog(m.Catalog())
	var users []string
	for i := 0; i < len(d.users) && len(users) < 100; i += len(d.users) / 100 {
		users = append(users, d.users[i])
	}
	deck1, deck5, deck5noExp, pred10, pred50 := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	exploring, cards := 0, 0
	for _, u := range users {
		for _, share := range []float64{0.2, 0} {
			var impressions []string
			for round := range 5 {
				s := deck.DefaultSettings()
				s.ExploreShare = share
				s.Seed = uint64(round)
				got, err := deck.Deal(m, cat, u, impressions, s)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range got {
					impressions = append(impressions, c.MovieID)
					switch {
					case share == 0:
						deck5noExp[c.MovieID] = true
					default:
						deck5[c.MovieID] = true
						if round == 0 {
							deck1[c.MovieID] = true
						}
						cards++
						if c.Explore {
							exploring++
						}
					}
				}
			}
		}
		for k, dst := range map[int]map[string]bool{10: pred10, 50: pred50} {
			res, err := m.Recommend(recommend.Query{User: u, K: k})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range scoredIDs(res.Items) {
				dst[id] = true
			}
		}
	}
	total := float64(cat.Len())
	t.Logf("\n%d users, catalog of %d movies; coverage = distinct movies shown / catalog\n"+
		"| what | movies | coverage |\n|---|---|---|\n"+
		"| /predict top 10 | %d | %.4f |\n| one deck of 10 (20%% explore) | %d | %.4f |\n"+
		"| /predict top 50 | %d | %.4f |\n| five decks of 10 (20%% explore) | %d | %.4f |\n| five decks of 10, no exploration | %d | %.4f |\n"+
		"exploring cards: %d of %d (%.3f)",
		len(users), cat.Len(), len(pred10), float64(len(pred10))/total, len(deck1), float64(len(deck1))/total,
		len(pred50), float64(len(pred50))/total, len(deck5), float64(len(deck5))/total, len(deck5noExp), float64(len(deck5noExp))/total,
		exploring, cards, float64(exploring)/float64(cards))
	if len(deck1) <= len(pred10) || len(deck5) <= len(pred50) {
		t.Errorf("decks reach %d/%d movies, /predict %d/%d: exploration does not widen coverage", len(deck1), len(deck5), len(pred10), len(pred50))
	}
}

func cardIDs(cs []deck.Card) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.MovieID
	}
	return out
}

func scoredIDs(items []recommend.Scored) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.MovieID
	}
	return out
}
