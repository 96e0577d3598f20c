package recommend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// ValidationSplit names how Tune holds out its validation ratings from the
// training data.
type ValidationSplit string

// The validation splits. Every split holds out ValidationFraction of the
// ratings (never a seen-only entry) and keeps at least one rating of each
// user in training, except SplitGlobalTime, whose users may have all their
// ratings after the cutoff.
const (
	// SplitAuto (the default) is SplitUserTime when every rating of the
	// users the search samples has a time, and SplitRandom otherwise (the
	// report says why). A served model predicts what its users do next, so
	// the validation asks the same question whenever the data allows it.
	SplitAuto ValidationSplit = ""
	// SplitRandom holds out a seeded random share of each user's ratings
	// (users with two or more).
	SplitRandom ValidationSplit = "random"
	// SplitUserTime holds out each user's latest ratings by time (ties by
	// movie id, as eval's temporal protocol), users with two or more.
	SplitUserTime ValidationSplit = "user-time"
	// SplitGlobalTime holds out every rating after one cutoff time, the
	// latest share of all sampled ratings (ties by user id, then movie id).
	// Users whose ratings all lie after the cutoff are cold starts on
	// validation, and users with none after it are not validated.
	SplitGlobalTime ValidationSplit = "global-time"
)

// ParseValidationSplit parses a split name ("auto" or "" for SplitAuto).
func ParseValidationSplit(s string) (ValidationSplit, error) {
	switch v := ValidationSplit(s); v {
	case SplitAuto, SplitRandom, SplitUserTime, SplitGlobalTime:
		return v, nil
	case "auto":
		return SplitAuto, nil
	}
	return "", fmt.Errorf("validation split: unknown %q (want auto, random, user-time or global-time)", s)
}

// holdout returns, for sampled row tr (full row r) and the positions sig of
// its signal ratings within the row, the positions to hold out.
type holdout func(tr int, r int32, sig []int) []int

// chooseSplit resolves the split asked for against the times ts carries
// and returns the hold-out rule, the split used and why.
func chooseSplit(ts TrainSet, m *Model, rows []int32, want ValidationSplit, frac float64, seed uint64) (holdout, ValidationSplit, string) {
	random := func(_ int, r int32, sig []int) []int {
		if len(sig) < 2 {
			return nil
		}
		rng := rand.New(rand.NewPCG(seed^0x7a11d, uint64(r)))
		rng.Shuffle(len(sig), func(i, j int) { sig[i], sig[j] = sig[j], sig[i] })
		return sig[:heldCount(len(sig), frac)]
	}
	if want == SplitRandom {
		return random, SplitRandom, "random split asked for"
	}
	times, missing, total := sampledTimes(ts, m, rows)
	if missing > 0 {
		why := fmt.Sprintf("%d of %d ratings of the sampled users have no time: random split", missing, total)
		if want != SplitAuto {
			why = fmt.Sprintf("%s asked for, but %s", want, why)
		}
		return random, SplitRandom, why
	}
	if want == SplitGlobalTime {
		return globalTimeHoldout(m, rows, times, frac), SplitGlobalTime,
			fmt.Sprintf("global-time split asked for: the latest %g of the sampled ratings held out", frac)
	}
	why := fmt.Sprintf("every rating has a time: each user's latest %g held out", frac)
	if want == SplitUserTime {
		why = "user-time split asked for: " + why
	}
	return func(tr int, r int32, sig []int) []int {
		if len(sig) < 2 {
			return nil
		}
		idx, _ := m.seen.row(int(r))
		t := times[tr]
		sort.SliceStable(sig, func(a, b int) bool {
			pa, pb := sig[a], sig[b]
			if t[pa] != t[pb] {
				return t[pa] < t[pb]
			}
			return m.items.ID(idx[pa]) < m.items.ID(idx[pb])
		})
		return sig[len(sig)-heldCount(len(sig), frac):]
	}, SplitUserTime, why
}

// heldCount is how many of a user's n >= 2 signal ratings are held out: frac
// of them, at least one, and never all.
func heldCount(n int, frac float64) int {
	return min(n-1, max(1, int(math.Round(frac*float64(n)))))
}

// sampledTimes returns each sampled row's event times, aligned with the
// row's entries (the last time given for a pair wins, as the last value
// does; an Interaction, which has no time, leaves its pair unknown), and how
// many of the rows' signal ratings have no time out of how many.
func sampledTimes(ts TrainSet, m *Model, rows []int32) (times [][]int64, missing, total int) {
	trOf := make([]int32, m.seen.rows)
	for i := range trOf {
		trOf[i] = -1
	}
	times = make([][]int64, len(rows))
	for tr, r := range rows {
		trOf[r] = int32(tr)
		times[tr] = make([]int64, m.seen.ptr[r+1]-m.seen.ptr[r])
	}
	set := func(u, i int32, t int64) {
		tr := trOf[u]
		if tr < 0 {
			return
		}
		idx, _ := m.seen.row(int(u))
		p := sort.Search(len(idx), func(x int) bool { return idx[x] >= i })
		if p < len(idx) && idx[p] == i {
			times[tr][p] = t
		}
	}
	if rt := ts.Ratings.Time; rt != nil {
		r := &ts.Ratings
		userOf := make([]int32, len(r.UserIDs))
		for j, id := range r.UserIDs {
			userOf[j], _ = m.users.Lookup(id)
		}
		movieOf := make([]int32, len(r.MovieIDs))
		for j, id := range r.MovieIDs {
			movieOf[j], _ = m.items.Lookup(id)
		}
		for j := range r.Value {
			set(userOf[r.User[j]], movieOf[r.Movie[j]], rt[j])
		}
	}
	for _, it := range ts.Interactions {
		u, _ := m.users.Lookup(it.User)
		i, _ := m.items.Lookup(it.Movie)
		set(u, i, 0)
	}
	for tr, r := range rows {
		_, val := m.seen.row(int(r))
		for p, v := range val {
			if v > 0 {
				total++
				if times[tr][p] == 0 {
					missing++
				}
			}
		}
	}
	return times, missing, total
}

// globalTimeHoldout holds out the latest frac of the sampled rows' signal
// ratings, ordered by time, then user id, then movie id.
func globalTimeHoldout(m *Model, rows []int32, times [][]int64, frac float64) holdout {
	type ref struct {
		t     int64
		tr, p int32
	}
	var all []ref
	for tr, r := range rows {
		_, val := m.seen.row(int(r))
		for p, v := range val {
			if v > 0 {
				all = append(all, ref{times[tr][p], int32(tr), int32(p)})
			}
		}
	}
	sort.Slice(all, func(a, b int) bool {
		x, y := all[a], all[b]
		if x.t != y.t {
			return x.t < y.t
		}
		if x.tr != y.tr {
			return m.users.ID(rows[x.tr]) < m.users.ID(rows[y.tr])
		}
		ix, _ := m.seen.row(int(rows[x.tr]))
		iy, _ := m.seen.row(int(rows[y.tr]))
		return m.items.ID(ix[x.p]) < m.items.ID(iy[y.p])
	})
	held := make([][]int, len(rows))
	for _, x := range all[len(all)-int(math.Round(frac*float64(len(all)))):] {
		held[x.tr] = append(held[x.tr], int(x.p))
	}
	return func(tr int, _ int32, _ []int) []int { return held[tr] }
}
