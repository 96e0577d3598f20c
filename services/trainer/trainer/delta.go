package trainer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// maxDeltaBytes keeps each delta message under NATS's default 1 MiB payload.
const maxDeltaBytes = 900 << 10

// deltaOutbox numbers the deltas of the working version and keeps those
// that failed to publish, in order, for the next flush.
type deltaOutbox struct {
	version int64
	seq     int64
	unsent  [][]byte
	// newestMillis is the broker time (Unix ms) of the newest event folded
	// into the next delta, for the freshness histogram.
	newestMillis int64
}

// reset starts the deltas of a newly installed version. Sequence numbers
// start from the install time in microseconds, so they keep increasing for
// a version across trainer restarts.
func (o *deltaOutbox) reset(version int64, now time.Time) {
	o.version, o.seq, o.unsent = version, now.UnixMicro(), nil
}

// flush folds every user changed since the last flush into the working
// model (new movies first) and publishes the result as deltas tagged with
// the serving version.
func (l *foldLoop) flush(ctx context.Context) { l.flushSome(ctx, 0) }

// flushSome is flush for at most limit of the changed users (0: all); the
// others wait for the next one.
func (l *foldLoop) flushSome(ctx context.Context, limit int) {
	if l.working == nil {
		return
	}
	start := time.Now() // the flush's cost, on the real clock whatever Deps.Now is
	l.lastFlush = l.s.now()
	defer func() {
		l.lastFlushTook = time.Since(start)
		l.s.metrics.flushSeconds.Observe(l.lastFlushTook.Seconds())
		if l.lastFlushUsers > 0 {
			l.foldCost.observe(l.lastFlushTook / time.Duration(l.lastFlushUsers))
		}
	}()
	if len(l.deltas.unsent) > 0 {
		l.deltas.unsent = l.publishDeltas(ctx, l.deltas.unsent)
	}
	payloads, err := l.foldDirty(ctx, limit)
	if err != nil {
		l.s.log.Error("fold in", "version", l.working.Version, "err", err)
		return
	}
	switch {
	case len(payloads) == 0:
	case len(l.deltas.unsent) > 0:
		// Keep the order: these go out after the ones still waiting.
		l.deltas.unsent = append(l.deltas.unsent, payloads...)
	default:
		l.deltas.unsent = l.publishDeltas(ctx, payloads)
	}
}

// foldDirty folds every user changed since the last call (at most limit
// of them when limit > 0, the others stay for the next call) into the
// working model, new movies first so the users' fold-ins weigh them, and
// returns the encoded deltas. Events that arrive together (a backlog)
// change each user once: a user is folded in once per flush, whatever
// their number of events.
func (l *foldLoop) foldDirty(ctx context.Context, limit int) ([][]byte, error) {
	if len(l.dirty) == 0 && len(l.refold) == 0 {
		l.lastFlushUsers = 0
		return nil, nil
	}
	v := l.working.Version
	// Users changed by events all go now; an install's backlog follows in
	// batches, so a new model does not hold up fresh swipes.
	for u := range l.dirty {
		delete(l.refold, u)
	}
	n := 0
	for u := range l.refold {
		if n == l.refoldBatch {
			break
		}
		l.dirty[u] = struct{}{}
		delete(l.refold, u)
		n++
	}
	var users []string
	if limit > 0 && len(l.dirty) > limit {
		// Any limit of them (map order: no user waits for long), in
		// order.
		users = make([]string, 0, limit)
		for u := range l.dirty {
			if len(users) == limit {
				break
			}
			users = append(users, u)
		}
		for _, u := range users {
			delete(l.dirty, u)
		}
		slices.Sort(users)
	} else {
		users = slices.Sorted(maps.Keys(l.dirty))
		clear(l.dirty)
	}
	l.lastFlushUsers = len(users)
	l.s.metrics.usersFolded.Add(float64(len(users)))
	var movies []recommend.MovieDelta
	newMovie := map[string]bool{}
	for _, u := range users {
		for _, r := range l.state.Rated(u) {
			if newMovie[r.Movie] {
				continue
			}
			if _, known := l.working.Movie(r.Movie); !known {
				newMovie[r.Movie] = true
				movies = append(movies, l.working.FoldMovie(l.catalogMovie(ctx, r.Movie), raters(l.state.Raters(r.Movie))))
			}
		}
	}
	if len(movies) > 0 {
		if err := l.working.Apply(recommend.Delta{BaseVersion: v, Movies: movies}); err != nil {
			return nil, fmt.Errorf("apply movie fold-ins to %d: %w", v, err)
		}
	}
	deltaUsers := make([]recommend.UserDelta, 0, len(users))
	for _, u := range users {
		deltaUsers = append(deltaUsers, l.working.FoldUser(u, rated(l.state.Rated(u))))
	}
	if err := l.working.Apply(recommend.Delta{BaseVersion: v, Users: deltaUsers}); err != nil {
		return nil, fmt.Errorf("apply user fold-ins to %d: %w", v, err)
	}
	payloads, err := l.deltas.encode(v, movies, deltaUsers)
	l.deltas.newestMillis = 0
	return payloads, err
}

// encode splits the fold-ins into deltas that each fit a NATS message.
func (o *deltaOutbox) encode(v int64, movies []recommend.MovieDelta, users []recommend.UserDelta) ([][]byte, error) {
	o.seq++
	d := recommend.Delta{BaseVersion: v, Seq: o.seq, NewestEventMillis: o.newestMillis, Movies: movies, Users: users}
	b, err := recommend.EncodeDelta(d)
	if err != nil {
		return nil, fmt.Errorf("encode delta %d/%d: %w", v, d.Seq, err)
	}
	if len(b) <= maxDeltaBytes || len(users) < 2 && len(movies) < 2 {
		return [][]byte{b}, nil
	}
	o.seq--
	// Too big: movies go out first, then the users in halves.
	split := func(a, b func() ([][]byte, error)) ([][]byte, error) {
		first, err := a()
		if err != nil {
			return nil, err
		}
		rest, err := b()
		return append(first, rest...), err
	}
	switch {
	case len(movies) > 0 && len(users) > 0:
		return split(func() ([][]byte, error) { return o.encode(v, movies, nil) },
			func() ([][]byte, error) { return o.encode(v, nil, users) })
	case len(movies) > 1:
		h := len(movies) / 2
		return split(func() ([][]byte, error) { return o.encode(v, movies[:h], nil) },
			func() ([][]byte, error) { return o.encode(v, movies[h:], nil) })
	default:
		h := len(users) / 2
		return split(func() ([][]byte, error) { return o.encode(v, nil, users[:h]) },
			func() ([][]byte, error) { return o.encode(v, nil, users[h:]) })
	}
}

// publishDeltas sends payloads in order and returns those not sent.
func (l *foldLoop) publishDeltas(ctx context.Context, payloads [][]byte) [][]byte {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v := l.deltas.version
	for i, p := range payloads {
		if err := l.s.deps.Bus.PublishDelta(ctx, v, p); err != nil {
			if ctx.Err() == nil {
				l.s.log.Error("publish delta, will retry", "version", v, "err", err)
			}
			return payloads[i:]
		}
		l.s.metrics.deltasPublished.Inc()
	}
	return nil
}
