package recommend

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestMovieDeltaDoesNotWaitForRequests holds the model as a request in
// flight did (its read lock) and applies a delta with a new movie and a
// user who rated it: Apply must finish, and a second request must see the
// movie and the user's rating of it, while the first still holds the
// model. With movies changed in place under the write lock, Apply waits
// for the first request and every request that starts meanwhile waits
// behind it (issue 12).
func TestMovieDeltaDoesNotWaitForRequests(t *testing.T) {
	m := fitWorld(t)
	md := m.FoldMovie(MovieInfo{ID: "R-new", Title: "New Romance", Genres: []string{"Romance"}}, []Rater{{"u25", 5}, {"u30", 4.5}})
	d := Delta{BaseVersion: m.Version, Movies: []MovieDelta{md},
		Users: []UserDelta{m.FoldUser("u25", []Rated{{Movie: "R0", Value: 5}, {Movie: "R-new", Value: 5}})}}

	m.mu.RLock() // the request in flight
	defer m.mu.RUnlock()
	applied := make(chan error, 1)
	go func() { applied <- m.Apply(d) }()
	// Not a time limit on Apply: a guard that turns the old deadlock into
	// a failure instead of the test binary's timeout.
	hung := time.After(time.Minute)
	select {
	case err := <-applied:
		if err != nil {
			t.Fatal(err)
		}
	case <-hung:
		t.Fatal("Apply of a movie delta waits for a request in flight")
	}
	answered := make(chan []string, 1)
	go func() {
		if _, ok := m.Movie("R-new"); !ok {
			answered <- nil
			return
		}
		answered <- m.Seen("u25")
	}()
	select {
	case seen := <-answered:
		if !reflect.DeepEqual(seen, []string{"R0", "R-new"}) {
			t.Errorf("second request sees u25's movies %v, want [R0 R-new]", seen)
		}
	case <-hung:
		t.Fatal("a request waits behind a movie delta")
	}
}

// TestMovieDeltasWhileServing applies deltas that add movies (in numbers
// that fill the kernel's last block and open new ones), move a fitted
// movie and fold in the users who rated them, while readers ask Recommend
// and Predict for those users: every answer must be the answer of the
// model after some prefix of the deltas, computed beforehand on a copy
// applied one delta at a time; and the snapshot and a copy of the result
// must answer as the model does. Run with -race, it also
// checks that readers and the writer share no unguarded memory.
func TestMovieDeltasWhileServing(t *testing.T) {
	for _, f := range []Family{FamilyPureSVD, FamilyEnsemble} {
		t.Run(string(f), func(t *testing.T) {
			cfg := familyConfig(f)
			cfg.Factors, cfg.RatingFactors = 4, 4
			if f == FamilyEnsemble {
				cfg.SVDFactors = 3
			}
			base, err := Fit(world(40, 30, 1), cfg)
			if err != nil {
				t.Fatal(err)
			}
			base.kernelFor() // as Decode does: deltas patch it
			users := []string{"u1", "u25", "newbie"}
			work := base.Clone()
			var deltas []Delta
			for step := range 24 {
				var d Delta
				for j := range 3 {
					id := fmt.Sprintf("new%d-%d", step, j)
					d.Movies = append(d.Movies, work.FoldMovie(MovieInfo{ID: id, Title: "Night Road " + id, Genres: []string{"Romance", "Noir"}},
						[]Rater{{"u25", 5}, {"u30", float32(1 + (step+j)%5)}}))
				}
				if step == 7 { // a fitted movie moves: the arrays are copied
					d.Movies = append(d.Movies, work.FoldMovie(MovieInfo{ID: "A3", Title: "Moved"}, []Rater{{"u30", 5}, {"u31", 5}}))
				}
				u := users[step%len(users)]
				rated := []Rated{{Movie: fmt.Sprintf("new%d-0", step), Value: 5}, {Movie: "R1", Value: float32(1 + step%5)}}
				d.Users = []UserDelta{work.FoldUser(u, rated)}
				if err := work.Apply(d); err != nil {
					t.Fatal(err)
				}
				deltas = append(deltas, d)
			}
			predictOf := func(m *Model, u string) float64 { return m.Predict(u, "new3-1") }
			answerOf := func(m *Model, u string) answer {
				res, err := m.Recommend(Query{User: u, K: 10})
				if err != nil {
					t.Error(err)
				}
				return answer{res.Items, predictOf(m, u)}
			}
			want := map[string][]answer{}
			prefix := base.Clone()
			for p := 0; ; p++ {
				for _, u := range users {
					want[u] = append(want[u], answerOf(prefix, u))
				}
				if p == len(deltas) {
					break
				}
				if err := prefix.Apply(deltas[p]); err != nil {
					t.Fatal(err)
				}
			}

			served := base.Clone()
			served.kernelFor()
			done := make(chan struct{})
			var wg, ready sync.WaitGroup
			for r := range 4 {
				ready.Add(1)
				wg.Go(func() {
					for i := r; ; i++ {
						if i == r+1 {
							ready.Done()
						}
						u := users[i%len(users)]
						if got := answerOf(served, u); !consistent(want[u], got) {
							t.Errorf("%s's answer is the model's after no prefix of the deltas: %+v", u, got)
							return
						}
						select {
						case <-done:
							if i > r { // answered at least twice
								return
							}
						default:
						}
					}
				})
			}
			ready.Wait() // every reader is answering
			for _, d := range deltas {
				if err := served.Apply(d); err != nil {
					t.Error(err)
				}
			}
			close(done)
			wg.Wait()
			for _, u := range users {
				if got := answerOf(served, u); !reflect.DeepEqual(got, want[u][len(deltas)]) {
					t.Errorf("%s after every delta: %+v, want %+v", u, got, want[u][len(deltas)])
				}
			}
			// Snapshot, copy and validation see the newest item side.
			if err := served.Validate(); err != nil {
				t.Fatal(err)
			}
			b, err := served.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []*Model{back, served.Clone()} {
				for _, u := range users {
					if got := answerOf(c, u); !reflect.DeepEqual(got, want[u][len(deltas)]) {
						t.Errorf("%s from a decoded or cloned copy: %+v, want %+v", u, got, want[u][len(deltas)])
					}
				}
			}
		})
	}
}
