package trainer

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/ratingstate"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// dlqSender copies a message to the dead-letter topic.
type dlqSender interface {
	SendDLQ(ctx context.Context, msg kafkabus.Message, reason string) error
}

// committer commits consumed offsets to the consumer group.
type committer interface {
	Commit(ctx context.Context, msgs ...kafkabus.Message) error
}

// loopDeps are what the fold loop gets once the trainer is active.
type loopDeps struct {
	dlq         dlqSender
	commit      committer // nil: never commit
	checkpoints *checkpointer
	lag         func() map[int]int64 // records behind, per partition
}

// install asks the loop to make a model the one it folds into.
type install struct {
	work, base *recommend.Model
	manifest   modelbus.Manifest
	// holdoutUsers, from a refit, are the users with pairs the fit held
	// out; nil when unknown (the loop then finds them).
	holdoutUsers map[string]struct{}
}

// foldLoop owns the rating state and the working model: one goroutine
// (run) handles every message, folds changed users in, publishes deltas,
// and starts refits and checkpoints that run off it.
type foldLoop struct {
	s *Service

	state          *ratingstate.State
	offsets        map[int32]int64            // next offset per partition not yet in the state
	lastMsg        map[int32]kafkabus.Message // the last message per partition, to commit
	working        *recommend.Model           // the serving version plus the trainer's deltas
	base           *recommend.Model           // the serving version as published, for the gate
	manifest       modelbus.Manifest          // the serving version's manifest
	dirty          map[string]struct{}        // users changed by events: folded in at the next flush
	fresh          map[string]struct{}        // users changed by events read ahead: folded in first (flushFresh)
	refold         map[string]struct{}        // users a newly installed model has not seen: folded in batches
	refoldBatch    int
	deltas         deltaOutbox
	sinceCP        int
	handled        int
	lastVersion    int64
	loggedKinds    map[string]bool
	lastFlush      time.Time     // when the last flush started
	lastFlushTook  time.Duration // how long it took (fold-ins, encoding, publishing)
	lastFlushUsers int           // how many users it folded in
	foldCost       foldCost      // time per user of the flushes
	behindLog      time.Time     // the last "behind" progress log
	behindFolded   int           // users folded in since
	wasBehind      bool          // the last delta tick found the loop behind
	lastFresh      time.Time     // the last flushFresh
	refit          refitter
	cp             *checkpointer // set by restore

	msgs     chan kafkabus.Message // from the backlog reader, to decodeBacklog
	decoded  chan []decoded        // batches from decodeBacklog, in the reader's order
	spare    chan []decoded        // handled batches, for decodeBacklog to reuse
	pending  atomic.Int64          // messages in decoded's batches
	live     chan kafkabus.Message // read ahead of the backlog while behind (readAhead)
	installs chan install
	retrain  chan string

	// refused holds the versions whose snapshots failed to load: they are
	// never installed, so the trainer keeps folding into the last good one,
	// as the api keeps serving it.
	refusedMu sync.Mutex
	refused   map[int64]bool
}

// defaultRefoldBatch is how many users of an install's backlog one flush
// folds in.
const defaultRefoldBatch = 64

func newFoldLoop(s *Service) *foldLoop {
	return &foldLoop{s: s, state: ratingstate.New(), offsets: map[int32]int64{}, lastMsg: map[int32]kafkabus.Message{},
		dirty: map[string]struct{}{}, fresh: map[string]struct{}{}, refold: map[string]struct{}{}, refoldBatch: defaultRefoldBatch,
		loggedKinds: map[string]bool{}, refused: map[int64]bool{},
		msgs: make(chan kafkabus.Message, 1024), decoded: make(chan []decoded, decodeBatches), spare: make(chan []decoded, decodeBatches+2), live: make(chan kafkabus.Message, 256), installs: make(chan install, 4), retrain: make(chan string, 8)}
}

// restore loads the checkpoint into the state and the offsets; an empty
// store means reading the log from the start.
func (l *foldLoop) restore(cp *checkpointer) error {
	ld, err := cp.open()
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	l.cp = cp
	l.state = ld.State
	for p, o := range ld.Offsets {
		l.offsets[p] = o
	}
	l.s.pairs.Store(int64(l.state.Len()))
	l.s.log.Info("checkpoint loaded", "dir", cp.dir, "pairs", l.state.Len(), "offsets", ld.Offsets,
		"segments", ld.Segments, "torn_bytes", ld.TornBytes, "migrated_json", ld.Migrated)
	return nil
}

// startOffsets are where the reader starts: the checkpoint's offsets.
func (l *foldLoop) startOffsets() map[int]int64 {
	out := make(map[int]int64, len(l.offsets))
	for p, o := range l.offsets {
		out[int(p)] = o
	}
	return out
}

// requestRefit asks the loop for a refit; requests coalesce while one waits.
func (l *foldLoop) requestRefit(reason string) {
	select {
	case l.retrain <- reason:
	default:
	}
}

// minFlushGap is the least time between two flushes triggered by messages.
const minFlushGap = 20 * time.Millisecond

// behindFoldShare bounds the share of the loop's time that folding in
// the users a backlog changed takes while the trainer is behind
// (BehindEvents): every delta tick folds in as many of them as fit in this
// share of the tick, by the measured time per user, and the rest wait.
// Their events are old and the refit after the catch-up covers them;
// events read ahead of the backlog go out on their own meanwhile
// (flushFresh). Folding in every changed user at once held the loop for
// as long as it took: at 3M ratings under load, 6.7 s for 4,094 users and
// 40 s for 6,814, during which no swipe was folded in; at a fixed 5 s
// interval such flushes ran back to back.
const behindFoldShare = 0.2

// foldCost is a moving average of the time one user's fold-in takes in a
// flush (fold-in, encoding and publishing, shared out).
type foldCost struct{ per time.Duration }

func (c *foldCost) observe(d time.Duration) {
	if c.per == 0 {
		c.per = d
		return
	}
	c.per = (3*c.per + d) / 4
}

// behindFoldLimit is how many users a tick folds in while behind: what
// fits in share of the tick at per each; at least one, so the backlog's
// users keep going out, and 64 before anything was measured.
func behindFoldLimit(tick time.Duration, share float64, per time.Duration) int {
	if per <= 0 {
		return defaultRefoldBatch
	}
	return max(1, int(float64(tick)*share/float64(per)))
}

// run is the loop. It returns nil when ctx ends, after a final checkpoint
// (unless a test hook simulates a crash).
func (l *foldLoop) run(ctx context.Context, d loopDeps) error {
	cfg := l.s.cfg
	deltaT := time.NewTicker(cfg.DeltaInterval)
	defer deltaT.Stop()
	cpT := time.NewTicker(cfg.CheckpointInterval)
	defer cpT.Stop()
	soonT := time.NewTimer(time.Hour)
	soonT.Stop()
	defer soonT.Stop()
	var soon <-chan time.Time // armed while an early flush waits for minFlushGap
	var refitC <-chan time.Time
	if cfg.RefitInterval > 0 {
		t := time.NewTicker(cfg.RefitInterval)
		defer t.Stop()
		refitC = t.C
	}
	l.s.log.Info("trainer running", "addr", l.s.Addr(), "pairs", l.state.Len(), "offsets", l.offsets)
	for {
		select {
		case <-ctx.Done():
			// Fold-ins not yet published are redone after a restart: the
			// serving snapshot does not cover their offsets.
			return l.stop(ctx, d)
		case batch := <-l.decoded:
			l.pending.Add(-int64(len(batch)))
			for i := range batch {
				l.handle(ctx, d, batch[i])
			}
			clear(batch) // drop the messages' bytes before reuse
			select {
			case l.spare <- batch[:0]:
			default:
			}
			// Once the reader has caught up, changes go out at once (at
			// most one flush per minFlushGap) rather than at the next
			// tick; under load the tick batches.
			if l.queued() == 0 && (len(l.dirty) > 0 || len(l.refold) > 0) && soon == nil && !l.behind(d) {
				l.caughtUp()
				if wait := minFlushGap - l.s.now().Sub(l.lastFlush); wait > 0 {
					soonT.Reset(wait)
					soon = soonT.C
				} else {
					l.flush(ctx)
				}
			}
		case m := <-l.live:
			l.handleAhead(m)
			if len(l.live) == 0 {
				l.flushFresh(ctx)
			}
		case <-soon:
			soon = nil
			l.flush(ctx)
			if len(l.refold) > 0 && l.queued() == 0 {
				// Drain an install's backlog between events, batch by batch.
				soonT.Reset(minFlushGap)
				soon = soonT.C
			}
		case <-deltaT.C:
			l.flushFresh(ctx)
			if behind := l.behind(d); behind {
				l.flushSome(ctx, behindFoldLimit(cfg.DeltaInterval, behindFoldShare, l.foldCost.per))
				l.logBehind()
				l.wasBehind = true
			} else {
				l.caughtUp()
				if l.s.now().Sub(l.lastFlush) >= cfg.DeltaInterval/2 {
					l.flush(ctx)
				}
			}
			if len(l.refold) > 0 && l.queued() == 0 && soon == nil {
				soonT.Reset(minFlushGap)
				soon = soonT.C
			}
			l.autoRefit(ctx, d)
			if !l.manifest.CreatedAt.IsZero() {
				l.s.metrics.model.SetAge(l.s.now().Sub(l.manifest.CreatedAt))
			}
		case <-cpT.C:
			l.checkpoint(ctx, d)
		case done := <-d.checkpoints.done:
			l.checkpointWritten(ctx, d, done)
		case <-refitC:
			l.startRefit(ctx, "refit interval")
		case reason := <-l.retrain:
			l.startRefit(ctx, reason)
		case res := <-l.refit.done:
			l.finishRefit(ctx, res)
		case in := <-l.installs:
			l.install(in)
		}
	}
}

// stop waits for a running refit, then writes the final checkpoint and
// commits the offsets it covers.
func (l *foldLoop) stop(ctx context.Context, d loopDeps) error {
	l.refit.wg.Wait()
	if l.s.hooks.CrashOnStop {
		// As a kill -9: nothing more reaches the disk.
		d.checkpoints.wg.Wait()
		return d.checkpoints.store.Close()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := l.finalCheckpoint(fctx, d); err != nil {
		return fmt.Errorf("final %w", err)
	}
	return nil
}

// decoded is a backlog message with its event decoded off the loop
// (decodeBacklog): what decode returned for it.
type decoded struct {
	m   kafkabus.Message
	e   events.Event
	v   float64
	ok  bool
	err error
}

// decodeMessage decodes m for handle.
func (l *foldLoop) decodeMessage(m kafkabus.Message) decoded {
	dm := decoded{m: m}
	dm.e, dm.v, dm.ok, dm.err = l.decode(m)
	return dm
}

// decodeBatch is the most messages decodeBacklog hands the loop at once,
// and decodeBatches how many batches may wait for it.
const (
	decodeBatch   = 256
	decodeBatches = 16
)

// decodeBacklog decodes the backlog reader's messages in their order for
// the loop, in a goroutine of its own, and hands them over in batches of
// what has arrived (at most decodeBatch): decoding (JSON, the clock check,
// the weights) was about half of the loop's time per event while catching
// up and needs none of the loop's state, and a batch costs the loop one
// select instead of one per message. It returns when ctx ends.
func (l *foldLoop) decodeBacklog(ctx context.Context) error {
	for {
		var batch []decoded
		select {
		case batch = <-l.spare:
		default:
			batch = make([]decoded, 0, decodeBatch)
		}
		select {
		case <-ctx.Done():
			return nil
		case m := <-l.msgs:
			batch = append(batch, l.decodeMessage(m))
		}
	more:
		for len(batch) < decodeBatch {
			select {
			case m := <-l.msgs:
				batch = append(batch, l.decodeMessage(m))
			default:
				break more
			}
		}
		l.pending.Add(int64(len(batch)))
		select {
		case l.decoded <- batch:
		case <-ctx.Done():
			return nil
		}
	}
}

// queued is how many backlog messages wait for the loop, read and not yet
// handled (a batch being decoded aside). Safe from any goroutine.
func (l *foldLoop) queued() int { return len(l.msgs) + int(l.pending.Load()) }

// handle applies one decoded message to the rating state.
func (l *foldLoop) handle(ctx context.Context, d loopDeps, dm decoded) {
	m := dm.m
	p := int32(m.Partition)
	if next, ok := l.offsets[p]; ok && m.Offset < next {
		return // already in the state: the checkpoint covers it
	}
	l.offsets[p] = m.Offset + 1
	l.lastMsg[p] = m
	l.sinceCP++
	l.handled++
	e, v, ok, err := dm.e, dm.v, dm.ok, dm.err
	if err != nil {
		l.s.metrics.invalid.Inc()
		l.deadLetter(ctx, d, m, err)
	} else {
		changed := false
		if ok {
			changed, err = l.apply(&e, v, m, l.dirty)
		}
		if err != nil { // a value off the rating grid: the weights allow none
			l.s.log.Error("rating state refused an event", "partition", m.Partition, "offset", m.Offset, "err", err)
		}
		if !changed {
			l.s.metrics.stale.Inc()
		}
	}
	if l.s.cfg.CheckpointEvery > 0 && l.sinceCP >= l.s.cfg.CheckpointEvery {
		l.checkpoint(ctx, d)
	}
	if hook := l.s.hooks.AfterMessage; hook != nil {
		hook(l.handled)
	}
}

// apply updates the rating state with an event of signal v from message m
// and, when it changed the state, marks its user in users for a flush.
func (l *foldLoop) apply(e *events.Event, v float64, m kafkabus.Message, users map[string]struct{}) (bool, error) {
	changed, err := l.state.Update(ratingstate.Event{User: e.UserID, Movie: e.MovieID, Value: float32(v),
		TS: e.TS.UnixNano(), EventID: e.EventID, Partition: int32(m.Partition), Offset: m.Offset})
	if !changed {
		return false, err
	}
	l.s.metrics.applied.Inc()
	users[e.UserID] = struct{}{}
	l.refit.sinceRefit++
	l.refit.sinceTick++
	l.refit.lastApplied = l.s.now()
	// Freshness counts from the broker's time, never the client's event
	// time.
	l.deltas.newestMillis = max(l.deltas.newestMillis, m.Time.UnixMilli())
	l.s.pairs.Store(int64(l.state.Len()))
	return true, nil
}

// handleAhead applies a message read ahead of the backlog (readAhead), so
// that a swipe reaches the model while the trainer catches up on older
// events. The state keeps, per user and movie, the event with the latest
// time (ties: the larger event hash), whatever the order events come in:
// when the backlog reaches this message, it changes nothing. Offsets,
// checkpoints and the DLQ stay the backlog's: a bad message here is
// dropped, the backlog dead-letters it.
func (l *foldLoop) handleAhead(m kafkabus.Message) {
	if next, ok := l.offsets[int32(m.Partition)]; ok && m.Offset < next {
		return // the backlog has it already
	}
	if e, v, ok, err := l.decode(m); err == nil && ok {
		_, _ = l.apply(&e, v, m, l.fresh) // an error comes again with the backlog, which logs it
	}
}

// decode reads m's event, checks its clock, and returns its signal v; ok is
// false for an event without one (a skip without a signal is kept as seen:
// never recommended again to that user, never a rating, value 0).
func (l *foldLoop) decode(m kafkabus.Message) (e events.Event, v float64, ok bool, err error) {
	if e, err = events.Decode(m.Value); err == nil {
		err = e.CheckClock(l.s.now(), l.s.cfg.MaxClockSkew)
	}
	if err != nil {
		return e, 0, false, err
	}
	v, ok = l.s.cfg.Weights.Signal(&e)
	if !ok && e.Swipe == events.Skip {
		v, ok = 0, true
	}
	return e, v, ok, nil
}

// flushFresh folds in and publishes the users that events read ahead
// changed, alone: a fresh swipe does not wait for the many users a backlog
// changes between two flushes. At most one per minFlushGap; the delta tick
// takes what is left.
func (l *foldLoop) flushFresh(ctx context.Context) {
	if len(l.fresh) == 0 || l.working == nil || l.s.now().Sub(l.lastFresh) < minFlushGap {
		return
	}
	l.lastFresh = l.s.now()
	backlog, refold, last, took := l.dirty, l.refold, l.lastFlush, l.lastFlushTook
	l.dirty, l.refold = l.fresh, map[string]struct{}{}
	l.flush(ctx)
	l.fresh, l.dirty, l.refold, l.lastFlush, l.lastFlushTook = l.dirty, backlog, refold, last, took
}

// caughtUp is called when the loop is not behind: after a catch-up, the
// users the backlog changed that are not folded in yet go out in batches
// between events, as an install's backlog does, so that fresh swipes do
// not wait for all of them (at 3M ratings about 20,000 users, a minute of
// fold-ins under load).
func (l *foldLoop) caughtUp() {
	if !l.wasBehind {
		return
	}
	for u := range l.dirty {
		l.refold[u] = struct{}{}
	}
	clear(l.dirty)
	l.wasBehind = false
}

// logBehind logs the backlog's fold-ins every 10 s while behind.
func (l *foldLoop) logBehind() {
	l.behindFolded += l.lastFlushUsers
	if now := l.s.now(); l.working != nil && now.Sub(l.behindLog) >= 10*time.Second {
		l.s.log.Info("behind: backlog users folded in", "users", l.behindFolded, "waiting", len(l.dirty),
			"per_user", l.foldCost.per.String(), "pairs", l.state.Len(), "handled", l.handled)
		l.behindLog, l.behindFolded = now, 0
	}
}

// deadLetter counts a bad message, logs its kind once, and copies it to the
// DLQ with the reason.
func (l *foldLoop) deadLetter(ctx context.Context, d loopDeps, m kafkabus.Message, err error) {
	label, kind := events.DLQReason(err)
	l.s.metrics.consumer.DeadLettered(label)
	if !l.loggedKinds[kind] {
		l.loggedKinds[kind] = true
		l.s.log.Warn("bad message copied to the dlq (logged once per kind)", "kind", kind,
			"partition", m.Partition, "offset", m.Offset, "err", err)
	}
	if err := d.dlq.SendDLQ(ctx, m, "trainer: "+err.Error()); err != nil && ctx.Err() == nil {
		l.s.log.Error("copy to dlq", "partition", m.Partition, "offset", m.Offset, "err", err)
	}
}

// behind reports whether the loop is catching up on a backlog.
func (l *foldLoop) behind(d loopDeps) bool { return l.isBehind(d.lag()) }

// isBehind reports whether the reader's lag plus the messages read and not
// yet applied reach BehindEvents. Safe from any goroutine.
func (l *foldLoop) isBehind(lag map[int]int64) bool {
	n := int64(l.queued())
	for _, v := range lag {
		n += v
	}
	return n >= l.s.cfg.BehindEvents
}

// loadServing learns the highest version used so far (the registry's) and
// installs the bus's current model, or the newest good one when current
// does not load.
func (l *foldLoop) loadServing(ctx context.Context) error {
	if recs, err := l.s.deps.Registry.List(ctx, storeListAll); err == nil {
		for _, r := range recs {
			l.lastVersion = max(l.lastVersion, r.Version)
		}
	} else {
		l.s.log.Warn("read registry versions", "err", err)
	}
	model, m, refused, err := l.s.deps.Bus.LoadNewest(ctx, nil)
	for _, r := range refused {
		l.refuse(r.Manifest, r.Err)
	}
	if err != nil {
		return err
	}
	in, err := newInstall(model, m)
	if err != nil {
		return err
	}
	l.install(in)
	return nil
}

// refuse remembers a version whose snapshot failed to load for good.
func (l *foldLoop) refuse(m modelbus.Manifest, err error) {
	l.s.metrics.refused.Inc()
	l.s.log.Error("refuse model: it does not load; folding into the last good one", "version", m.Version, "err", err)
	l.refusedMu.Lock()
	l.refused[m.Version] = true
	l.refusedMu.Unlock()
}

// newInstall makes the working and the published copy of a loaded model.
func newInstall(model *recommend.Model, m modelbus.Manifest) (install, error) {
	return install{work: model, base: model.Clone(), manifest: m}, nil
}

// offerManifest handles a new value of the bus's `current` (a new version,
// a promotion or a rollback): the loop must fold into that version from
// now on, if it loads. It runs on the watch goroutine.
func (l *foldLoop) offerManifest(ctx context.Context) func(modelbus.Manifest) {
	return func(m modelbus.Manifest) {
		if m.Version == l.s.version.Load() {
			return
		}
		l.refusedMu.Lock()
		refused := l.refused[m.Version]
		l.refusedMu.Unlock()
		if refused {
			return
		}
		model, err := l.s.deps.Bus.Load(ctx, m)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if modelbus.Permanent(err) {
				l.refuse(m, err)
			} else {
				l.s.log.Error("load current model", "version", m.Version, "err", err)
			}
			return
		}
		in, err := newInstall(model, m)
		if err != nil {
			l.s.log.Error("load current model", "version", m.Version, "err", err)
			return
		}
		select {
		case l.installs <- in:
		case <-ctx.Done():
		}
	}
}

// install makes in the model the loop folds into and marks for fold-in
// every user whose ratings the snapshot did not see: pairs held out of its
// fit and events at or after the offsets it covers.
func (l *foldLoop) install(in install) {
	v := in.manifest.Version
	if l.working != nil && l.working.Version == v {
		return
	}
	l.working, l.base, l.manifest = in.work, in.base, in.manifest
	clear(l.refold)
	l.deltas.reset(v, l.s.now())
	l.lastVersion = max(l.lastVersion, v)
	l.s.version.Store(v)
	l.s.metrics.setVersion(v)
	if p, ok := in.manifest.Metrics["pairs"]; ok && l.refit.lastFitLen == 0 {
		l.refit.lastFitLen = int(p)
	}
	for user, pos := range l.state.Users() {
		next, ok := in.manifest.Offsets[pos.Partition]
		if pos.Partition < 0 || !ok || pos.Offset >= next {
			l.refold[user] = struct{}{}
		}
	}
	// Users with pairs the fit held out: the refit names them; for a model
	// installed from the bus (a rollback, another trainer's) the loop
	// finds them itself.
	if in.holdoutUsers != nil {
		for u := range in.holdoutUsers {
			l.refold[u] = struct{}{}
		}
	} else if pct := l.s.cfg.holdout(); pct > 0 {
		for e := range l.state.All() {
			user := l.state.UserID(e.User)
			if _, ok := l.refold[user]; !ok && InHoldout(user, l.state.MovieID(e.Movie), pct) {
				l.refold[user] = struct{}{}
			}
		}
	}
	l.s.log.Info("model installed", "version", v, "users_to_fold", len(l.refold)+len(l.dirty))
}

// catalogMovie returns what the catalog knows of a movie, or a placeholder.
func (l *foldLoop) catalogMovie(ctx context.Context, id string) recommend.MovieInfo {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if mv, ok := l.s.deps.Catalog.Movie(ctx, id); ok {
		return movieInfo(mv)
	}
	return recommend.MovieInfo{ID: id}
}
