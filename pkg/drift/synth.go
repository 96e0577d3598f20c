package drift

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
)

// Synth generates a synthetic rating and swipe stream with known
// properties, to measure detection and false-alarm rates and to drive end
// to end tests. Users have log-normal activity, movies Zipf popularity and
// one genre each (so a genre's share of events is exactly controllable);
// ratings are a rounded, clipped normal. It draws from the *rand.Rand it is
// given, so a seed fixes every event.
type Synth struct {
	rng        *rand.Rand
	userIDs    []string // "u<i>", built once: ids are most of an event's cost
	movieIDs   []string
	userCum    []float64
	movieCum   []float64
	genreOf    []string
	genreCum   map[string][]int // movie indexes of a genre, for boosted draws
	genreW     map[string][]float64
	genreShare map[string]float64
	next       int
	newUsers   int
	start      time.Time
}

// SynthGenres returns the genres Synth assigns, most common first (genre
// i has weight 1/(i+1)).
func SynthGenres() []string {
	return []string{"Drama", "Comedy", "Action", "Thriller", "Romance",
		"Adventure", "Crime", "Sci-Fi", "Horror", "Documentary"}
}

// Shift describes how a window departs from the stationary stream.
type Shift struct {
	// RatingDelta moves the mean of the latent rating (before rounding to
	// half steps and clipping to 0.5..5); the observed mean moves a little
	// less (-0.53 moves it by about -0.50).
	RatingDelta float64
	// BoostGenre, with BoostFactor > 1, multiplies that genre's share of
	// events (2 doubles it).
	BoostGenre  string
	BoostFactor float64
	// NewUserShare is the share of events from users never seen before
	// (each new user makes 1 to 5 events).
	NewUserShare float64
	// TailShare is the share of events whose movie is drawn uniformly from
	// the catalog instead of by popularity: traffic moving to the long
	// tail (recommendations that favour obscure movies, say).
	TailShare float64
}

// NewSynth builds a catalog of movies and a population of users.
func NewSynth(rng *rand.Rand, users, movies int, start time.Time) *Synth {
	s := &Synth{rng: rng, start: start, genreCum: map[string][]int{},
		genreW: map[string][]float64{}, genreShare: map[string]float64{}}
	w := make([]float64, users)
	for i := range w {
		w[i] = math.Exp(rng.NormFloat64()) // log-normal activity
	}
	s.userCum = cumulative(w)
	s.userIDs, s.movieIDs = make([]string, users), make([]string, movies)
	for i := range s.userIDs {
		s.userIDs[i] = "u" + strconv.Itoa(i)
	}
	for i := range s.movieIDs {
		s.movieIDs[i] = "m" + strconv.Itoa(i)
	}
	w = make([]float64, movies)
	s.genreOf = make([]string, movies)
	genres := SynthGenres()
	gw := make([]float64, len(genres))
	for i := range gw {
		gw[i] = 1 / float64(i+1)
	}
	gcum := cumulative(gw)
	var total float64
	for i := range w {
		w[i] = 1 / float64(i+1) // Zipf popularity
		total += w[i]
		g := genres[pick(gcum, rng.Float64())]
		s.genreOf[i] = g
		s.genreCum[g] = append(s.genreCum[g], i)
		s.genreW[g] = append(s.genreW[g], w[i])
	}
	s.movieCum = cumulative(w)
	for g, ws := range s.genreW {
		var sum float64
		for _, x := range ws {
			sum += x
		}
		s.genreShare[g] = sum / total
		s.genreW[g] = cumulative(ws)
	}
	return s
}

// GenreShare is the expected share of events on movies of genre g in the
// stationary stream.
func (s *Synth) GenreShare(g string) float64 { return s.genreShare[g] }

// Genres implements GenreLookup for the synthetic catalog.
func (s *Synth) Genres(movieID string) []string {
	id, ok := strings.CutPrefix(movieID, "m")
	i, err := strconv.Atoi(id)
	if !ok || err != nil || i < 0 || i >= len(s.genreOf) {
		return nil
	}
	return s.genreOf[i : i+1 : i+1]
}

// Events draws n events, one second apart in event time, under shift.
func (s *Synth) Events(n int, shift Shift) []events.Event {
	out := make([]events.Event, 0, n)
	// Boosting genre g by factor f: draw from g's movies with probability x
	// and from the whole catalog otherwise, so x + (1-x)*share = f*share.
	var boostP float64
	if share := s.genreShare[shift.BoostGenre]; shift.BoostFactor > 1 && share > 0 {
		boostP = (shift.BoostFactor - 1) * share / (1 - share)
	}
	// A new user makes 1..5 events (3 on average). Starting one with
	// probability p at each event not already taken by a new user gives a
	// share of 3p/(1+2p) new-user events, so p = share/(3-2*share).
	newUserStart := shift.NewUserShare / (3 - 2*shift.NewUserShare)
	pendingNew, newID := 0, ""
	for len(out) < n {
		var user string
		switch {
		case pendingNew > 0:
			user = newID
			pendingNew--
		case shift.NewUserShare > 0 && s.rng.Float64() < newUserStart:
			s.newUsers++
			newID = "new" + strconv.Itoa(s.newUsers)
			user = newID
			pendingNew = s.rng.IntN(5)
		default:
			user = s.userIDs[pick(s.userCum, s.rng.Float64())]
		}
		var movie int
		switch {
		case boostP > 0 && s.rng.Float64() < boostP:
			idx := s.genreCum[shift.BoostGenre]
			movie = idx[pick(s.genreW[shift.BoostGenre], s.rng.Float64())]
		case shift.TailShare > 0 && s.rng.Float64() < shift.TailShare:
			movie = s.rng.IntN(len(s.genreOf))
		default:
			movie = pick(s.movieCum, s.rng.Float64())
		}
		e := events.Event{
			EventID: "e" + strconv.Itoa(s.next),
			UserID:  user,
			MovieID: s.movieIDs[movie],
			TS:      s.start.Add(time.Duration(s.next) * time.Second),
			Source:  "synth",
		}
		s.next++
		switch k := s.rng.Float64(); {
		case k < 0.60:
			r := math.Round((3.6+shift.RatingDelta+s.rng.NormFloat64())*2) / 2
			r = math.Min(5, math.Max(0.5, r))
			e.Rating = &r
		case k < 0.80:
			e.Swipe = events.Like
		case k < 0.85:
			e.Swipe = events.Superlike
		case k < 0.95:
			e.Swipe = events.Dislike
		default:
			e.Swipe = events.Skip
		}
		out = append(out, e)
	}
	return out
}

func cumulative(w []float64) []float64 {
	c := make([]float64, len(w))
	var s float64
	for i, x := range w {
		s += x
		c[i] = s
	}
	for i := range c {
		c[i] /= s
	}
	return c
}

func pick(cum []float64, u float64) int {
	i := sort.SearchFloat64s(cum, u)
	if i >= len(cum) {
		i = len(cum) - 1
	}
	return i
}
