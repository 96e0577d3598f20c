package eval

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// K is the cut-off of every top-N metric.
const K = 10

// Relevant is the default lowest test rating that makes a movie relevant,
// on the file's own scale (Options.Relevant overrides it).
const Relevant = 4.0

// Recommender is a fitted model as the protocols see it.
type Recommender interface {
	// Top returns up to n movie ids for user, best first, never one the
	// user rated in training.
	Top(user string, n int) []string
	// Predict estimates the user's rating of movie; ok is false when the
	// model makes no rating estimates.
	Predict(user, movie string) (value float64, ok bool)
}

// Candidate is a model under evaluation.
type Candidate struct {
	Name string
	Fit  func(train []dataset.Rating, movies []dataset.Movie) (Recommender, error)
}

// Split is one train/test partition.
type Split struct {
	Train, Test []dataset.Rating
}

// Row is one model's figures, averaged over the splits.
type Row struct {
	Name       string  `json:"name"`
	RMSE       float64 `json:"rmse"`
	MAE        float64 `json:"mae"`
	Precision  float64 `json:"precision@10"`
	Recall     float64 `json:"recall@10"`
	NDCG       float64 `json:"ndcg@10"`
	HR         float64 `json:"hr@10"`
	Coverage   float64 `json:"coverage"`
	FitSeconds float64 `json:"fit_seconds"`
}

// Evaluate fits every candidate on every split's training part and scores
// it on the test part: rating error over all test pairs; top-N over users
// with at least one relevant test movie (rating >= Relevant), ranking every
// movie they did not rate in training; coverage is the share of the catalog
// that appears in some user's top K. Figures are means over the splits.
func Evaluate(cands []Candidate, splits []Split, movies []dataset.Movie) ([]Row, error) {
	rows := make([]Row, len(cands))
	for c, cand := range cands {
		rows[c].Name = cand.Name
		for s, sp := range splits {
			start := time.Now()
			rec, err := cand.Fit(sp.Train, movies)
			if err != nil {
				return nil, fmt.Errorf("fit %s on split %d: %w", cand.Name, s+1, err)
			}
			r := score(rec, sp, movies, Relevant)
			r.FitSeconds = time.Since(start).Seconds()
			rows[c].add(r, 1/float64(len(splits)))
		}
	}
	return rows, nil
}

// rankless is a Recommender that makes rating estimates only: its top-N
// figures are not defined.
type rankless interface{ rankless() }

func (r *Row) add(o Row, w float64) {
	r.RMSE += w * o.RMSE
	r.MAE += w * o.MAE
	r.Precision += w * o.Precision
	r.Recall += w * o.Recall
	r.NDCG += w * o.NDCG
	r.HR += w * o.HR
	r.Coverage += w * o.Coverage
	r.FitSeconds += w * o.FitSeconds
}

func score(rec Recommender, sp Split, movies []dataset.Movie, relevantAt float64) Row {
	var errs ErrorStats
	relevant := map[string]map[string]bool{}
	for _, t := range sp.Test {
		if p, ok := rec.Predict(t.User, t.Movie); ok {
			errs.Add(p, t.Value)
		}
		if t.Value >= relevantAt-1e-9 {
			if relevant[t.User] == nil {
				relevant[t.User] = map[string]bool{}
			}
			relevant[t.User][t.Movie] = true
		}
	}
	users := make([]string, 0, len(relevant))
	for u := range relevant {
		users = append(users, u)
	}
	sort.Strings(users)
	type acc struct {
		p, r, n, h float64
		shown      map[string]bool
	}
	workers := runtime.GOMAXPROCS(0)
	accs := make([]acc, workers)
	var wg sync.WaitGroup
	for w := range workers {
		accs[w].shown = map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &accs[w]
			for i := w; i < len(users); i += workers {
				top := rec.Top(users[i], K)
				rel := relevant[users[i]]
				a.p += Precision(top, rel, K)
				a.r += Recall(top, rel, K)
				a.n += NDCG(top, rel, K)
				a.h += HitRate(top, rel, K)
				for _, id := range top {
					a.shown[id] = true
				}
			}
		}()
	}
	wg.Wait()
	var row Row
	shown := map[string]bool{}
	for _, a := range accs {
		row.Precision += a.p
		row.Recall += a.r
		row.NDCG += a.n
		row.HR += a.h
		for id := range a.shown {
			shown[id] = true
		}
	}
	if n := float64(len(users)); n > 0 {
		row.Precision, row.Recall, row.NDCG, row.HR = row.Precision/n, row.Recall/n, row.NDCG/n, row.HR/n
	}
	catalog := map[string]bool{}
	for _, m := range movies {
		catalog[m.ID] = true
	}
	for _, r := range sp.Train {
		catalog[r.Movie] = true
	}
	row.Coverage = float64(len(shown)) / float64(len(catalog))
	row.RMSE, row.MAE = errs.RMSE(), errs.MAE()
	if _, ok := rec.(rankless); ok {
		row.Precision, row.Recall, row.NDCG, row.HR, row.Coverage = nan64(), nan64(), nan64(), nan64(), nan64()
	}
	return row
}

// KFold splits ratings into k folds by a mixed hash of (user, movie, seed),
// so a rating's fold does not depend on file order.
func KFold(all []dataset.Rating, k int, seed uint64) []Split {
	splits := make([]Split, k)
	for _, r := range all {
		h := fnv.New64a()
		fmt.Fprintf(h, "%d\x00%s\x00%s", seed, r.User, r.Movie)
		f := int(mix64(h.Sum64()) % uint64(k))
		for s := range splits {
			if s == f {
				splits[s].Test = append(splits[s].Test, r)
			} else {
				splits[s].Train = append(splits[s].Train, r)
			}
		}
	}
	return splits
}

// mix64 is splitmix64's finaliser. FNV-1a's low bit is the parity of its
// input's bytes, so without mixing a 2-fold split put every movie of one
// digit-sum parity in one user's test set and none in their training set.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Temporal holds out the last frac of each user's ratings by time (ties by
// movie id) as one test set.
func Temporal(all []dataset.Rating, frac float64) Split {
	byUser := map[string][]dataset.Rating{}
	for _, r := range all {
		byUser[r.User] = append(byUser[r.User], r)
	}
	users := make([]string, 0, len(byUser))
	for u := range byUser {
		users = append(users, u)
	}
	sort.Strings(users)
	var sp Split
	for _, u := range users {
		rs := byUser[u]
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].Time != rs[j].Time {
				return rs[i].Time < rs[j].Time
			}
			return rs[i].Movie < rs[j].Movie
		})
		cut := len(rs) - int(math.Round(frac*float64(len(rs))))
		sp.Train = append(sp.Train, rs[:cut]...)
		sp.Test = append(sp.Test, rs[cut:]...)
	}
	return sp
}

// Candidates returns fixed-settings rows: random, popularity, the rating
// factorisation ranked by its estimates (als), the plain ranking
// factorisation (puresvd: the hybrid with alpha 1), and the hybrid, all at
// cfg (no tuning). Run prints the tuned rows of Nested instead, and the
// last of these as "fixed-hybrid".
func Candidates(cfg recommend.Config) []Candidate {
	fitModel := func(c recommend.Config, byRating bool) func([]dataset.Rating, []dataset.Movie) (Recommender, error) {
		return func(train []dataset.Rating, movies []dataset.Movie) (Recommender, error) {
			m, err := recommend.Fit(TrainSet(train, movies), c)
			if err != nil {
				return nil, err
			}
			return &modelRec{m: m, byRating: byRating}, nil
		}
	}
	pure := cfg
	pure.Alpha = 1
	return []Candidate{
		{Name: "random", Fit: fitRandom},
		{Name: "popularity", Fit: fitPopularity},
		{Name: "als", Fit: fitModel(cfg, true)},
		{Name: "puresvd", Fit: fitModel(pure, false)},
		{Name: "hybrid", Fit: fitModel(cfg, false)},
	}
}

// TrainSet converts dataset records to the model's input: columnar
// Ratings, users and movies indexed in order of first appearance (so the
// model is the one the same records as Interactions give), with each
// rating's time in Unix nanoseconds when every record has one (Time is nil
// otherwise: the file has no times, and Tune splits at random).
func TrainSet(train []dataset.Rating, movies []dataset.Movie) recommend.TrainSet {
	var ts recommend.TrainSet
	r := &ts.Ratings
	r.User, r.Movie, r.Value = make([]int32, len(train)), make([]int32, len(train)), make([]float32, len(train))
	times := make([]int64, len(train))
	users, items := map[string]int32{}, map[string]int32{}
	index := func(ids map[string]int32, list *[]string, id string) int32 {
		j, ok := ids[id]
		if !ok {
			j = int32(len(*list))
			ids[id] = j
			*list = append(*list, id)
		}
		return j
	}
	for i, x := range train {
		r.User[i], r.Movie[i], r.Value[i] = index(users, &r.UserIDs, x.User), index(items, &r.MovieIDs, x.Movie), float32(x.Value)
		switch {
		case x.Time <= 0:
			times = nil
		case times != nil:
			times[i] = x.Time * int64(time.Second)
		}
	}
	r.Time = times
	for _, m := range movies {
		ts.Movies = append(ts.Movies, recommend.MovieInfo{ID: m.ID, Title: m.Title, Year: m.Year,
			Genres: m.Genres, Tags: m.Tags, Overview: m.Overview})
	}
	return ts
}

type modelRec struct {
	m        *recommend.Model
	byRating bool
}

func (r *modelRec) Top(user string, n int) []string {
	res, err := r.m.Recommend(recommend.Query{User: user, K: n, ByRating: r.byRating})
	if err != nil {
		return nil
	}
	ids := make([]string, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.MovieID
	}
	return ids
}

func (r *modelRec) Predict(user, movie string) (float64, bool) { return r.m.Predict(user, movie), true }

// popularity ranks by number of ratings and predicts the damped item mean.
type popularity struct {
	order []string
	seen  map[string]map[string]bool
	mean  float64
	item  map[string][2]float64 // sum, count
}

func fitPopularity(train []dataset.Rating, movies []dataset.Movie) (Recommender, error) {
	p := &popularity{seen: map[string]map[string]bool{}, item: map[string][2]float64{}}
	var sum float64
	for _, r := range train {
		if p.seen[r.User] == nil {
			p.seen[r.User] = map[string]bool{}
		}
		p.seen[r.User][r.Movie] = true
		s := p.item[r.Movie]
		p.item[r.Movie] = [2]float64{s[0] + r.Value, s[1] + 1}
		sum += r.Value
	}
	if len(train) == 0 {
		return nil, recommend.ErrNoData
	}
	p.mean = sum / float64(len(train))
	for id := range p.item {
		p.order = append(p.order, id)
	}
	sort.Slice(p.order, func(i, j int) bool {
		a, b := p.item[p.order[i]][1], p.item[p.order[j]][1]
		if a != b {
			return a > b
		}
		return p.order[i] < p.order[j]
	})
	return p, nil
}

func (p *popularity) Top(user string, n int) []string {
	out := make([]string, 0, n)
	for _, id := range p.order {
		if len(out) == n {
			break
		}
		if !p.seen[user][id] {
			out = append(out, id)
		}
	}
	return out
}

// Predict is the item mean shrunk towards the global mean by 5 pseudo-ratings.
func (p *popularity) Predict(_, movie string) (float64, bool) {
	s := p.item[movie]
	return (s[0] + 5*p.mean) / (s[1] + 5), true
}

// random ranks unseen movies in a random order per user and predicts from a
// normal distribution with the training mean and deviation (as Surprise's
// NormalPredictor does).
type random struct {
	ids       []string
	seen      map[string]map[string]bool
	mean, std float64
}

func fitRandom(train []dataset.Rating, movies []dataset.Movie) (Recommender, error) {
	r := &random{seen: map[string]map[string]bool{}}
	ids := map[string]bool{}
	for _, m := range movies {
		ids[m.ID] = true
	}
	var sum, sq float64
	for _, x := range train {
		ids[x.Movie] = true
		if r.seen[x.User] == nil {
			r.seen[x.User] = map[string]bool{}
		}
		r.seen[x.User][x.Movie] = true
		sum += x.Value
		sq += x.Value * x.Value
	}
	if len(train) == 0 {
		return nil, recommend.ErrNoData
	}
	for id := range ids {
		r.ids = append(r.ids, id)
	}
	sort.Strings(r.ids)
	n := float64(len(train))
	r.mean = sum / n
	r.std = math.Sqrt(math.Max(sq/n-r.mean*r.mean, 0))
	return r, nil
}

func seedOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

func (r *random) Top(user string, n int) []string {
	rng := rand.New(rand.NewPCG(seedOf(user), 42))
	out := make([]string, 0, n)
	for _, j := range rng.Perm(len(r.ids)) {
		if len(out) == n {
			break
		}
		if !r.seen[user][r.ids[j]] {
			out = append(out, r.ids[j])
		}
	}
	return out
}

func (r *random) Predict(user, movie string) (float64, bool) {
	rng := rand.New(rand.NewPCG(seedOf(user), seedOf(movie)))
	return math.Max(0.5, math.Min(5, r.mean+r.std*rng.NormFloat64())), true
}
