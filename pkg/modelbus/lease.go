package modelbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// LeaseBucket holds exclusive leases, such as the one that makes a trainer
// the active one: a standby waits for it.
const LeaseBucket = "SWIPEFLIX_LEASES"

// ErrLeaseLost is returned by Lease.Keep when another holder took the
// lease (this one stopped renewing it for longer than its TTL).
var ErrLeaseLost = errors.New("lease lost")

// Lease is an exclusive claim on a key of LeaseBucket, renewed while held.
type Lease struct {
	kv     jetstream.KeyValue
	key    string
	holder string
	ttl    time.Duration
	rev    uint64
}

// AcquireLease waits until holder holds the lease key, or ctx ends. The
// lease lapses ttl after its last renewal. A holder that held it before (a
// restart of the same instance: static membership, in Kafka's words) takes
// it back at once; another holder waits until the lease lapses or is
// released. onWait, when not nil, is told the current holder once while
// waiting.
func (b *Bus) AcquireLease(ctx context.Context, key, holder string, ttl time.Duration, onWait func(current string)) (*Lease, error) {
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LeaseBucket,
		Description: "SwipeFlix exclusive leases (the active trainer)",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", LeaseBucket, err)
	}
	told := false
	for {
		l := &Lease{kv: kv, key: key, holder: holder, ttl: ttl}
		e, err := kv.Get(ctx, key)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			if l.rev, err = kv.Create(ctx, key, []byte(holder)); err == nil {
				return l, nil
			}
		case err == nil && string(e.Value()) == holder:
			if l.rev, err = kv.Update(ctx, key, []byte(holder), e.Revision()); err == nil {
				return l, nil
			}
		case err == nil:
			if !told && onWait != nil {
				onWait(string(e.Value()))
				told = true
			}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("acquire lease %s: %w", key, ctx.Err())
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("acquire lease %s: %w", key, ctx.Err())
		case <-time.After(min(ttl/4, 500*time.Millisecond)):
		}
	}
}

// Keep renews the lease every third of its TTL until ctx ends (nil). It
// returns ErrLeaseLost when another holder took it, or when renewals
// failed for a whole TTL (the lease may have lapsed): the caller must stop
// acting as the holder.
func (l *Lease) Keep(ctx context.Context) error {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rev, err := l.kv.Update(ctx, l.key, []byte(l.holder), l.rev)
		switch {
		case err == nil:
			l.rev, last = rev, time.Now()
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch) && l.reclaim(ctx):
			last = time.Now() // a renewal whose answer was lost landed
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			return fmt.Errorf("%w: %s: %w", ErrLeaseLost, l.key, err)
		case time.Since(last) > l.ttl:
			return fmt.Errorf("%w: %s: not renewed for %s: %w", ErrLeaseLost, l.key, time.Since(last).Round(time.Second), err)
		}
	}
}

// Release gives the lease up, so that a standby takes it at once. A lease
// another holder took already is left alone.
func (l *Lease) Release(ctx context.Context) error {
	err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) && l.reclaim(ctx) {
		err = l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev))
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return fmt.Errorf("release lease %s: %w", l.key, err)
	}
	return nil
}

// reclaim adopts the key's revision when the key still names this holder:
// an update can land while its answer is lost (a cancelled context, a
// dropped connection), leaving the lease this holder's under a revision it
// did not see. It reports whether the lease is still this holder's.
func (l *Lease) reclaim(ctx context.Context) bool {
	e, err := l.kv.Get(ctx, l.key)
	if err != nil || string(e.Value()) != l.holder {
		return false
	}
	l.rev = e.Revision()
	return true
}
