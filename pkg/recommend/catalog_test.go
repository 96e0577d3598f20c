package recommend

import (
	"slices"
	"testing"
)

func TestCatalogAndSeen(t *testing.T) {
	ts := world(10, 5, 3)
	m, err := Fit(ts, Config{Factors: 2, RatingFactors: 2})
	if err != nil {
		t.Fatal(err)
	}
	cat := m.Catalog()
	if len(cat) != len(ts.Movies) {
		t.Fatalf("catalog has %d movies, want %d", len(cat), len(ts.Movies))
	}
	raters := map[string]int{}
	var want []string
	for _, it := range ts.Interactions {
		raters[it.Movie]++
		if it.User == "u3" {
			want = append(want, it.Movie)
		}
	}
	for _, c := range cat {
		if c.Raters != raters[c.ID] {
			t.Errorf("movie %s: %d raters, want %d", c.ID, c.Raters, raters[c.ID])
		}
		if c.Title == "" {
			t.Errorf("movie %s has no title", c.ID)
		}
	}
	got := m.Seen("u3")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Seen(u3) = %v, want %v", got, want)
	}
	if m.Seen("nobody") != nil {
		t.Error("an unknown user has seen something")
	}
}
