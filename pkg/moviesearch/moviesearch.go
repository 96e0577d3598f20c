// Package moviesearch searches a model's catalog by title words and genre.
// An Index is built once from (*recommend.Model).Catalog (the api does it
// at each model swap, off the request path) and is then only read, so any
// number of requests may search it at once.
package moviesearch

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// Movie is one search hit.
type Movie struct {
	ID     string
	Title  string
	Year   int
	Genres []string
	// Raters is how many users rated or swiped it when the model last saw it.
	Raters int
}

// Index is the search index of one catalog.
type Index struct {
	movies []Movie // most raters first: every result is in this order
	terms  []string
	// postings[t] lists, ascending, the movies whose title has terms[t].
	postings [][]int32
	genres   map[string][]int32 // lower-cased genre -> ascending movies
	names    []string           // genre names as the catalog spells them, sorted
}

// Limits on a query.
const (
	MaxLimit  = 100
	MaxQuery  = 200
	maxTokens = 10
)

// NewIndex builds the index of movies.
func NewIndex(movies []recommend.CatalogItem) *Index {
	x := &Index{movies: make([]Movie, len(movies)), genres: map[string][]int32{}}
	for i, mv := range movies {
		x.movies[i] = Movie{ID: mv.ID, Title: mv.Title, Year: mv.Year, Genres: slices.Clone(mv.Genres), Raters: mv.Raters}
	}
	slices.SortStableFunc(x.movies, func(a, b Movie) int {
		if d := cmp.Compare(b.Raters, a.Raters); d != 0 {
			return d
		}
		return cmp.Compare(a.Title, b.Title)
	})
	byTerm := map[string][]int32{}
	for i, mv := range x.movies {
		for _, t := range Tokens(mv.Title) {
			if p := byTerm[t]; len(p) == 0 || p[len(p)-1] != int32(i) {
				byTerm[t] = append(p, int32(i))
			}
		}
		for _, g := range mv.Genres {
			k := strings.ToLower(g)
			if _, ok := x.genres[k]; !ok {
				x.names = append(x.names, g)
			}
			x.genres[k] = append(x.genres[k], int32(i))
		}
	}
	x.terms = make([]string, 0, len(byTerm))
	for t := range byTerm {
		x.terms = append(x.terms, t)
	}
	slices.Sort(x.terms)
	x.postings = make([][]int32, len(x.terms))
	for i, t := range x.terms {
		x.postings[i] = byTerm[t]
	}
	slices.Sort(x.names)
	return x
}

// Tokens splits s into lower-cased words of letters and digits.
func Tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// Len is the number of movies indexed.
func (x *Index) Len() int { return len(x.movies) }

// Genres lists the catalog's genres, sorted.
func (x *Index) Genres() []string { return x.names }

// Query asks for movies: Q's words must each begin a word of the title
// (case-insensitive, so "star wa" finds "Star Wars"); Genre, when set,
// keeps movies of that genre (case-insensitive).
type Query struct {
	Q, Genre      string
	Limit, Offset int
}

// QueryError names the query parameter that is wrong.
type QueryError struct{ Field, Reason string }

func (e *QueryError) Error() string { return e.Field + ": " + e.Reason }

// Search returns one page of the movies matching q, most rated first, and
// how many match in all.
func (x *Index) Search(q Query) (page []Movie, total int, err error) {
	switch {
	case q.Limit < 1 || q.Limit > MaxLimit:
		return nil, 0, &QueryError{"limit", fmt.Sprintf("must be 1..%d, got %d", MaxLimit, q.Limit)}
	case q.Offset < 0:
		return nil, 0, &QueryError{"offset", fmt.Sprintf("must be >= 0, got %d", q.Offset)}
	case len(q.Q) > MaxQuery:
		return nil, 0, &QueryError{"q", fmt.Sprintf("longer than %d bytes", MaxQuery)}
	}
	var sets [][]int32
	if q.Genre != "" {
		g, ok := x.genres[strings.ToLower(q.Genre)]
		if !ok {
			return nil, 0, &QueryError{"genre", fmt.Sprintf("unknown genre %q; the catalog has %s", q.Genre, strings.Join(x.names, ", "))}
		}
		sets = append(sets, g)
	}
	words := Tokens(q.Q)
	if len(words) > maxTokens {
		return nil, 0, &QueryError{"q", fmt.Sprintf("more than %d words", maxTokens)}
	}
	for _, w := range words {
		sets = append(sets, x.prefixed(w))
	}
	var hits []int32
	if len(sets) == 0 {
		total = len(x.movies)
		for i := q.Offset; i < min(total, q.Offset+q.Limit); i++ {
			page = append(page, x.movies[i])
		}
		return orEmpty(page), total, nil
	}
	slices.SortFunc(sets, func(a, b []int32) int { return cmp.Compare(len(a), len(b)) })
	hits = sets[0]
	for _, s := range sets[1:] {
		hits = intersect(hits, s)
	}
	total = len(hits)
	for i := q.Offset; i < min(total, q.Offset+q.Limit); i++ {
		page = append(page, x.movies[hits[i]])
	}
	return orEmpty(page), total, nil
}

func orEmpty(p []Movie) []Movie {
	if p == nil {
		return []Movie{}
	}
	return p
}

// prefixed returns, ascending, the movies with a title word that begins
// with w.
func (x *Index) prefixed(w string) []int32 {
	lo := sort.SearchStrings(x.terms, w)
	var out []int32
	n := 0
	for i := lo; i < len(x.terms) && strings.HasPrefix(x.terms[i], w); i++ {
		out = append(out, x.postings[i]...)
		n++
	}
	if n > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out
}

// intersect returns the ids in both ascending lists.
func intersect(a, b []int32) []int32 {
	var out []int32
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
