package moviesearch_test

import (
	"errors"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/moviesearch"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

func catalog() []recommend.CatalogItem {
	mk := func(id, title string, raters int, genres ...string) recommend.CatalogItem {
		return recommend.CatalogItem{MovieInfo: recommend.MovieInfo{ID: id, Title: title, Genres: genres}, Raters: raters}
	}
	return []recommend.CatalogItem{
		mk("1", "Star Wars: Episode IV - A New Hope (1977)", 250, "Action", "Sci-Fi"),
		mk("2", "Star Trek: First Contact (1996)", 80, "Action", "Sci-Fi"),
		mk("3", "Stardust (2007)", 40, "Fantasy"),
		mk("4", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", 120, "Comedy", "Romance"),
		mk("5", "Wars of the Roses (1989)", 10, "Comedy"),
		mk("6", "Untitled", 0),
	}
}

func ids(ms []moviesearch.Movie) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestSearch(t *testing.T) {
	x := moviesearch.NewIndex(catalog())
	for _, tc := range []struct {
		q     moviesearch.Query
		want  []string
		total int
	}{
		{moviesearch.Query{Q: "star", Limit: 10}, []string{"1", "2", "3"}, 3},             // prefix, most rated first
		{moviesearch.Query{Q: "STAR wa", Limit: 10}, []string{"1"}, 1},                    // case, every word
		{moviesearch.Query{Q: "wars", Limit: 10}, []string{"1", "5"}, 2},                  // any title word
		{moviesearch.Query{Q: "amélie", Limit: 10}, []string{"4"}, 1},                     // unicode
		{moviesearch.Query{Q: "AMÉLIE", Limit: 10}, []string{"4"}, 1},                     // unicode case
		{moviesearch.Query{Q: "star", Genre: "sci-fi", Limit: 10}, []string{"1", "2"}, 2}, // genre, any case
		{moviesearch.Query{Genre: "Comedy", Limit: 1, Offset: 1}, []string{"5"}, 2},       // paging
		{moviesearch.Query{Limit: 2}, []string{"1", "4"}, 6},                              // everything
		{moviesearch.Query{Limit: 2, Offset: 10}, nil, 6},                                 // past the end
		{moviesearch.Query{Q: "zzz", Limit: 5}, nil, 0},
		{moviesearch.Query{Q: " -- ", Limit: 1}, []string{"1"}, 6}, // no words: everything
	} {
		page, total, err := x.Search(tc.q)
		if err != nil {
			t.Errorf("%+v: %v", tc.q, err)
			continue
		}
		if got := ids(page); total != tc.total || len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) || page == nil {
			t.Errorf("%+v: %v (total %d), want %v (total %d)", tc.q, got, total, tc.want, tc.total)
		}
		for i := range tc.want {
			if ids(page)[i] != tc.want[i] {
				t.Errorf("%+v: %v, want %v", tc.q, ids(page), tc.want)
				break
			}
		}
	}
}

func TestSearchErrors(t *testing.T) {
	x := moviesearch.NewIndex(catalog())
	for field, q := range map[string]moviesearch.Query{
		"limit":  {Limit: 0},
		"offset": {Limit: 1, Offset: -1},
		"genre":  {Limit: 1, Genre: "Western"},
		"q":      {Limit: 1, Q: "a b c d e f g h i j k"},
	} {
		_, _, err := x.Search(q)
		var qe *moviesearch.QueryError
		if !errors.As(err, &qe) || qe.Field != field {
			t.Errorf("%+v: err %v, want one naming %s", q, err, field)
		}
	}
	if got := x.Genres(); len(got) != 5 || got[0] != "Action" {
		t.Errorf("genres %v", got)
	}
}
