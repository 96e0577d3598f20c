package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// defaultRefoldBatch is how many users of an install's backlog one flush
// folds in.
const defaultRefoldBatch = 64

// maxDeltaBytes keeps each delta message under NATS's default 1 MiB payload.
const maxDeltaBytes = 900 << 10

// flush folds every user changed since the last flush into the working
// model (new movies first) and publishes the result as deltas tagged with
// the serving version.
func (s *Service) flush(ctx context.Context) {
	if s.working == nil {
		return
	}
	s.lastFlush = s.now()
	v := s.working.Version
	if len(s.unsent) > 0 && s.unsentVersion == v {
		s.unsent = s.publishDeltas(ctx, v, s.unsent)
	}
	payloads, err := s.foldDirty(ctx)
	if err != nil {
		s.log.Error("fold in", "version", v, "err", err)
		return
	}
	switch {
	case len(payloads) == 0:
	case len(s.unsent) > 0:
		// Keep the order: these go out after the ones still waiting.
		s.unsent = append(s.unsent, payloads...)
	default:
		s.unsentVersion = v
		s.unsent = s.publishDeltas(ctx, v, payloads)
	}
}

// foldDirty folds every user changed since the last call into the working
// model, new movies first so the users' fold-ins weigh them, and returns
// the encoded deltas.
func (s *Service) foldDirty(ctx context.Context) ([][]byte, error) {
	if len(s.dirty) == 0 && len(s.refold) == 0 {
		return nil, nil
	}
	v := s.working.Version
	// Users changed by events all go now; an install's backlog follows in
	// batches, so a new model does not hold up fresh swipes.
	for u := range s.dirty {
		delete(s.refold, u)
	}
	n := 0
	for u := range s.refold {
		if n == s.refoldBatch {
			break
		}
		s.dirty[u] = struct{}{}
		delete(s.refold, u)
		n++
	}
	users := slices.Sorted(maps.Keys(s.dirty))
	clear(s.dirty)
	var movies []recommend.MovieDelta
	newMovie := map[string]bool{}
	for _, u := range users {
		for _, r := range s.state.Rated(u) {
			if newMovie[r.Movie] {
				continue
			}
			if _, known := s.working.Movie(r.Movie); !known {
				newMovie[r.Movie] = true
				movies = append(movies, s.working.FoldMovie(s.catalogMovie(ctx, r.Movie), s.state.Raters(r.Movie)))
			}
		}
	}
	if len(movies) > 0 {
		if err := s.working.Apply(recommend.Delta{BaseVersion: v, Movies: movies}); err != nil {
			return nil, fmt.Errorf("apply movie fold-ins to %d: %w", v, err)
		}
	}
	deltaUsers := make([]recommend.UserDelta, 0, len(users))
	for _, u := range users {
		deltaUsers = append(deltaUsers, s.working.FoldUser(u, s.state.Rated(u)))
	}
	if err := s.working.Apply(recommend.Delta{BaseVersion: v, Users: deltaUsers}); err != nil {
		return nil, fmt.Errorf("apply user fold-ins to %d: %w", v, err)
	}
	payloads, err := s.encodeDeltas(v, movies, deltaUsers)
	s.newestMillis = 0
	return payloads, err
}

// encodeDeltas splits the fold-ins into deltas that each fit a NATS message.
func (s *Service) encodeDeltas(v int64, movies []recommend.MovieDelta, users []recommend.UserDelta) ([][]byte, error) {
	s.seq++
	d := recommend.Delta{BaseVersion: v, Seq: s.seq, NewestEventMillis: s.newestMillis, Movies: movies, Users: users}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode delta %d/%d: %w", v, d.Seq, err)
	}
	if len(b) <= maxDeltaBytes || len(users) < 2 && len(movies) < 2 {
		return [][]byte{b}, nil
	}
	s.seq--
	// Too big: movies go out first, then the users in halves.
	var out [][]byte
	if len(movies) > 0 && len(users) > 0 {
		first, err := s.encodeDeltas(v, movies, nil)
		if err != nil {
			return nil, err
		}
		rest, err := s.encodeDeltas(v, nil, users)
		return append(first, rest...), err
	}
	if len(movies) > 1 {
		h := len(movies) / 2
		a, err := s.encodeDeltas(v, movies[:h], nil)
		if err != nil {
			return nil, err
		}
		b, err := s.encodeDeltas(v, movies[h:], nil)
		return append(a, b...), err
	}
	h := len(users) / 2
	a, err := s.encodeDeltas(v, nil, users[:h])
	if err != nil {
		return nil, err
	}
	rest, err := s.encodeDeltas(v, nil, users[h:])
	out = append(out, a...)
	return append(out, rest...), err
}

// publishDeltas sends payloads in order and returns those not sent.
func (s *Service) publishDeltas(ctx context.Context, v int64, payloads [][]byte) [][]byte {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for i, p := range payloads {
		if err := s.bus.PublishDelta(ctx, v, p); err != nil {
			if ctx.Err() == nil {
				s.log.Error("publish delta, will retry", "version", v, "err", err)
			}
			return payloads[i:]
		}
		s.metrics.deltasPublished.Inc()
	}
	return nil
}
