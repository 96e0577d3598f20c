package driftsvc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/drift"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// The reference is derived from the log, never from the order events
// reach the consumer group:
//
//   - RefModel: the events the serving model was trained on, which are the
//     records below the offsets of its manifest. At start (or after a
//     rollback) the service reads the log up to them; when a refit covers
//     more, it reads only the new stretch. A sampler (pkg/drift) keeps a
//     bounded, seeded sample of them, which depends only on which events
//     are covered: a restart, another partitioning or another way of
//     running derives the same reference.
//   - RefPeriod: the events whose event time falls in the period, read
//     from the whole log at start and then from what was appended, every
//     interval.

// refBuilder accumulates a reference from the log: the sampler and, per
// partition, the next offset it has read.
type refBuilder struct {
	sampler *drift.Sampler
	read    drift.Coverage
	bad     int // records that do not decode (the consumer dead-letters them)
}

func (s *Service) newBuilder() *refBuilder {
	sm, _ := drift.NewSampler(s.cfg.ReferenceEvents, s.cfg.Seed) // size validated in Config
	return &refBuilder{sampler: sm, read: drift.Coverage{}}
}

// extend reads each partition of target from where b stopped up to
// target[p] (clamped to what the log holds) and offers the events keep
// accepts to the sampler. It returns how many it offered; on error b keeps
// what it read, and the next call goes on from there.
func (s *Service) extend(ctx context.Context, b *refBuilder, target drift.Coverage, keep func(events.Event) bool) (int, error) {
	bounds, err := s.events.Bounds(ctx)
	if err != nil {
		return 0, fmt.Errorf("reference: %w", err)
	}
	added := 0
	for _, p := range slices.Sorted(maps.Keys(target)) {
		bd := bounds[p]
		to := min(target[p], bd.End)
		if target[p] > bd.End {
			s.log.Warn("the reference asks for offsets beyond the log (a model from another log?)",
				"partition", p, "wanted", target[p], "log_end", bd.End)
		}
		from := b.read[p]
		if from < bd.First {
			if from < to {
				s.log.Warn("part of the reference is no longer in the log (retention): it is drawn from what is left",
					"partition", p, "missing_from", from, "missing_to", min(bd.First, to))
			}
			from = bd.First
		}
		if from >= to {
			b.read[p] = max(b.read[p], to)
			continue
		}
		err := s.events.Read(ctx, p, from, to, func(off int64, value []byte) error {
			b.read[p] = off + 1
			e, err := events.Decode(value)
			if err != nil {
				b.bad++
				return nil
			}
			if keep(e) {
				b.sampler.Add(e)
				added++
			}
			return nil
		})
		if err != nil {
			return added, fmt.Errorf("reference: %w", err)
		}
		b.read[p] = to
	}
	return added, nil
}

// install makes ref the reference (covering cov for RefModel) and drops
// from the current window the events it now covers.
func (s *Service) install(ref *drift.Reference, cov drift.Coverage, version int64) {
	s.mu.Lock()
	s.ref, s.refCov, s.refVersion, s.refErr = ref, cov, version, ""
	s.refGen++
	dropped := s.cur.Retain(func(r drift.Record) bool { return !cov.Covers(r.Pos) })
	s.mu.Unlock()
	if ref == nil {
		s.log.Warn("the reference has no events yet", "model_version", version)
		return
	}
	s.log.Info("reference moved", "model_version", version, "sample", ref.Window.Events,
		"population", ref.Window.Population, "from", ref.Window.From, "to", ref.Window.To,
		"current_dropped", dropped)
}

func (s *Service) setRefErr(err error) {
	s.mu.Lock()
	s.refErr = err.Error()
	s.mu.Unlock()
	s.log.Error("move the reference; retrying", "err", err)
}

// followModel keeps the reference on the serving model until ctx ends: it
// watches the manifest and moves the reference to each new coverage,
// retrying every interval when the log or NATS cannot be read.
func (s *Service) followModel(ctx context.Context) {
	updates := make(chan modelbus.Manifest, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { s.watchModels(ctx, updates) })

	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var b *refBuilder
	var want *modelbus.Manifest
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-updates:
			want = &m
		case <-retry.C:
		}
		if want == nil {
			continue
		}
		if want.DuringLoad() && !want.Covers(s.seenOffsets()) {
			// A head of a load is no reference: the rest of it would look
			// like drift. Wait for the model that covers it.
			s.log.Debug("model fitted during a load: waiting for one that covers what was read", "version", want.Version)
			retry.Reset(s.cfg.Interval)
			continue
		}
		if err := s.moveTo(ctx, &b, *want); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.setRefErr(err)
			retry.Reset(s.cfg.Interval)
			continue
		}
		want = nil
	}
}

// watchModels sends every manifest to updates, keeping only the newest
// unread one, until ctx ends; it reconnects after errors.
func (s *Service) watchModels(ctx context.Context, updates chan modelbus.Manifest) {
	offer := func(m modelbus.Manifest) {
		for {
			select {
			case updates <- m:
				return
			default:
				select { // drop the older unread manifest
				case <-updates:
				default:
				}
			}
		}
	}
	for ctx.Err() == nil {
		bus, err := s.modelBus(ctx)
		if err == nil {
			err = bus.Watch(ctx, offer)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("watch ended")
		}
		s.setRefErr(fmt.Errorf("follow the serving model: %w", err))
		select {
		case <-ctx.Done():
		case <-time.After(s.cfg.Interval):
		}
	}
}

// moveTo moves the reference to the events m covers: it extends *b by
// what m covers beyond it, or starts over when m covers less (a rollback).
func (s *Service) moveTo(ctx context.Context, b **refBuilder, m modelbus.Manifest) error {
	target := drift.Coverage(maps.Clone(m.Offsets))
	if len(target) == 0 {
		s.log.Warn("the serving model's manifest carries no Kafka offsets: drift cannot tell which events it was "+
			"trained on and makes no report until a model that does", "model_version", m.Version)
		target = drift.Coverage{}
	}
	s.mu.Lock()
	same := s.ref != nil && s.refVersion == m.Version && maps.Equal(s.refCov, target)
	s.mu.Unlock()
	if same {
		return nil
	}
	if *b == nil || target.Behind((*b).read) {
		if *b != nil {
			s.log.Info("the serving model covers less than the reference: rebuilding it (rollback)", "model_version", m.Version)
		}
		*b = s.newBuilder()
	}
	start := s.now()
	if _, err := s.extend(ctx, *b, target, func(events.Event) bool { return true }); err != nil {
		return fmt.Errorf("model %d: %w", m.Version, err)
	}
	if (*b).bad > 0 {
		s.log.Warn("reference: records that do not decode were left out", "count", (*b).bad)
	}
	s.log.Debug("reference read from the log", "model_version", m.Version, "took", s.now().Sub(start))
	s.install((*b).sampler.Reference(s.cfg.Drift.PopularityBuckets), target, m.Version)
	return nil
}

// followPeriod builds the reference from the events of the configured
// period, from the whole log at start and then from what was appended,
// every interval, until ctx ends.
func (s *Service) followPeriod(ctx context.Context) {
	inPeriod := func(e events.Event) bool {
		return !e.TS.Before(s.cfg.ReferenceFrom) && e.TS.Before(s.cfg.ReferenceTo)
	}
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	b := s.newBuilder()
	installed := false
	for {
		end := drift.Coverage{}
		bounds, err := s.events.Bounds(ctx)
		if err == nil {
			for p, bd := range bounds {
				end[p] = bd.End
			}
			var added int
			added, err = s.extend(ctx, b, end, inPeriod)
			if err == nil && (added > 0 || !installed) {
				s.install(b.sampler.Reference(s.cfg.Drift.PopularityBuckets), nil, 0)
				installed = true
			}
		}
		if err != nil && ctx.Err() == nil {
			s.setRefErr(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// seenOffsets copies seen.
func (s *Service) seenOffsets() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.seen)
}
