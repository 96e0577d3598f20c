package recommend

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// timed is a rating with its time, for building split fixtures.
type timed struct {
	user, movie string
	value       float32
	t           int64
}

// ratingsOf builds columnar Ratings (ids in order of first appearance)
// with the given times; withTime false leaves Time nil.
func ratingsOf(rs []timed, withTime bool) Ratings {
	var r Ratings
	users, movies := map[string]int32{}, map[string]int32{}
	for _, x := range rs {
		u, ok := users[x.user]
		if !ok {
			u = int32(len(r.UserIDs))
			users[x.user] = u
			r.UserIDs = append(r.UserIDs, x.user)
		}
		i, ok := movies[x.movie]
		if !ok {
			i = int32(len(r.MovieIDs))
			movies[x.movie] = i
			r.MovieIDs = append(r.MovieIDs, x.movie)
		}
		r.User, r.Movie, r.Value = append(r.User, u), append(r.Movie, i), append(r.Value, x.value)
		if withTime {
			r.Time = append(r.Time, x.t)
		}
	}
	return r
}

// heldOut runs the split Tune would run and returns the held-out pairs as
// "user/movie", sorted, with the split used and why.
func heldOut(t *testing.T, ts TrainSet, want ValidationSplit) ([]string, ValidationSplit, string) {
	t.Helper()
	m, err := prepare(ts, Config{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	rows := sampleRows(m.seen, 1000, 1)
	pick, split, why := chooseSplit(ts, m, rows, want, 0.2, 1)
	vs := splitHeldOut(m.seen, rows, pick, 4, 1000, 1)
	var out []string
	for j, tr := range vs.heldRows {
		out = append(out, m.users.ID(vs.fullRow[tr])+"/"+m.items.ID(vs.heldCols[j]))
	}
	sort.Strings(out)
	return out, split, why
}

// splitFixture: user a has 10 ratings at distinct times out of movie order,
// b a single rating, c five ratings at one time (ties: by movie id, which is
// not the index order here), d four ratings whose latest is seen-only.
func splitFixture() []timed {
	var rs []timed
	for k, t := range []int64{50, 10, 90, 30, 70, 20, 100, 40, 60, 80} {
		rs = append(rs, timed{"a", fmt.Sprintf("m%d", k), 4, t * 1e9})
	}
	rs = append(rs, timed{"b", "m3", 5, 5e9})
	for _, mv := range []string{"z", "m1", "y", "m2", "x"} {
		rs = append(rs, timed{"c", mv, 4, 7e9})
	}
	rs = append(rs, timed{"d", "m0", 4, 1e9}, timed{"d", "m1", 3, 2e9}, timed{"d", "m2", 5, 3e9}, timed{"d", "m4", 4, 4e9},
		timed{"d", "m5", 0, 9e9})
	return rs
}

func TestSplitUserTime(t *testing.T) {
	rs := splitFixture()
	ts := TrainSet{Ratings: ratingsOf(rs, true)}
	got, split, why := heldOut(t, ts, SplitAuto)
	// a: its two latest (times 100 and 90: m6, m2); b: none (one rating);
	// c: one, the largest movie id among the tied; d: its latest signal
	// rating (m4), never the later seen-only m5.
	want := []string{"a/m2", "a/m6", "c/z", "d/m4"}
	if !reflect.DeepEqual(got, want) || split != SplitUserTime {
		t.Errorf("held out %v (%s: %s), want %v (user-time)", got, split, why, want)
	}
	// Deterministic, and independent of the input's order.
	rev := append([]timed(nil), rs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	again, _, _ := heldOut(t, TrainSet{Ratings: ratingsOf(rev, true)}, SplitAuto)
	if !reflect.DeepEqual(again, want) {
		t.Errorf("reversed input held out %v, want %v", again, want)
	}
	// When a pair repeats, its last time counts, as its last value does:
	// a's m1 rated again latest of all.
	ts = TrainSet{Ratings: ratingsOf(append(append([]timed(nil), rs...), timed{"a", "m1", 4, 200e9}), true)}
	if got, _, _ := heldOut(t, ts, SplitUserTime); !reflect.DeepEqual(got, []string{"a/m1", "a/m6", "c/z", "d/m4"}) {
		t.Errorf("a re-rated pair held out %v", got)
	}
}

func TestSplitFallsBackToRandomWithoutTimes(t *testing.T) {
	rs := splitFixture()
	random, split, _ := heldOut(t, TrainSet{Ratings: ratingsOf(rs, true)}, SplitRandom)
	if split != SplitRandom || len(random) != 4 {
		t.Fatalf("random split: %s held out %v", split, random)
	}
	oneMissing := ratingsOf(rs, true)
	oneMissing.Time[3] = 0
	var its []Interaction
	for _, x := range rs[:3] {
		its = append(its, Interaction{User: x.user, Movie: x.movie, Value: float64(x.value)})
	}
	for _, c := range []struct {
		name string
		ts   TrainSet
		want ValidationSplit
		why  string
	}{
		{"no time column", TrainSet{Ratings: ratingsOf(rs, false)}, SplitAuto, "20 of 20 ratings of the sampled users have no time"},
		{"one rating without a time", TrainSet{Ratings: oneMissing}, SplitAuto, "1 of 20 ratings"},
		{"interactions carry no time", TrainSet{Ratings: ratingsOf(rs, true), Interactions: its}, SplitAuto, "3 of 20 ratings"},
		{"user-time asked for", TrainSet{Ratings: oneMissing}, SplitUserTime, "user-time asked for, but 1 of 20"},
	} {
		got, split, why := heldOut(t, c.ts, c.want)
		if split != SplitRandom || !strings.Contains(why, c.why) || !reflect.DeepEqual(got, random) {
			t.Errorf("%s: %s (%q) held out %v, want the random split %v and a reason with %q", c.name, split, why, got, random, c.why)
		}
	}
	bad := ratingsOf(rs, true)
	bad.Time = bad.Time[1:]
	if _, err := Fit(TrainSet{Ratings: bad}, Config{}); err == nil {
		t.Error("a time column of the wrong length was accepted")
	}
}

func TestSplitGlobalTime(t *testing.T) {
	rs := splitFixture()
	got, split, _ := heldOut(t, TrainSet{Ratings: ratingsOf(rs, true)}, SplitGlobalTime)
	// 20 signal ratings: the latest 4 by time (100, 90, 80, 70: all a's).
	want := []string{"a/m2", "a/m4", "a/m6", "a/m9"}
	if !reflect.DeepEqual(got, want) || split != SplitGlobalTime {
		t.Errorf("global-time split held out %v (%s), want %v", got, split, want)
	}
}

// Tune records the split it used, picks by time when every rating has one,
// and fits the same model from Ratings with or without times when the
// split is the same.
func TestTuneRecordsSplit(t *testing.T) {
	var rs []timed
	for u := range 60 {
		for k := range 12 {
			mv := (u*7 + k*k + k) % 40
			rs = append(rs, timed{fmt.Sprintf("u%d", u), fmt.Sprintf("m%d", mv), float32(1 + (u+mv)%5), int64(1+u*100+k) * 1e9})
		}
	}
	opt := TuneOptions{Families: []Family{FamilyPureSVD}, NoEnsemble: true, Alphas: []float64{1}}
	run := func(r Ratings, split ValidationSplit) (string, TuneReport) {
		o := opt
		o.Split = split
		m, rep, err := Tune(TrainSet{Ratings: r}, o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back TuneReport
		j, _ := json.Marshal(rep)
		if err := json.Unmarshal(j, &back); err != nil || back.Split != rep.Split || back.SplitReason != rep.SplitReason {
			t.Errorf("report's split does not round-trip through JSON: %v %q", err, j)
		}
		return string(b), rep
	}
	_, rep := run(ratingsOf(rs, true), SplitAuto)
	if rep.Split != SplitUserTime || !strings.Contains(rep.SplitReason, "every rating has a time") {
		t.Errorf("with times: split %s (%s)", rep.Split, rep.SplitReason)
	}
	a, rep := run(ratingsOf(rs, false), SplitAuto)
	if rep.Split != SplitRandom || !strings.Contains(rep.SplitReason, "have no time") {
		t.Errorf("without times: split %s (%s)", rep.Split, rep.SplitReason)
	}
	b, rep := run(ratingsOf(rs, true), SplitRandom)
	if rep.Split != SplitRandom || a != b {
		t.Errorf("random split asked for: split %s; same model as without times: %v", rep.Split, a == b)
	}
}
