package eval

import (
	"fmt"
	"sort"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Prequential replays ratings in time order. It tunes and fits on the first
// opt.WarmFraction of the stream (default 0.5) as the trainer does
// (recommend.Tune with the trainer's default validation split: each user's
// latest ratings when every rating has a time), then for each later event asks, before applying it,
// whether the movie is in the user's current top K (the prequential hit
// rate), over every replayed event. Rows:
//
//   - popularity: the most-rated movies of the warm-up, never updated;
//   - hybrid-static: the tuned warm-up model, never updated (a batch system
//     between refits);
//   - hybrid: the same model with each event folded in at once (the user's
//     state, and a new movie's, by the family's fold-in, as the trainer
//     does).
//
// It also reports how close fold-in stays to a refit: the mean top-K
// overlap, per user, between the folded-in model at the end of the replay
// and a model refitted (same settings) on the whole stream. relevant is
// the search's relevance threshold on the 0.5..5 scale.
func Prequential(all []dataset.Rating, movies []dataset.Movie, opt Options, relevant float64) (PrequentialResult, error) {
	warmFraction := opt.WarmFraction
	if warmFraction <= 0 || warmFraction >= 1 {
		warmFraction = 0.5
	}
	stream := append([]dataset.Rating(nil), all...)
	sort.SliceStable(stream, func(i, j int) bool { return stream[i].Time < stream[j].Time })
	cut := int(float64(len(stream)) * warmFraction)
	warm, replay := stream[:cut], stream[cut:]
	if len(warm) == 0 || len(replay) == 0 {
		return PrequentialResult{}, fmt.Errorf("prequential: %d ratings are too few to split", len(stream))
	}

	start := time.Now()
	topt := opt.Tune
	topt.Relevant = relevant
	topt.Base.Seed = max(opt.Seed, topt.Base.Seed)
	topt.Now = time.Now
	warmSet := TrainSet(warm, movies)
	static, rep, err := recommend.Tune(warmSet, topt)
	if err != nil {
		return PrequentialResult{}, fmt.Errorf("prequential: tune warm-up: %w", err)
	}
	fitSeconds := time.Since(start).Seconds()
	cfg := static.Config()
	plainStart := time.Now()
	if _, err := recommend.Fit(warmSet, cfg); err != nil {
		return PrequentialResult{}, fmt.Errorf("prequential: plain fit: %w", err)
	}
	tuneRatio := fitSeconds / time.Since(plainStart).Seconds()
	// The live model starts as a copy of the static one.
	live := static.Clone()
	pop, err := fitPopularity(warm, movies)
	if err != nil {
		return PrequentialResult{}, err
	}

	staticTop := map[string][]string{}
	popTop := map[string][]string{}
	rated := map[string][]recommend.Rated{}
	raters := map[string][]recommend.Rater{}
	for _, r := range warm {
		rated[r.User] = append(rated[r.User], recommend.Rated{Movie: r.Movie, Value: float32(r.Value)})
		raters[r.Movie] = append(raters[r.Movie], recommend.Rater{User: r.User, Value: float32(r.Value)})
	}
	catalog := map[string]recommend.MovieInfo{}
	for _, m := range movies {
		catalog[m.ID] = recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year, Genres: m.Genres, Tags: m.Tags}
	}

	var hitStatic, hitLive, hitPop float64
	liveRec := &modelRec{m: live}
	for _, r := range replay {
		if _, ok := staticTop[r.User]; !ok {
			staticTop[r.User] = (&modelRec{m: static}).Top(r.User, K)
			popTop[r.User] = pop.Top(r.User, K)
		}
		hitStatic += contains(staticTop[r.User], r.Movie)
		hitPop += contains(popTop[r.User], r.Movie)
		hitLive += contains(liveRec.Top(r.User, K), r.Movie)

		// Fold the event in: a movie new to the model first, then the user.
		rated[r.User] = upsert(rated[r.User], r.Movie, float32(r.Value))
		raters[r.Movie] = append(raters[r.Movie], recommend.Rater{User: r.User, Value: float32(r.Value)})
		d := recommend.Delta{BaseVersion: live.Version}
		if _, known := live.Movie(r.Movie); !known {
			info, ok := catalog[r.Movie]
			if !ok {
				info = recommend.MovieInfo{ID: r.Movie}
			}
			d.Movies = append(d.Movies, live.FoldMovie(info, raters[r.Movie]))
		}
		d.Users = append(d.Users, live.FoldUser(r.User, rated[r.User]))
		if err := live.Apply(d); err != nil {
			return PrequentialResult{}, fmt.Errorf("prequential: apply: %w", err)
		}
	}

	refit, err := recommend.Fit(TrainSet(stream, movies), cfg)
	if err != nil {
		return PrequentialResult{}, fmt.Errorf("prequential: refit: %w", err)
	}
	var overlap float64
	users := map[string]bool{}
	for _, r := range replay {
		users[r.User] = true
	}
	refitRec := &modelRec{m: refit}
	for u := range users {
		a, b := liveRec.Top(u, K), refitRec.Top(u, K)
		var common float64
		for _, id := range a {
			common += contains(b, id)
		}
		overlap += common / K
	}
	n := float64(len(replay))
	nan := func(r Row) Row {
		r.RMSE, r.MAE, r.Precision, r.Recall, r.NDCG, r.Coverage = nan64(), nan64(), nan64(), nan64(), nan64(), nan64()
		return r
	}
	return PrequentialResult{
		Rows: []Row{
			nan(Row{Name: "popularity", HR: hitPop / n}),
			nan(Row{Name: "hybrid-static", HR: hitStatic / n, FitSeconds: fitSeconds}),
			nan(Row{Name: "hybrid", HR: hitLive / n, FitSeconds: fitSeconds}),
		},
		Events:       len(replay),
		RefitOverlap: overlap / float64(len(users)),
		Chosen: fmt.Sprintf("%s %s alpha=%g (%s; %s split); rating: %s", rep.Winner.Family, rep.Winner.Settings, rep.Winner.Alpha,
			rep.Decision, rep.Split, rep.RatingChoice),
		TuneRatio: tuneRatio,
	}, nil
}

// PrequentialResult is the outcome of a prequential replay.
type PrequentialResult struct {
	// Rows carry the hit rate in HR; the other figures are NaN.
	Rows []Row
	// Events is the number of replayed events.
	Events int
	// RefitOverlap is the mean share of a user's top K that the folded-in
	// model and a full refit have in common at the end of the replay.
	RefitOverlap float64
	// Chosen is what the search served on the warm-up; TuneRatio the tuned
	// refit's time over a plain fit of the winner.
	Chosen    string
	TuneRatio float64
}

func contains(ids []string, id string) float64 {
	for _, x := range ids {
		if x == id {
			return 1
		}
	}
	return 0
}

func upsert(rs []recommend.Rated, movie string, v float32) []recommend.Rated {
	for i := range rs {
		if rs[i].Movie == movie {
			rs[i].Value = v
			return rs
		}
	}
	return append(rs, recommend.Rated{Movie: movie, Value: v})
}
