package dataset

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// SynthConfig sizes and shapes a synthetic dataset. Zero fields take the
// defaults documented on each field.
type SynthConfig struct {
	Seed uint64
	// Users, Movies and Ratings are the counts (defaults 100, 200, 2000).
	// Ratings is raised to at least Users*MinPerUser and capped at
	// Users*Movies/2; each (user, movie) pair is rated at most once.
	Users, Movies, Ratings int
	// MinPerUser is the fewest ratings a user has (default 5, as MovieLens
	// keeps users with at least 20 but small test sets need less).
	MinPerUser int
	// Factors is the latent dimension k of the taste structure (default 8).
	Factors int
	// Noise is the standard deviation of the rating noise in stars
	// (default 0.4).
	Noise float64
	// PopularitySkew is the Zipf exponent of movie exposure (default 0.9):
	// the movie of popularity rank r is drawn with weight 1/r^PopularitySkew.
	PopularitySkew float64
	// ActivitySkew is the Zipf exponent of how many ratings each user makes
	// beyond MinPerUser (default 0.8).
	ActivitySkew float64
	// Affinity is how strongly taste steers what a user rates, besides
	// popularity (default 2; a negative value turns it off: taste-blind
	// exposure, as in missing at random).
	Affinity float64
	// HalfStars makes ratings 0.5..5 in half steps (ml-latest); otherwise
	// they are whole stars 1..5 (ml-100k).
	HalfStars bool
	// Start is the first rating time in Unix seconds (default 2020-01-01)
	// and Span the seconds the ratings cover (default two years).
	Start, Span int64
}

func (c SynthConfig) withDefaults() SynthConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	deff := func(v *float64, d float64) {
		if *v <= 0 || math.IsNaN(*v) {
			*v = d
		}
	}
	def(&c.Users, 100)
	def(&c.Movies, 200)
	def(&c.Ratings, 2000)
	def(&c.MinPerUser, 5)
	def(&c.Factors, 8)
	deff(&c.Noise, 0.4)
	deff(&c.PopularitySkew, 0.9)
	deff(&c.ActivitySkew, 0.8)
	if c.Affinity < 0 || math.IsNaN(c.Affinity) {
		c.Affinity = 0
	} else if c.Affinity == 0 {
		c.Affinity = 2
	}
	if c.Start <= 0 {
		c.Start = 1577836800 // 2020-01-01T00:00:00Z
	}
	if c.Span <= 0 {
		c.Span = 2 * 365 * 86400
	}
	maxPerUser := max(1, c.Movies/2)
	c.MinPerUser = min(c.MinPerUser, maxPerUser)
	c.Ratings = max(c.Ratings, c.Users*c.MinPerUser)
	c.Ratings = min(c.Ratings, c.Users*maxPerUser)
	return c
}

// SizedConfig scales a configuration to n ratings with MovieLens-like
// proportions: about 106 ratings per user (ml-100k: 100,000 / 943) and a
// catalog that grows sub-linearly (1,700 movies at 100k ratings, about 46,000
// at 25M).
func SizedConfig(n int, seed uint64) SynthConfig {
	n = max(n, 1000)
	return SynthConfig{
		Seed:       seed,
		Ratings:    n,
		Users:      max(10, n/106),
		Movies:     max(40, int(1700*math.Pow(float64(n)/1e5, 0.6))),
		MinPerUser: 20,
	}
}

// Synthetic is a generated dataset: its users' and movies' latent tastes,
// its catalog, and a deterministic stream of ratings in time order. The
// ratings are computed on demand, so a 25M-rating dataset holds only its
// users and movies in memory.
type Synthetic struct {
	// Config is the configuration after defaults and caps.
	Config SynthConfig
	// Catalog is the movie catalog; movie ids are "1".."Movies".
	Catalog []Movie
	// MovieTags are the movies' tags as tag applications (user, movie, tag),
	// as tags.csv holds them.
	MovieTags []Tag

	mu         float64
	userF      []float64 // Users x Factors
	movieF     []float64 // Movies x Factors
	userB      []float64
	movieB     []float64
	popCum     []float64 // cumulative exposure weights over movies
	perUser    []int     // ratings per user
	userStart  []int64   // first rating time per user
	userLength []int64   // seconds a user is active
}

// Tag is one tag application.
type Tag struct {
	User, Movie, Tag string
	Time             int64
}

// synthGenres are the genres of synthetic movies: ml-100k's, without
// "unknown", so that every layout can hold them.
var synthGenres = ML100KGenres[1:]

// Generate builds a synthetic dataset from cfg. The same cfg always gives the
// same dataset.
func Generate(cfg SynthConfig) *Synthetic {
	cfg = cfg.withDefaults()
	// The global mean is set below MovieLens' 3.5 because affinity makes
	// users rate the movies they like, which lifts the observed mean.
	s := &Synthetic{Config: cfg, mu: 3.1}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	k := cfg.Factors
	// Scale factors so that the dot product has a standard deviation of
	// about 0.8 stars whatever k is.
	sigma := math.Pow(0.8*0.8/float64(k), 0.25)
	normals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64() * sigma
		}
		return v
	}
	s.userF = normals(cfg.Users * k)
	s.movieF = normals(cfg.Movies * k)
	s.userB = make([]float64, cfg.Users)
	for i := range s.userB {
		s.userB[i] = rng.NormFloat64() * 0.35
	}

	// Movie exposure: Zipf over a random popularity ranking. Popular movies
	// are rated a little higher, as in MovieLens.
	rank := rng.Perm(cfg.Movies)
	s.movieB = make([]float64, cfg.Movies)
	s.popCum = make([]float64, cfg.Movies)
	total := 0.0
	for m := range cfg.Movies {
		w := 1 / math.Pow(float64(rank[m]+1), cfg.PopularitySkew)
		total += w
		s.popCum[m] = total
		s.movieB[m] = rng.NormFloat64()*0.4 + 0.3*(1-2*float64(rank[m])/float64(cfg.Movies))
	}

	s.perUser = spread(rng, cfg)
	s.userStart = make([]int64, cfg.Users)
	s.userLength = make([]int64, cfg.Users)
	// Users arrive in id order over the first 90% of the span and stay
	// active for an exponential while (mean 3% of the span).
	for u := range cfg.Users {
		s.userStart[u] = cfg.Start + int64(float64(cfg.Span)*0.9*float64(u)/float64(cfg.Users))
		d := int64(rng.ExpFloat64() * 0.03 * float64(cfg.Span))
		s.userLength[u] = max(1, min(d, cfg.Start+cfg.Span-1-s.userStart[u]))
	}

	s.makeCatalog(rng)
	return s
}

// spread gives each user a rating count: MinPerUser plus a Zipf share of the
// rest, capped at half the catalog, summing to cfg.Ratings.
func spread(rng *rand.Rand, cfg SynthConfig) []int {
	n := make([]int, cfg.Users)
	capPer := max(1, cfg.Movies/2)
	rest := cfg.Ratings - cfg.Users*cfg.MinPerUser
	rank := rng.Perm(cfg.Users)
	w := make([]float64, cfg.Users)
	total := 0.0
	for u := range w {
		w[u] = 1 / math.Pow(float64(rank[u]+1), cfg.ActivitySkew)
		total += w[u]
	}
	given := 0
	for u := range n {
		n[u] = cfg.MinPerUser + min(capPer-cfg.MinPerUser, int(float64(rest)*w[u]/total))
		given += n[u]
	}
	// Hand out what rounding and caps left, most active users first.
	order := make([]int, cfg.Users)
	for u := range order {
		order[rank[u]] = u
	}
	for left := cfg.Ratings - given; left > 0; {
		progress := false
		for _, u := range order {
			if left == 0 {
				break
			}
			if n[u] < capPer {
				n[u]++
				left--
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	return n
}

// Word lists for made-up titles, tags and overviews. A few words carry
// latin-1 letters and titles sometimes carry commas and quotes, so that the
// writers and readers are exercised on both.
var (
	titleAdj  = []string{"Silent", "Crimson", "Last", "Hidden", "Broken", "Golden", "Midnight", "Lost", "Electric", "Wild", "Frozen", "Secret", "Distant", "Burning", "Quiet", "Little", "Iron", "Velvet", "Savage", "Hollow"}
	titleNoun = []string{"Harbor", "Kingdom", "Garden", "River", "Empire", "Stranger", "Machine", "Summer", "Witness", "Frontier", "Café", "Señor", "Ghost", "Mirror", "Horizon", "Orchard", "Noël", "Détour", "Signal", "Voyage"}
	genreTags = map[string][]string{
		"Action": {"explosions", "car chase"}, "Adventure": {"quest", "treasure"},
		"Animation": {"animated", "pixar-like"}, "Children's": {"family", "kids"},
		"Comedy": {"funny", "quirky"}, "Crime": {"heist", "gangsters"},
		"Documentary": {"true story", "educational"}, "Drama": {"moving", "character study"},
		"Fantasy": {"magic", "dragons"}, "Film-Noir": {"noir", "femme fatale"},
		"Horror": {"scary", "gore"}, "Musical": {"songs", "dance"},
		"Mystery": {"whodunit", "twist ending"}, "Romance": {"love story", "romantic"},
		"Sci-Fi": {"space", "dystopia"}, "Thriller": {"suspense", "tense"},
		"War": {"world war ii", "battle"}, "Western": {"cowboys", "frontier"},
	}
	genericTags = []string{"classic", "slow burn", "quotable", "cult film", "overrated", "great soundtrack", "visually stunning"}
)

func (s *Synthetic) makeCatalog(rng *rand.Rand) {
	cfg := s.Config
	k := cfg.Factors
	// Each genre is a direction in taste space; a movie has the genres its
	// factors point along, so genres carry the same signal as the ratings.
	dirs := make([][]float64, len(synthGenres))
	for g := range dirs {
		d := make([]float64, k)
		norm := 0.0
		for i := range d {
			d[i] = rng.NormFloat64()
			norm += d[i] * d[i]
		}
		for i := range d {
			d[i] /= math.Sqrt(norm)
		}
		dirs[g] = d
	}
	sigma := math.Pow(0.8*0.8/float64(k), 0.25)
	s.Catalog = make([]Movie, cfg.Movies)
	for m := range s.Catalog {
		f := s.movieF[m*k : (m+1)*k]
		var genres []string
		best, bestDot := 0, math.Inf(-1)
		for g, d := range dirs {
			dot := 0.0
			for i := range d {
				dot += d[i] * f[i]
			}
			if dot > 1.1*sigma {
				genres = append(genres, synthGenres[g])
			}
			if dot > bestDot {
				best, bestDot = g, dot
			}
		}
		if len(genres) == 0 {
			genres = []string{synthGenres[best]}
		}
		year := 1930 + int(90*math.Sqrt(rng.Float64()))
		title := titleAdj[rng.IntN(len(titleAdj))] + " " + titleNoun[rng.IntN(len(titleNoun))]
		switch rng.IntN(10) {
		case 0:
			title += ", The" // MovieLens style, and a comma for CSV quoting
		case 1:
			title = `"` + title + `"`
		case 2:
			title += " " + strconv.Itoa(2+rng.IntN(3))
		}
		title = fmt.Sprintf("%s (%d)", title, year)
		id := strconv.Itoa(m + 1)
		var tags []string
		for range rng.IntN(4) {
			var t string
			if rng.IntN(3) == 0 {
				t = genericTags[rng.IntN(len(genericTags))]
			} else {
				opts := genreTags[genres[rng.IntN(len(genres))]]
				t = opts[rng.IntN(len(opts))]
			}
			if !containsFold(tags, t) {
				tags = append(tags, t)
				s.MovieTags = append(s.MovieTags, Tag{
					User:  strconv.Itoa(1 + rng.IntN(cfg.Users)),
					Movie: id, Tag: t,
					Time: cfg.Start + rng.Int64N(cfg.Span),
				})
			}
		}
		overview := fmt.Sprintf("The %s %s: a %s story.", strings.ToLower(titleAdj[rng.IntN(len(titleAdj))]),
			strings.ToLower(titleNoun[rng.IntN(len(titleNoun))]), strings.ToLower(genres[0]))
		s.Catalog[m] = Movie{ID: id, Title: title, Year: year, Genres: genres, Tags: tags, Overview: overview}
	}
}

func containsFold(list []string, s string) bool {
	for _, t := range list {
		if strings.EqualFold(t, s) {
			return true
		}
	}
	return false
}

// TrueScore is the noise-free, unrounded rating the generator's taste model
// gives user u to movie m (both 0-based), for tests that check a model
// recovers the structure.
func (s *Synthetic) TrueScore(u, m int) float64 {
	k := s.Config.Factors
	dot := 0.0
	for i := range k {
		dot += s.userF[u*k+i] * s.movieF[m*k+i]
	}
	return s.mu + s.userB[u] + s.movieB[m] + dot
}

// userRatings generates all ratings of user u, sorted by time. It depends
// only on the configuration and u.
func (s *Synthetic) userRatings(u int) []Rating {
	cfg := s.Config
	k := cfg.Factors
	rng := rand.New(rand.NewPCG(cfg.Seed^0x9e3779b97f4a7c15, uint64(u)))
	want := s.perUser[u]
	seen := make(map[int]bool, want)
	movies := make([]int, 0, want)
	total := s.popCum[len(s.popCum)-1]
	uf := s.userF[u*k : (u+1)*k]
	// Draw movies by popularity, keeping each with a probability that grows
	// with the user's affinity for it. Heavy users of a skewed catalog would
	// need very many draws for their last movies, so after a budget the rest
	// are taken in order from a random start.
	for tries := 0; len(movies) < want && tries < 30*want; tries++ {
		m := sort.SearchFloat64s(s.popCum, rng.Float64()*total)
		if m >= cfg.Movies || seen[m] {
			continue
		}
		dot := 0.0
		for i := range k {
			dot += uf[i] * s.movieF[m*k+i]
		}
		if rng.Float64() > 1/(1+math.Exp(-cfg.Affinity*dot)) {
			continue
		}
		seen[m] = true
		movies = append(movies, m)
	}
	for m := rng.IntN(cfg.Movies); len(movies) < want; m = (m + 1) % cfg.Movies {
		if !seen[m] {
			seen[m] = true
			movies = append(movies, m)
		}
	}
	times := make([]int64, want)
	for i := range times {
		times[i] = s.userStart[u] + rng.Int64N(s.userLength[u]+1)
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	times[0] = s.userStart[u]
	user := strconv.Itoa(u + 1)
	out := make([]Rating, want)
	for i, m := range movies {
		v := s.TrueScore(u, m) + rng.NormFloat64()*cfg.Noise
		if cfg.HalfStars {
			v = math.Round(v*2) / 2
			v = min(max(v, MinRating), MaxRating)
		} else {
			v = min(max(math.Round(v), 1), 5)
		}
		out[i] = Rating{User: user, Movie: s.Catalog[m].ID, Value: v, Time: times[i]}
	}
	return out
}

// Each streams every rating to fn in time order (ties broken by user id).
// Only the users active at a time are held in memory. An ErrStop from fn
// ends the stream without error.
func (s *Synthetic) Each(fn func(Rating) error) error {
	h := &userHeap{}
	next := 0 // next user to arrive
	for next < s.Config.Users || h.Len() > 0 {
		// Let in every user whose first rating is not after the earliest
		// pending one.
		for next < s.Config.Users && (h.Len() == 0 || s.userStart[next] <= (*h)[0].peek().Time) {
			heap.Push(h, &userStream{user: next, ratings: s.userRatings(next)})
			next++
		}
		top := (*h)[0]
		if err := fn(top.peek()); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		top.pos++
		if top.pos == len(top.ratings) {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	return nil
}

// Ratings returns every rating in time order. For big configurations use
// Each or WriteRatings instead.
func (s *Synthetic) Ratings() []Rating {
	out := make([]Rating, 0, s.Config.Ratings)
	_ = s.Each(func(r Rating) error {
		out = append(out, r)
		return nil
	})
	return out
}

type userStream struct {
	user    int
	ratings []Rating
	pos     int
}

func (u *userStream) peek() Rating { return u.ratings[u.pos] }

type userHeap []*userStream

func (h userHeap) Len() int { return len(h) }
func (h userHeap) Less(i, j int) bool {
	a, b := h[i].peek().Time, h[j].peek().Time
	if a != b {
		return a < b
	}
	return h[i].user < h[j].user
}
func (h userHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *userHeap) Push(x any)   { *h = append(*h, x.(*userStream)) }
func (h *userHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
