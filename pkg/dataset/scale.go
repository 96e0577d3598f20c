package dataset

import "fmt"

// Scale is the range of a file's ratings.
type Scale struct {
	Min, Max float64
}

// The model's internal scale: 0.5..5 stars.
var Internal = Scale{Min: MinRating, Max: MaxRating}

// DetectScale returns the range of the ratings' values.
func DetectScale(rs []Rating) Scale {
	if len(rs) == 0 {
		return Internal
	}
	s := Scale{Min: rs[0].Value, Max: rs[0].Value}
	for _, r := range rs {
		s.Min, s.Max = min(s.Min, r.Value), max(s.Max, r.Value)
	}
	return s
}

// Identity reports whether the scale needs no mapping: values within
// 0.5..5 that reach at least 4.5 (ml-100k's 1..5, MovieLens' 0.5..5).
func (s Scale) Identity() bool {
	return s.Min >= MinRating && s.Max <= MaxRating && s.Max >= 4.5
}

// ToInternal maps a value of this scale to the 0.5..5 scale: the identity
// for 1..5 and 0.5..5 files, else the affine map of Min..Max onto 0.5..5
// (1..10 gives 0.5..5 in half steps; 0.5..4 gives 0.5..5).
func (s Scale) ToInternal(v float64) float64 {
	if s.Identity() || s.Max <= s.Min {
		return v
	}
	return MinRating + (v-s.Min)*(MaxRating-MinRating)/(s.Max-s.Min)
}

// String names the scale and its mapping.
func (s Scale) String() string {
	if s.Identity() {
		return fmt.Sprintf("%g..%g (the model's scale)", s.Min, s.Max)
	}
	return fmt.Sprintf("%g..%g, mapped onto 0.5..5", s.Min, s.Max)
}

// Map returns a copy of rs with every value mapped to the internal scale.
func (s Scale) Map(rs []Rating) []Rating {
	out := make([]Rating, len(rs))
	for i, r := range rs {
		r.Value = s.ToInternal(r.Value)
		out[i] = r
	}
	return out
}
