// Package modelbus is the NATS side of the model contract: snapshots in the
// JetStream object store SWIPEFLIX_MODELS, the serving manifest under key
// `current` of the KV bucket SWIPEFLIX_REGISTRY, announcements on
// swipeflix.model.updated, incremental deltas on swipeflix.model.delta, and
// the drift-report and retrain-request subjects.
package modelbus

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bucket, key and subject names of the contract (DESIGN.md).
const (
	ModelsBucket   = "SWIPEFLIX_MODELS"
	RegistryBucket = "SWIPEFLIX_REGISTRY"
	CurrentKey     = "current"

	SubjectModelUpdated = "swipeflix.model.updated"
	SubjectModelDelta   = "swipeflix.model.delta"
	SubjectDriftReport  = "swipeflix.drift.report"
	SubjectRetrain      = "swipeflix.trainer.retrain"
)

// HeaderModelVersion carries, on a delta message, the snapshot version the
// delta applies to.
const HeaderModelVersion = "Swipeflix-Model-Version"

// Errors a caller can test for.
var (
	// ErrChecksum means a fetched snapshot's size or sha256 does not match
	// its manifest.
	ErrChecksum = errors.New("snapshot checksum mismatch")
	// ErrNoModel means no manifest has been published yet.
	ErrNoModel = errors.New("no model published")
)

// Bus talks to one NATS server or cluster.
type Bus struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	ownConn bool
	objs    jetstream.ObjectStore
	kv      jetstream.KeyValue
	log     *slog.Logger
}

// Connect dials url and opens the buckets (creating them when missing). The
// connection belongs to the Bus: Close closes it.
func Connect(ctx context.Context, url string, log *slog.Logger) (*Bus, error) {
	nc, err := nats.Connect(url, nats.Name("swipeflix"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", Redact(url), err)
	}
	b, err := New(ctx, nc, log)
	if err != nil {
		nc.Close()
		return nil, err
	}
	b.ownConn = true
	return b, nil
}

// Redact hides the passwords of a NATS URL list ("nats://user:secret@host"),
// for logs, errors and the endpoints file.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := neturl.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// New opens the buckets on an existing connection, creating them when
// missing. The caller keeps ownership of nc.
func New(ctx context.Context, nc *nats.Conn, log *slog.Logger) (*Bus, error) {
	return newBus(ctx, nc, log)
}

// newBus is New with options for the JetStream context (tests shorten its
// default timeout).
func newBus(ctx context.Context, nc *nats.Conn, log *slog.Logger, opts ...jetstream.JetStreamOpt) (*Bus, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		return nil, fmt.Errorf("jetstream context: %w", err)
	}
	objs, err := openObjectStore(ctx, js, jetstream.ObjectStoreConfig{
		Bucket:      ModelsBucket,
		Description: "SwipeFlix model snapshots, one object per version",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", ModelsBucket, err)
	}
	kv, err := openKeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      RegistryBucket,
		Description: "SwipeFlix serving manifest (key current)",
		History:     16,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open kv bucket %s: %w", RegistryBucket, err)
	}
	return &Bus{nc: nc, js: js, objs: objs, kv: kv, log: log}, nil
}

// openKeyValue opens a bucket, creating it when missing. It never updates
// an existing bucket's configuration, so a reader needs only the
// permissions to look a stream up (and to create it if it comes first),
// never to change or delete one: see deploy/nats/nats.conf.
func openKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return kv, err
	}
	kv, err = js.CreateKeyValue(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.KeyValue(ctx, cfg.Bucket) // another process created it first
	}
	return kv, err
}

// openObjectStore is openKeyValue for an object store.
func openObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	objs, err := js.ObjectStore(ctx, cfg.Bucket)
	if !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return objs, err
	}
	objs, err = js.CreateObjectStore(ctx, cfg)
	if errors.Is(err, jetstream.ErrBucketExists) || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.ObjectStore(ctx, cfg.Bucket)
	}
	return objs, err
}

// Conn is the underlying connection, for other subjects.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Close drains and closes the connection when the Bus opened it.
func (b *Bus) Close() {
	if b.ownConn {
		b.nc.Close()
	}
}

// ObjectName is the default object name of a snapshot version.
func ObjectName(version int64) string { return "model-" + strconv.FormatInt(version, 10) }

// Publish stores snapshot in the object store, makes m the current model
// and announces it on swipeflix.model.updated. It fills in m's Object (when
// empty), SHA256 and Size from the snapshot and returns the manifest as
// published.
func (b *Bus) Publish(ctx context.Context, m Manifest, snapshot []byte) (Manifest, error) {
	m, err := b.Store(ctx, m, snapshot)
	if err != nil {
		return Manifest{}, fmt.Errorf("publish model: %w", err)
	}
	if err := b.SetCurrent(ctx, m); err != nil {
		return Manifest{}, fmt.Errorf("publish model %d: %w", m.Version, err)
	}
	return m, nil
}

// Store puts a snapshot into the object store without making it current
// (a candidate the quality gate rejected, which can still be promoted
// later). It fills in the manifest's object name when empty, its sha256 and
// its size, and returns it.
func (b *Bus) Store(ctx context.Context, m Manifest, snapshot []byte) (Manifest, error) {
	m, err := Describe(m, snapshot)
	if err != nil {
		return Manifest{}, fmt.Errorf("store model: %w", err)
	}
	if _, err := b.objs.PutBytes(ctx, m.Object, snapshot); err != nil {
		return Manifest{}, fmt.Errorf("store model %d: put object %s: %w", m.Version, m.Object, err)
	}
	return m, nil
}

// Describe fills in m's object name (when empty), sha256 and size from
// snapshot and validates the result.
func Describe(m Manifest, snapshot []byte) (Manifest, error) {
	if m.Object == "" {
		m.Object = ObjectName(m.Version)
	}
	sum := sha256.Sum256(snapshot)
	m.SHA256 = hex.EncodeToString(sum[:])
	m.Size = int64(len(snapshot))
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// SetCurrent makes m the serving model (a rollback when m is older) and
// announces it on swipeflix.model.updated. The snapshot must already be in
// the object store.
func (b *Bus) SetCurrent(ctx context.Context, m Manifest) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("set current: %w", err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("set current: encode manifest %d: %w", m.Version, err)
	}
	if _, err := b.kv.Put(ctx, CurrentKey, data); err != nil {
		return fmt.Errorf("set current to %d: kv put: %w", m.Version, err)
	}
	if err := b.nc.Publish(SubjectModelUpdated, data); err != nil {
		return fmt.Errorf("set current to %d: announce: %w", m.Version, err)
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("set current to %d: flush: %w", m.Version, err)
	}
	return nil
}

// Current returns the serving manifest, or ErrNoModel.
func (b *Bus) Current(ctx context.Context) (Manifest, error) {
	e, err := b.kv.Get(ctx, CurrentKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Manifest{}, ErrNoModel
	}
	if err != nil {
		return Manifest{}, fmt.Errorf("get current manifest: %w", err)
	}
	m, err := DecodeManifest(e.Value())
	if err != nil {
		return Manifest{}, fmt.Errorf("get current manifest (revision %d): %w", e.Revision(), err)
	}
	return m, nil
}

// Fetch downloads m's snapshot and checks its size and sha256 against the
// manifest (ErrChecksum on mismatch).
func (b *Bus) Fetch(ctx context.Context, m Manifest) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		// Without a deadline, jetstream bounds the whole download by its
		// default request timeout (5 s), which a snapshot of a few hundred
		// MiB on a busy machine exceeds: at 25M ratings the api failed
		// twice on a 257 MiB snapshot and took 25 s to swap.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, FetchTimeout(m.Size))
		defer cancel()
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("fetch model %d: %w", m.Version, err)
	}
	obj, err := b.objs.Get(ctx, m.Object)
	if err != nil {
		return nil, fmt.Errorf("fetch model %d: get object %s: %w", m.Version, m.Object, err)
	}
	defer obj.Close()
	// The object store hashes the chunks as they arrive and, at the end,
	// checks them against the digest stored with the object: that digest
	// must be the manifest's, and the snapshot is then hashed once, not
	// twice (a quarter of a second of a core at 257 MiB).
	info, err := obj.Info()
	if err != nil {
		return nil, fmt.Errorf("fetch model %d: object %s: %w", m.Version, m.Object, err)
	}
	want, _ := hex.DecodeString(m.SHA256)
	if got, err := jetstream.DecodeObjectDigest(info.Digest); err != nil || !bytes.Equal(got, want) {
		return nil, fmt.Errorf("fetch model %d: %w: object %s has digest %q, manifest says sha256 %s",
			m.Version, ErrChecksum, m.Object, info.Digest, m.SHA256)
	}
	data, err := readSnapshot(obj, m.Size)
	if err != nil {
		return nil, fmt.Errorf("fetch model %d: %w", m.Version, err)
	}
	return data, nil
}

// readStep is how much readSnapshot reads at a time.
const readStep = 1 << 20

// readSnapshot reads a snapshot of size bytes into one buffer of that size
// (a growing buffer doubled it at the peak, 512 MiB for 257 MiB, and copied
// it as it grew) and then to the end of r, where the object store checks
// its digest: a longer or shorter object, or other bytes, are ErrChecksum.
func readSnapshot(r io.Reader, size int64) ([]byte, error) {
	data := make([]byte, size)
	for off := 0; off < len(data); {
		n, err := io.ReadFull(r, data[off:min(off+readStep, len(data))])
		off += n
		if err != nil {
			return nil, snapshotReadError(err, fmt.Sprintf("size %d, manifest says %d", off, size))
		}
	}
	var extra [1]byte
	if n, err := io.ReadFull(r, extra[:]); n > 0 {
		return nil, fmt.Errorf("%w: longer than the manifest's %d bytes", ErrChecksum, size)
	} else if !errors.Is(err, io.EOF) {
		return nil, snapshotReadError(err, "")
	}
	return data, nil
}

// snapshotReadError names a short read or a digest the bytes do not match
// as ErrChecksum; other errors (the network's) pass through.
func snapshotReadError(err error, short string) error {
	switch {
	case errors.Is(err, jetstream.ErrDigestMismatch):
		return fmt.Errorf("%w: the bytes do not match the object's digest", ErrChecksum)
	case short != "" && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return fmt.Errorf("%w: %s", ErrChecksum, short)
	}
	return err
}

// FetchTimeout bounds the download of a snapshot of size bytes when the
// caller's context has no deadline: 30 s plus a second per 4 MiB, so that a
// stalled server is noticed while a large snapshot has time to arrive.
func FetchTimeout(size int64) time.Duration {
	return 30*time.Second + time.Duration(size/(4<<20))*time.Second
}

// Watch calls fn with the current manifest, if there is one, and then with
// every new value of `current` (new versions and rollbacks alike), until ctx
// ends. Because it reads the KV bucket, a watcher that starts late or
// reconnects still sees the truth. fn runs on one goroutine, in order. A
// value that does not decode is logged and skipped. Watch blocks; it
// returns nil when ctx ends.
func (b *Bus) Watch(ctx context.Context, fn func(Manifest)) error {
	w, err := b.kv.Watch(ctx, CurrentKey)
	if err != nil {
		return fmt.Errorf("watch %s.%s: %w", RegistryBucket, CurrentKey, err)
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch %s.%s: updates closed", RegistryBucket, CurrentKey)
			}
			// nil marks the end of the initial values.
			if e == nil || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			m, err := DecodeManifest(e.Value())
			if err != nil {
				b.log.Warn("skip undecodable manifest", "revision", e.Revision(), "err", err)
				continue
			}
			fn(m)
		}
	}
}

// SubscribeUpdates calls fn for each manifest announced on
// swipeflix.model.updated from now on, until ctx ends. Unlike Watch it sees
// nothing published before it subscribed.
func (b *Bus) SubscribeUpdates(ctx context.Context, fn func(Manifest)) error {
	return b.subscribe(ctx, SubjectModelUpdated, func(msg *nats.Msg) {
		m, err := DecodeManifest(msg.Data)
		if err != nil {
			b.log.Warn("skip undecodable manifest", "subject", msg.Subject, "err", err)
			return
		}
		fn(m)
	})
}

// PublishDelta sends an incremental update for snapshot version on
// swipeflix.model.delta. The payload's format belongs to the model package;
// it must stay under the server's max payload (1 MiB by default).
func (b *Bus) PublishDelta(ctx context.Context, version int64, payload []byte) error {
	msg := nats.NewMsg(SubjectModelDelta)
	msg.Header.Set(HeaderModelVersion, strconv.FormatInt(version, 10))
	msg.Data = payload
	if err := b.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("publish delta for model %d: %w", version, err)
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("publish delta for model %d: flush: %w", version, err)
	}
	return nil
}

// SubscribeDeltas calls fn for each delta until ctx ends; fn runs on one
// goroutine, in arrival order. Deltas without a valid version header are
// logged and skipped.
func (b *Bus) SubscribeDeltas(ctx context.Context, fn func(version int64, payload []byte)) error {
	return b.subscribe(ctx, SubjectModelDelta, func(msg *nats.Msg) {
		v, err := strconv.ParseInt(msg.Header.Get(HeaderModelVersion), 10, 64)
		if err != nil {
			b.log.Warn("skip delta without model version", "err", err)
			return
		}
		fn(v, msg.Data)
	})
}

// PublishDriftReport announces a drift report (JSON) on swipeflix.drift.report.
func (b *Bus) PublishDriftReport(ctx context.Context, report []byte) error {
	return b.publish(ctx, SubjectDriftReport, report)
}

// SubscribeDriftReports calls fn with each drift report until ctx ends.
func (b *Bus) SubscribeDriftReports(ctx context.Context, fn func(report []byte)) error {
	return b.subscribe(ctx, SubjectDriftReport, func(msg *nats.Msg) { fn(msg.Data) })
}

func (b *Bus) publish(ctx context.Context, subject string, data []byte) error {
	if err := b.nc.Publish(subject, data); err != nil {
		return fmt.Errorf("publish on %s: %w", subject, err)
	}
	if err := b.flush(ctx); err != nil {
		return fmt.Errorf("publish on %s: flush: %w", subject, err)
	}
	return nil
}

// subscribe runs fn for each message on subject until ctx ends. The
// subscription is in place (flushed to the server) before it blocks, and
// gone when it returns.
func (b *Bus) subscribe(ctx context.Context, subject string, fn nats.MsgHandler) error {
	sub, err := b.nc.Subscribe(subject, fn)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", subject, err)
	}
	defer sub.Unsubscribe() //nolint:errcheck // nothing to do on a failed unsubscribe at shutdown
	if err := b.flush(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("subscribe to %s: flush: %w", subject, err)
	}
	<-ctx.Done()
	return nil
}

// flushTimeout bounds a flush when the caller's context has no deadline
// (nats.go refuses to flush on such a context).
const flushTimeout = 5 * time.Second

// flush waits until the server has processed everything sent so far.
func (b *Bus) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return b.nc.FlushWithContext(ctx)
}
