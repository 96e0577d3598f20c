package modelbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

func setup(t *testing.T) (context.Context, *modelbus.Bus, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	n := embeddedtest.StartTestNATS(t)
	b, err := modelbus.Connect(ctx, n.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return ctx, b, n.URL()
}

func manifest(v int64) modelbus.Manifest {
	return modelbus.Manifest{
		Version:   v,
		CreatedAt: time.Date(2026, 11, 27, 12, 0, int(v), 0, time.UTC),
		Metrics:   map[string]float64{"rmse": 0.9},
		Offsets:   map[int32]int64{0: 10 * v, 2: 7},
		Params:    map[string]string{"factors": "32"},
	}
}

func TestPublishCurrentFetch(t *testing.T) {
	ctx, b, _ := setup(t)
	if _, err := b.Current(ctx); !errors.Is(err, modelbus.ErrNoModel) {
		t.Fatalf("Current before any publish: %v, want ErrNoModel", err)
	}
	snap := []byte(strings.Repeat("snapshot bytes ", 100000)) // > 1 MiB: chunked
	pub, err := b.Publish(ctx, manifest(1), snap)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Object != "model-1" || pub.Size != int64(len(snap)) || len(pub.SHA256) != 64 {
		t.Fatalf("published manifest %+v lacks object, size or sha256", pub)
	}
	cur, err := b.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Version != 1 || cur.SHA256 != pub.SHA256 || cur.Offsets[0] != 10 || cur.Offsets[2] != 7 ||
		!cur.CreatedAt.Equal(pub.CreatedAt) || cur.Params["factors"] != "32" {
		t.Fatalf("Current = %+v, want %+v", cur, pub)
	}
	got, err := b.Fetch(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(snap) {
		t.Fatal("fetched snapshot differs from the published one")
	}
	// One buffer of the snapshot's size: a growing buffer held up to twice
	// the snapshot at the api's swap (512 MiB for a 257 MiB snapshot).
	if cap(got) != len(snap) {
		t.Fatalf("fetched into a buffer of %d bytes for a %d-byte snapshot", cap(got), len(snap))
	}
}

func TestFetchChecksum(t *testing.T) {
	ctx, b, _ := setup(t)
	pub, err := b.Publish(ctx, manifest(3), []byte("the real snapshot"))
	if err != nil {
		t.Fatal(err)
	}
	badSum := pub
	badSum.SHA256 = strings.Repeat("0", 64)
	longer, shorter := pub, pub
	longer.Size++
	shorter.Size--
	for name, m := range map[string]modelbus.Manifest{"sha256": badSum, "size above the object's": longer,
		"size below the object's": shorter} {
		if _, err := b.Fetch(ctx, m); !errors.Is(err, modelbus.ErrChecksum) {
			t.Errorf("Fetch with wrong %s: %v, want ErrChecksum", name, err)
		}
	}
	huge := pub
	huge.Size = modelbus.MaxSnapshotBytes + 1
	if _, err := b.Fetch(ctx, huge); !errors.Is(err, modelbus.ErrBadManifest) {
		t.Errorf("Fetch with a size over the bound: %v, want ErrBadManifest", err)
	}
}

func TestWatchLateReaderAndRollback(t *testing.T) {
	ctx, b, _ := setup(t)
	v1, err := b.Publish(ctx, manifest(1), []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan int64, 10)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- b.Watch(wctx, func(m modelbus.Manifest) { seen <- m.Version }) }()

	expect := func(want int64) {
		t.Helper()
		select {
		case v := <-seen:
			if v != want {
				t.Fatalf("watch saw version %d, want %d", v, want)
			}
		case <-ctx.Done():
			t.Fatalf("watch did not see version %d", want)
		}
	}
	expect(1) // published before the watch started
	if _, err := b.Publish(ctx, manifest(2), []byte("two")); err != nil {
		t.Fatal(err)
	}
	expect(2)
	if err := b.SetCurrent(ctx, v1); err != nil {
		t.Fatal(err)
	}
	expect(1) // rollback
	if cur, err := b.Current(ctx); err != nil || cur.Version != 1 {
		t.Fatalf("Current after rollback = %d, %v; want 1", cur.Version, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Watch returned %v after cancel, want nil", err)
	}
}

// A plain NATS subscriber (what `nats sub swipeflix.model.updated` does)
// sees each manifest as snake_case JSON.
func TestModelUpdatedOnCoreSubject(t *testing.T) {
	ctx, b, url := setup(t)
	nc := embeddedtest.Connect(t, url)
	sub, err := nc.SubscribeSync(modelbus.SubjectModelUpdated)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(ctx, manifest(4), []byte("four")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(msg.Data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "object", "sha256", "size", "created_at", "metrics", "offsets", "params"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("announced manifest lacks %q: %s", k, msg.Data)
		}
	}
}

// subscribeUntil runs sub in a goroutine and publishes with pub until the
// subscriber has seen something: a subscription only sees what is sent after
// it is in place.
func subscribeUntil[T any](ctx context.Context, t *testing.T, sub func(context.Context, chan<- T) error, pub func() error) T {
	t.Helper()
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	got := make(chan T, 100)
	go sub(sctx, got) //nolint:errcheck // returns nil on cancel
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := pub(); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			return v
		case <-ctx.Done():
			t.Fatal("subscriber saw nothing")
		case <-tick.C:
		}
	}
}

func TestDeltas(t *testing.T) {
	ctx, b, _ := setup(t)
	type delta struct {
		v int64
		p string
	}
	got := subscribeUntil(ctx, t, func(ctx context.Context, out chan<- delta) error {
		return b.SubscribeDeltas(ctx, func(v int64, p []byte) { out <- delta{v, string(p)} })
	}, func() error { return b.PublishDelta(ctx, 7, []byte("user u1 moved")) })
	if got.v != 7 || got.p != "user u1 moved" {
		t.Fatalf("delta = %+v", got)
	}
}

func TestRetrainAndDriftSubjects(t *testing.T) {
	ctx, b, _ := setup(t)
	req := subscribeUntil(ctx, t, func(ctx context.Context, out chan<- modelbus.RetrainRequest) error {
		return b.SubscribeRetrain(ctx, func(r modelbus.RetrainRequest, err error) {
			if err == nil {
				out <- r
			}
		})
	}, func() error {
		return b.RequestRetrain(ctx, modelbus.RetrainRequest{Reason: "manual", Requester: "test", Token: "t0k"})
	})
	if req.Reason != "manual" || req.Requester != "test" || req.Authorize("t0k") != nil {
		t.Fatalf("retrain request %+v", req)
	}
	if err := req.Authorize("other"); !errors.Is(err, modelbus.ErrRetrainRefused) {
		t.Errorf("wrong token: %v", err)
	}
	report := subscribeUntil(ctx, t, func(ctx context.Context, out chan<- string) error {
		return b.SubscribeDriftReports(ctx, func(r []byte) { out <- string(r) })
	}, func() error { return b.PublishDriftReport(ctx, []byte(`{"score":0.2}`)) })
	if report != `{"score":0.2}` {
		t.Fatalf("drift report %q", report)
	}
}

func TestDecodeManifestNamesField(t *testing.T) {
	good := `"object":"model-1","sha256":"` + strings.Repeat("ab", 32) + `","size":3`
	for _, tc := range []struct{ in, field string }{
		{`{"version":0,` + good + `}`, "version"},
		{`{"version":1,"object":"","sha256":"` + strings.Repeat("ab", 32) + `"}`, "object"},
		{`{"version":1,"object":"o","sha256":"xyz"}`, "sha256"},
		{`{"version":"one"}`, "version"},
	} {
		_, err := modelbus.DecodeManifest([]byte(tc.in))
		if !errors.Is(err, modelbus.ErrBadManifest) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("DecodeManifest(%s) = %v, want ErrBadManifest naming %s", tc.in, err, tc.field)
		}
	}
	if _, err := modelbus.DecodeManifest([]byte(`{"version":1,` + good + `}`)); err != nil {
		t.Errorf("valid manifest: %v", err)
	}
}

// Callers without a deadline (a CLI's signal context) work too: nats.go
// refuses to flush on such a context unless the bus bounds it.
func TestNoDeadlineContext(t *testing.T) {
	testCtx, b, _ := setup(t)
	ctx := context.Background()
	if _, err := b.Publish(ctx, manifest(1), []byte("x")); err != nil {
		t.Fatalf("publish without a deadline: %v", err)
	}
	if err := b.PublishDelta(ctx, 1, []byte("d")); err != nil {
		t.Fatalf("delta without a deadline: %v", err)
	}
	sctx, stop := context.WithCancel(ctx)
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- b.SubscribeRetrain(sctx, func(r modelbus.RetrainRequest, _ error) { got <- r.Reason })
	}()
	for seen := false; !seen; {
		if err := b.RequestRetrain(ctx, modelbus.RetrainRequest{Reason: "no deadline"}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			seen = true
		case err := <-done:
			t.Fatalf("subscribe without a deadline returned early: %v", err)
		case <-testCtx.Done():
			t.Fatal("subscriber saw nothing")
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("subscribe after cancel: %v", err)
	}
}

func TestSubscribeUpdates(t *testing.T) {
	ctx, b, _ := setup(t)
	v := int64(0)
	got := subscribeUntil(ctx, t, func(ctx context.Context, out chan<- int64) error {
		return b.SubscribeUpdates(ctx, func(m modelbus.Manifest) { out <- m.Version })
	}, func() error {
		v++
		_, err := b.Publish(ctx, manifest(v), []byte("snap"))
		return err
	})
	if got < 1 || got > v {
		t.Fatalf("SubscribeUpdates saw version %d, published 1..%d", got, v)
	}
	if err := b.SetCurrent(ctx, modelbus.Manifest{Version: 1}); !errors.Is(err, modelbus.ErrBadManifest) {
		t.Fatalf("SetCurrent with an incomplete manifest: %v, want ErrBadManifest", err)
	}
}

func TestNewOnCallersConnection(t *testing.T) {
	ctx, _, url := setup(t)
	nc := embeddedtest.Connect(t, url)
	b, err := modelbus.New(ctx, nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Conn() != nc {
		t.Fatal("Conn is not the caller's connection")
	}
	b.Close()
	if nc.IsClosed() {
		t.Fatal("Close closed a connection the Bus does not own")
	}
}

func TestDecodeRetrainRequest(t *testing.T) {
	r, err := modelbus.DecodeRetrainRequest([]byte("  by hand \n"))
	if err != nil || r.Reason != "by hand" || r.Token != "" {
		t.Errorf("plain text: %+v, %v", r, err)
	}
	if err := r.Authorize("secret"); !errors.Is(err, modelbus.ErrRetrainRefused) {
		t.Errorf("a plain-text request passed a token check: %v", err)
	}
	if err := r.Authorize(""); err != nil {
		t.Errorf("no token configured: %v", err)
	}
	if _, err := modelbus.DecodeRetrainRequest([]byte(`{"reason": 7}`)); err == nil {
		t.Error("a malformed JSON request decoded")
	}
}

// A snapshot larger than JetStream's default request timeout can carry
// still downloads: Fetch gives the download a deadline of its own, scaled
// by the snapshot's size (the api at 25M ratings failed twice on a 257 MiB
// snapshot under the 5 s default).
func TestFetchOutlastsTheRequestTimeout(t *testing.T) {
	ctx, b, url := setup(t)
	snapshot := bytes.Repeat([]byte("swipeflix snapshot bytes "), 2<<20) // 50 MiB
	m, err := b.Publish(ctx, manifest(1), snapshot)
	if err != nil {
		t.Fatal(err)
	}
	short, err := modelbus.NewWithRequestTimeout(ctx, embeddedtest.Connect(t, url), nil, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	got, err := short.Fetch(context.Background(), m)
	if err != nil {
		t.Fatalf("fetch %d bytes with a 20 ms request timeout: %v", len(snapshot), err)
	}
	if !bytes.Equal(got, snapshot) {
		t.Fatalf("fetched %d bytes, published %d", len(got), len(snapshot))
	}
}

// endReader yields data, then err instead of io.EOF (the object store's
// digest check happens at the end of the object).
type endReader struct {
	data []byte
	err  error
}

func (r *endReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadSnapshot(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several read steps
	network := errors.New("connection reset")
	for _, tc := range []struct {
		name string
		r    io.Reader
		size int64
		want error // nil: data read whole
	}{
		{"exact", &endReader{data, io.EOF}, int64(len(data)), nil},
		{"empty", &endReader{nil, io.EOF}, 0, nil},
		{"object shorter than the manifest", &endReader{data, io.EOF}, int64(len(data)) + 1, modelbus.ErrChecksum},
		{"object longer than the manifest", &endReader{data, io.EOF}, int64(len(data)) - 1, modelbus.ErrChecksum},
		{"bytes unlike the object's digest", &endReader{data, jetstream.ErrDigestMismatch}, int64(len(data)), modelbus.ErrChecksum},
		{"network error", &endReader{data[:100], network}, int64(len(data)), network},
	} {
		got, err := modelbus.ReadSnapshot(tc.r, tc.size)
		switch {
		case tc.want == nil && (err != nil || !bytes.Equal(got, data[:tc.size]) || cap(got) != int(tc.size)):
			t.Errorf("%s: %d bytes (cap %d), %v; want the %d bytes in a buffer of their size", tc.name, len(got), cap(got), err, tc.size)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
