package dataset

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadRatings: no input makes the reader panic; every error is a
// *ParseError with a line, and every rating read is in range with ids.
func FuzzReadRatings(f *testing.F) {
	for _, s := range []string{
		"1\t1\t4\t5\n", "userId,movieId,rating,timestamp\r\n1,1,4.0,5\r\n", "1::1::4::5\n", "a b 3\n",
		"userId,movieId,rating\n\"1\",\"2\",\"3\"\n", "1,2,abc\n", "\xef\xbb\xbf1 2 3\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := ReadRatingsFrom(bytes.NewReader(b), "f", Auto, func(r Rating) error {
			if r.User == "" || r.Movie == "" || !(r.Value >= MinRating && r.Value <= MaxRating) || r.Time < 0 {
				t.Fatalf("bad rating %+v", r)
			}
			return nil
		})
		var pe *ParseError
		if err != nil && (!errors.As(err, &pe) || pe.Line < 1) {
			t.Fatalf("error %v is not a *ParseError with a line", err)
		}
	})
}

// FuzzReadMovies: no input makes the catalog or tags readers panic.
func FuzzReadMovies(f *testing.F) {
	for _, s := range []string{
		"1|A (1990)|01-Jan-1990||u|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0\n",
		"movieId,title,genres\n1,\"A, The (1990)\",Drama|Comedy\n", "1::Caf\xe9 (1990)::Drama\n",
		"userId,movieId,tag,timestamp\n1,2,fun,3\n", "1::2::fun::3\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		movies, err := ReadMoviesFrom(bytes.NewReader(b), "m")
		if err == nil {
			for _, m := range movies {
				if m.ID == "" {
					t.Fatalf("movie without id: %+v", m)
				}
			}
		}
		_, _ = ReadTagsFrom(bytes.NewReader(b), "t")
	})
}
