package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/admin"
	"github.com/swipeflix/swipeflix/pkg/store/storebus"
	"github.com/swipeflix/swipeflix/pkg/store/storetest"
)

const token = "s3cret"

func serve(t testing.TB, cfg admin.Config) *admin.Client {
	t.Helper()
	srv := httptest.NewServer(admin.NewHandler(cfg))
	t.Cleanup(srv.Close)
	return &admin.Client{BaseURL: srv.URL, Token: cfg.Token}
}

// TestRollbackRepublishesCurrent runs the registry half of a rollback end to
// end: snapshots published on a real (embedded) NATS JetStream, registered,
// promoted and rolled back through the HTTP admin API; a watcher of the
// `current` key, as every api replica is, sees the rolled-back version and
// can fetch and verify its snapshot.
func TestRollbackRepublishesCurrent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n := embeddedtest.StartTestNATS(t)
	bus, err := modelbus.Connect(ctx, n.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	s := storetest.OpenSQLite(t)
	c := serve(t, admin.Config{Store: s, Token: token, OnChange: storebus.SetCurrent(bus)})

	snaps := map[int64][]byte{}
	for v := int64(1); v <= 2; v++ {
		snaps[v] = []byte(strings.Repeat(fmt.Sprintf("snapshot %d ", v), 1000))
		m, err := bus.Publish(ctx, modelbus.Manifest{
			Version: v, CreatedAt: time.Date(2026, 11, 27, 12, int(v), 0, 0, time.UTC),
			Metrics: map[string]float64{"rmse": 0.9 - float64(v)/100}, Offsets: map[int32]int64{0: 100 * v},
			Params: map[string]string{"factors": "32"}, DatasetHash: "h",
		}, snaps[v])
		if err != nil {
			t.Fatal(err)
		}
		rec, err := storebus.Record(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Register(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Promote(ctx, v, "trainer", "gate passed"); err != nil {
			t.Fatal(err)
		}
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	seen := make(chan modelbus.Manifest, 16)
	done := make(chan error, 1)
	go func() { done <- bus.Watch(watchCtx, func(m modelbus.Manifest) { seen <- m }) }()
	defer func() {
		stopWatch()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	}()
	if m := <-seen; m.Version != 2 {
		t.Fatalf("watcher starts on %d, want 2", m.Version)
	}

	back, err := c.Rollback(ctx, "alice", "v2 recommends only horror")
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != 1 || back.Stage != store.StageProduction || back.PromotedBy != "alice" {
		t.Fatalf("rollback returned %+v", back)
	}
	var m modelbus.Manifest
	select {
	case m = <-seen:
	case <-ctx.Done():
		t.Fatal("watcher never saw the rollback")
	}
	if m.Version != 1 {
		t.Fatalf("watcher saw %d after the rollback, want 1", m.Version)
	}
	data, err := bus.Fetch(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, snaps[1]) {
		t.Error("fetched snapshot is not version 1's")
	}
	if m.Offsets[0] != 100 || m.Params["factors"] != "32" || m.Metrics["rmse"] != 0.89 {
		t.Errorf("republished manifest lost fields: %+v", m)
	}
	cur, err := c.Current(ctx)
	if err != nil || cur.Version != 1 {
		t.Errorf("registry current = %d, %v; want 1", cur.Version, err)
	}
	if st, err := c.Get(ctx, 2); err != nil || st.Stage != store.StageArchived {
		t.Errorf("model 2 = %+v, %v; want archived", st, err)
	}
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	s := storeWith(t, 1)
	c := serve(t, admin.Config{Store: s, Token: token})
	for _, tok := range []string{"", "wrong"} {
		bad := *c
		bad.Token = tok
		if _, err := bad.Promote(ctx, 1, "mallory", ""); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("token %q: %v, want HTTP 401", tok, err)
		}
	}
	// Reads need no token.
	anon := *c
	anon.Token = ""
	if _, err := anon.Get(ctx, 1); err != nil {
		t.Errorf("read without token: %v", err)
	}
	open := serve(t, admin.Config{Store: s})
	if _, err := open.Rollback(ctx, "x", ""); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("no token configured: %v, want HTTP 403", err)
	}
	if cur, err := s.Current(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unauthorised call changed the registry: %+v", cur)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	s := storeWith(t, 1)
	c := serve(t, admin.Config{Store: s, Token: token})
	if _, err := c.Promote(ctx, 9, "alice", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("promote missing: %v, want ErrNotFound", err)
	}
	if _, err := c.Rollback(ctx, "alice", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rollback with nothing in production: %v, want ErrNotFound", err)
	}
	if _, err := c.Promote(ctx, 1, "", ""); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "by") {
		t.Errorf("promote without by: %v, want ErrInvalid naming by", err)
	}
	if _, err := c.List(ctx, "staging", 0); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "stage") {
		t.Errorf("list unknown stage: %v, want ErrInvalid naming stage", err)
	}
	tests := []struct {
		method, path, body string
		status             int
		mention            string
	}{
		{"GET", "/v1/models/abc", "", 400, "version"},
		{"GET", "/v1/models/0", "", 400, "version"},
		{"GET", "/v1/models?limit=-3", "", 400, "limit"},
		{"GET", "/v1/models/9/history", "", 404, "model 9"},
		{"POST", "/v1/models/1/promote", `{"by":"a","reasn":"typo"}`, 400, "reasn"},
		{"POST", "/v1/models/1/promote", `not json`, 400, "body"},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, c.BaseURL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(buf.String(), tc.mention) {
			t.Errorf("%s %s: %d %s, want %d mentioning %q", tc.method, tc.path, resp.StatusCode, buf.String(), tc.status, tc.mention)
		}
	}
}

func TestListAndHistory(t *testing.T) {
	ctx := context.Background()
	s := storeWith(t, 3)
	c := serve(t, admin.Config{Store: s, Token: token})
	if _, err := c.Promote(ctx, 2, "alice", "best ndcg"); err != nil {
		t.Fatal(err)
	}
	all, err := c.List(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var vs []int64
	for _, m := range all {
		vs = append(vs, m.Version)
	}
	if !reflect.DeepEqual(vs, []int64{3, 2, 1}) {
		t.Errorf("list = %v, want [3 2 1]", vs)
	}
	cands, err := c.List(ctx, store.StageCandidate, 1)
	if err != nil || len(cands) != 1 || cands[0].Version != 3 {
		t.Errorf("newest candidate = %+v, %v", cands, err)
	}
	h, err := c.History(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[1].To != store.StageProduction || h[1].Actor != "alice" || h[1].Reason != "best ndcg" {
		t.Errorf("history = %+v", h)
	}
	// Records survive the JSON round trip the client makes.
	got, err := c.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.Get(ctx, 1)
	if !reflect.DeepEqual(got.KafkaOffsets, want.KafkaOffsets) || !got.CreatedAt.Equal(want.CreatedAt) || got.SHA256 != want.SHA256 {
		t.Errorf("client got %+v, store has %+v", got, want)
	}
}

func TestPublishFailureReported(t *testing.T) {
	ctx := context.Background()
	s := storeWith(t, 1)
	c := serve(t, admin.Config{Store: s, Token: token, OnChange: func(context.Context, store.ModelRecord) error {
		return errors.New("nats: no servers available")
	}})
	m, err := c.Promote(ctx, 1, "alice", "")
	if !errors.Is(err, admin.ErrPublish) || !strings.Contains(err.Error(), "no servers") {
		t.Errorf("promote with failing publish: %v, want ErrPublish with the cause", err)
	}
	if m.Version != 1 || m.Stage != store.StageProduction {
		t.Errorf("the response must still carry the new production model, got %+v", m)
	}
}

// storeWith opens a SQLite store holding the models storetest.Record makes
// for versions 1 to n.
func storeWith(t *testing.T, n int64) *store.Store {
	t.Helper()
	s := storetest.OpenSQLite(t)
	for v := int64(1); v <= n; v++ {
		if err := s.Register(context.Background(), storetest.Record(v)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}
