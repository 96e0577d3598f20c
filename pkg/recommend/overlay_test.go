package recommend

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUserDeltaDoesNotWaitForRequests holds the model's read lock as a
// request in flight did and applies a user delta: Apply must finish, and a second
// request must see the delta, while the first still holds the model. With
// a write lock on user deltas, Apply waits for the first request and every
// request that starts meanwhile waits behind it (issue 12).
func TestUserDeltaDoesNotWaitForRequests(t *testing.T) {
	m := fitWorld(t)
	d := Delta{BaseVersion: m.Version, Users: []UserDelta{
		m.FoldUser("u3", []Rated{{Movie: "R0", Value: 5}, {Movie: "R1", Value: 5}}),
		m.FoldUser("newbie", []Rated{{Movie: "A0", Value: 4}}),
	}}

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
		t.Fatal("Apply of a user delta waits for a request in flight")
	}
	answered := make(chan []string, 1)
	go func() { answered <- m.Seen("newbie") }()
	select {
	case seen := <-answered:
		if !slices.Equal(seen, []string{"A0"}) {
			t.Errorf("second request sees newbie's movies %v, want [A0]", seen)
		}
	case <-hung:
		t.Fatal("a request waits behind a user delta")
	}
	if got := m.Stats().Users; got != 41 {
		t.Errorf("Stats().Users = %d, want 41 (40 fitted, one new)", got)
	}
}

// answer is a user's answers from Recommend and Predict: two requests,
// each of which must see the model after some prefix of the deltas.
type answer struct {
	Items   []Scored
	Predict float64
}

func answerOf(t testing.TB, m *Model, user string) answer {
	res, err := m.Recommend(Query{User: user, K: 10})
	if err != nil {
		t.Error(err)
	}
	return answer{res.Items, m.Predict(user, "R-new")}
}

// consistent reports whether each part of got is one of want's.
func consistent(want []answer, got answer) bool {
	return slices.ContainsFunc(want, func(a answer) bool { return reflect.DeepEqual(a.Items, got.Items) }) &&
		slices.ContainsFunc(want, func(a answer) bool { return a.Predict == got.Predict })
}

// TestApplyWhileServing applies user and movie deltas while readers ask
// Recommend and Predict: every answer must be the answer of the model after
// some prefix of the deltas, computed beforehand on a copy applied one
// delta at a time. Run with -race, it also checks that readers and the
// writer share no unguarded memory.
func TestApplyWhileServing(t *testing.T) {
	base := fitWorld(t)
	users := []string{"u1", "u25", "newbie"}
	work := base.Clone()
	var deltas []Delta
	for step := range 12 {
		var d Delta
		if step == 5 {
			d.Movies = []MovieDelta{work.FoldMovie(MovieInfo{ID: "R-new", Title: "New Romance", Genres: []string{"Romance"}},
				[]Rater{{"u25", 5}, {"u30", 4.5}})}
		}
		u := users[step%len(users)]
		rated := []Rated{{Movie: "R-new", Value: 4}}
		for j := range step + 1 {
			rated = append(rated, Rated{Movie: fmt.Sprintf("%c%d", "AR"[j%2], j), Value: float32(1 + j%5)})
		}
		d.Users = []UserDelta{work.FoldUser(u, rated)}
		if err := work.Apply(d); err != nil {
			t.Fatal(err)
		}
		deltas = append(deltas, d)
	}
	// want[u] holds user u's answer after each prefix.
	want := map[string][]answer{}
	prefix := base.Clone()
	for p := 0; ; p++ {
		for _, u := range users {
			want[u] = append(want[u], answerOf(t, prefix, u))
		}
		if p == len(deltas) {
			break
		}
		if err := prefix.Apply(deltas[p]); err != nil {
			t.Fatal(err)
		}
	}

	served := base.Clone()
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
				got := answerOf(t, served, u)
				if !consistent(want[u], got) {
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
		if got := answerOf(t, served, u); !reflect.DeepEqual(got, want[u][len(deltas)]) {
			t.Errorf("%s after every delta: %+v, want %+v", u, got, want[u][len(deltas)])
		}
	}
}

// BenchmarkRecommendWhileApplying answers top-10 queries of known users
// from parallel readers, alone and while one goroutine applies one-user
// deltas as fast as it can. deltas/op is how many the writer applied per
// request: with a write lock on user deltas each one waits for the readers
// in flight and holds back the others. p99-ns is the 99th percentile of a
// request's wall time; B/op and allocs/op count the writer's too.
//
//	go test -run '^$' -bench RecommendWhileApplying ./pkg/recommend/
func BenchmarkRecommendWhileApplying(b *testing.B) {
	m, users := kernelBenchModel(b, kernelSizes[0].cfg, DefaultConfig())
	deltas := make([]Delta, 256)
	for j := range deltas {
		u := users[j%len(users)]
		st := m.user(u)
		rated := make([]Rated, len(st.items))
		for p, i := range st.items {
			rated[p] = Rated{Movie: m.items.ID(i), Value: st.values[p]}
		}
		deltas[j] = Delta{BaseVersion: m.Version, Users: []UserDelta{m.FoldUser(u, rated)}}
	}
	for _, writing := range []bool{false, true} {
		b.Run(map[bool]string{false: "no-deltas", true: "deltas-flat-out"}[writing], func(b *testing.B) {
			stop := make(chan struct{})
			var applied int
			var writer sync.WaitGroup
			if writing {
				writer.Go(func() {
					for ; ; applied++ {
						select {
						case <-stop:
							return
						default:
						}
						if err := m.Apply(deltas[applied%len(deltas)]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			var mu sync.Mutex
			var lat []time.Duration
			var next atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					u := users[int(next.Add(1))%len(users)]
					t0 := time.Now()
					if _, err := m.Recommend(Query{User: u, K: 10}); err != nil {
						b.Error(err)
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			close(stop)
			writer.Wait()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			b.ReportMetric(float64(applied)/float64(b.N), "deltas/op")
		})
	}
}
