package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrQueueFull is returned by Retrying when its queue is at capacity: the
// write was not accepted and the caller must decide (the trainer logs it and
// keeps serving models over NATS).
var ErrQueueFull = errors.New("registry write queue full")

// Writer is the part of the registry Retrying writes through; *Store
// satisfies it.
type Writer interface {
	Register(ctx context.Context, r ModelRecord) error
	Promote(ctx context.Context, version int64, by, reason string) (ModelRecord, error)
	SaveDriftReport(ctx context.Context, r DriftReport) (int64, error)
}

var _ Writer = (*Store)(nil)

// RetryingConfig configures Retrying. Zero values take the defaults.
type RetryingConfig struct {
	// QueueSize bounds the writes held while the database is away (default 1024).
	QueueSize int
	// SpoolPath, when set, keeps the queue in this file as well, so queued
	// writes survive a restart. It is rewritten (write, fsync, rename) on
	// every change and removed when the queue drains.
	SpoolPath string
	// MinBackoff and MaxBackoff bound the wait between retries of the
	// queue's head, doubling after each failure (defaults 200ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one write attempt (default 5s).
	AttemptTimeout time.Duration
	// Logger receives degraded/recovered events; nil discards them.
	Logger *slog.Logger
	// Registerer gets the swipeflix_registry_degraded gauge; nil skips it.
	Registerer prometheus.Registerer
}

// Kinds of queued write.
const (
	opRegister = "register"
	opPromote  = "promote"
	opDrift    = "drift_report"
)

// op is one queued write, in the form the spool file stores it.
type op struct {
	Kind    string       `json:"kind"`
	Model   *ModelRecord `json:"model,omitempty"`
	Version int64        `json:"version,omitempty"`
	By      string       `json:"by,omitempty"`
	Reason  string       `json:"reason,omitempty"`
	Report  *DriftReport `json:"report,omitempty"`
}

func (o op) String() string {
	switch o.Kind {
	case opRegister:
		return fmt.Sprintf("register model %d", o.Model.Version)
	case opPromote:
		return fmt.Sprintf("promote model %d", o.Version)
	default:
		return "save drift report"
	}
}

// Retrying keeps registry writes flowing while the database is down: a write
// that fails for a transient reason is queued (bounded, in memory and
// optionally spooled to a file) and retried in order, with backoff, until it
// succeeds. Writes made while the queue is not empty join its tail, so a
// promotion never overtakes the registration it depends on. Invalid input
// and conflicts are not retried: they are returned at once, or, for a queued
// write, logged and dropped.
//
// Run drains the queue; its caller owns that goroutine. Degraded reports
// whether writes are waiting, which is also the swipeflix_registry_degraded
// gauge.
type Retrying struct {
	w   Writer
	cfg RetryingConfig
	log *slog.Logger

	mu      sync.Mutex
	queue   []op
	changed chan struct{} // closed and replaced on every queue change

	wake     chan struct{} // tells Run a write was queued
	degraded prometheus.Gauge
}

// NewRetrying wraps w. It loads writes left in cfg.SpoolPath by a previous
// run; a spool that does not parse is an error naming the file.
func NewRetrying(w Writer, cfg RetryingConfig) (*Retrying, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1024
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 5 * time.Second
	}
	r := &Retrying{
		w:       w,
		cfg:     cfg,
		log:     cfg.Logger,
		changed: make(chan struct{}),
		wake:    make(chan struct{}, 1),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swipeflix_registry_degraded",
			Help: "1 while registry writes are queued because the database is unavailable, else 0.",
		}),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.SpoolPath != "" {
		b, err := os.ReadFile(cfg.SpoolPath)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("read registry spool: %w", err)
		default:
			if err := json.Unmarshal(b, &r.queue); err != nil {
				return nil, fmt.Errorf("registry spool %s is corrupt: %w", cfg.SpoolPath, err)
			}
			for i, o := range r.queue {
				if err := o.check(); err != nil {
					return nil, fmt.Errorf("registry spool %s: entry %d: %w", cfg.SpoolPath, i, err)
				}
			}
			if len(r.queue) > 0 {
				r.log.Warn("registry writes left from the last run", "pending", len(r.queue), "spool", cfg.SpoolPath)
			}
		}
	}
	r.degraded.Set(boolGauge(len(r.queue) > 0))
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(r.degraded); err != nil {
			return nil, fmt.Errorf("register swipeflix_registry_degraded: %w", err)
		}
	}
	return r, nil
}

func (o op) check() error {
	switch {
	case o.Kind == opRegister && o.Model != nil:
		return validateRecord(o.Model)
	case o.Kind == opPromote && o.Version > 0 && o.By != "":
		return nil
	case o.Kind == opDrift && o.Report != nil:
		return validateReport(*o.Report)
	}
	return fmt.Errorf("%w: malformed %q entry", ErrInvalid, o.Kind)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Degraded reports whether writes are waiting for the database.
func (r *Retrying) Degraded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue) > 0
}

// Pending returns how many writes are queued.
func (r *Retrying) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

// Register registers a model now, or queues it when the database is away
// or other writes are already waiting. It returns an error only for invalid
// input, a conflict, or a full queue.
func (r *Retrying) Register(ctx context.Context, m ModelRecord) error {
	if err := validateRecord(&m); err != nil {
		return fmt.Errorf("register model %d: %w", m.Version, err)
	}
	return r.submit(ctx, op{Kind: opRegister, Model: &m})
}

// Promote promotes a model now, or queues the promotion behind waiting
// writes. Unlike Store.Promote it does not return the record, which a queued
// promotion does not have yet.
func (r *Retrying) Promote(ctx context.Context, version int64, by, reason string) error {
	if version <= 0 || by == "" {
		return fmt.Errorf("promote model %d: %w: version must be positive and by set", version, ErrInvalid)
	}
	return r.submit(ctx, op{Kind: opPromote, Version: version, By: by, Reason: reason})
}

// SaveDriftReport stores a drift report now or queues it.
func (r *Retrying) SaveDriftReport(ctx context.Context, rep DriftReport) error {
	if err := validateReport(rep); err != nil {
		return fmt.Errorf("save drift report: %w", err)
	}
	return r.submit(ctx, op{Kind: opDrift, Report: &rep})
}

func (r *Retrying) submit(ctx context.Context, o op) error {
	if r.Pending() == 0 {
		err := r.apply(ctx, o)
		if err == nil || permanent(err) {
			return err
		}
		if ctx.Err() != nil {
			// The caller gave up; its write is not ours to keep.
			return err
		}
		r.log.Warn("registry write failed, queueing it", "op", o.String(), "err", err)
	}
	return r.enqueue(o)
}

// permanent reports whether retrying err cannot help.
func permanent(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)
}

func (r *Retrying) apply(ctx context.Context, o op) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.AttemptTimeout)
	defer cancel()
	switch o.Kind {
	case opRegister:
		return r.w.Register(ctx, *o.Model)
	case opPromote:
		_, err := r.w.Promote(ctx, o.Version, o.By, o.Reason)
		return err
	case opDrift:
		_, err := r.w.SaveDriftReport(ctx, *o.Report)
		return err
	}
	return fmt.Errorf("%w: unknown queued write %q", ErrInvalid, o.Kind)
}

func (r *Retrying) enqueue(o op) error {
	r.mu.Lock()
	if len(r.queue) >= r.cfg.QueueSize {
		r.mu.Unlock()
		return fmt.Errorf("%s: %w (%d writes waiting)", o, ErrQueueFull, r.cfg.QueueSize)
	}
	first := len(r.queue) == 0
	r.queue = append(r.queue, o)
	r.changedLocked()
	r.mu.Unlock()
	if first {
		r.log.Warn("registry degraded: writes are queued until the database answers")
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// changedLocked publishes a queue change: gauge, spool, waiters.
func (r *Retrying) changedLocked() {
	r.degraded.Set(boolGauge(len(r.queue) > 0))
	if r.cfg.SpoolPath != "" {
		if err := r.spoolLocked(); err != nil {
			r.log.Error("registry spool write failed; queue kept in memory", "err", err)
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Retrying) spoolLocked() error {
	if len(r.queue) == 0 {
		if err := os.Remove(r.cfg.SpoolPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove spool: %w", err)
		}
		return nil
	}
	b, err := json.Marshal(r.queue)
	if err != nil {
		return fmt.Errorf("encode spool: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(r.cfg.SpoolPath), 0o755); err != nil {
		return fmt.Errorf("create spool directory: %w", err)
	}
	tmp := r.cfg.SpoolPath + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("create spool: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync spool: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	if err := os.Rename(tmp, r.cfg.SpoolPath); err != nil {
		return fmt.Errorf("rename spool: %w", err)
	}
	return nil
}

func (r *Retrying) head() (op, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queue) == 0 {
		return op{}, false
	}
	return r.queue[0], true
}

func (r *Retrying) pop() (left int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queue = r.queue[1:]
	r.changedLocked()
	return len(r.queue)
}

// Run retries queued writes, oldest first, until ctx is done; then it
// returns nil, leaving what is still queued in the spool (if any) for the
// next run.
func (r *Retrying) Run(ctx context.Context) error {
	backoff := r.cfg.MinBackoff
	for {
		o, ok := r.head()
		if !ok {
			select {
			case <-ctx.Done():
				return nil
			case <-r.wake:
				continue
			}
		}
		err := r.apply(ctx, o)
		if err == nil || permanent(err) {
			if err != nil {
				r.log.Error("queued registry write refused, dropping it", "op", o.String(), "err", err)
			}
			if r.pop() == 0 {
				r.log.Info("registry recovered: queue drained")
			}
			backoff = r.cfg.MinBackoff
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		r.log.Warn("registry still unavailable", "op", o.String(), "pending", r.Pending(), "retry_in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, r.cfg.MaxBackoff)
	}
}

// Flush waits until the queue is empty or ctx is done.
func (r *Retrying) Flush(ctx context.Context) error {
	for {
		r.mu.Lock()
		n, ch := len(r.queue), r.changed
		r.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush registry queue (%d writes waiting): %w", n, ctx.Err())
		case <-ch:
		}
	}
}
