package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// TestRollbackSwapsTheAPIBack runs the trainer and the api in one process,
// gets two model versions served, rolls back through the trainer's admin
// route and checks that the api swaps back to the version the registry
// returned to, without restarting anything.
func TestRollbackSwapsTheAPIBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	syn := dataset.Generate(dataset.SynthConfig{Seed: 4, Users: 80, Movies: 120, Ratings: 4000, MinPerUser: 20})
	if err := syn.WriteDir(dir, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	const token = "rollback-test-token"
	s := startStack(ctx, t, map[string]string{"SWIPEFLIX_ADMIN_TOKEN": token},
		"-target=trainer,api,ingest", "-starter", dir)

	served := func() int64 {
		a, err := s.predict(ctx, "1")
		if err != nil {
			return 0
		}
		var v int64
		fmt.Sscanf(a.ModelVersion, "v%d", &v)
		return v
	}
	var first int64
	waitUntil(ctx, t, "a first model on /predict", func() bool { first = served(); return first > 0 })

	// New events, so that the refit asked for below has something to cover
	// (a refit of the events the serving model covers publishes nothing).
	var lines []string
	for u := range 5 {
		for m := range 10 {
			lines = append(lines, fmt.Sprintf(`{"event_id":"rb-%d-%d","user_id":"rb-%d","movie_id":%q,"rating":4,"ts":%q}`,
				u, m, u, syn.Catalog[m].ID, time.Now().UTC().Format(time.RFC3339)))
		}
	}
	if err := s.postSwipesTo(ctx, "/v1/ratings", strings.Join(lines, "\n")); err != nil {
		t.Fatal(err)
	}
	want := float64(len(syn.Ratings()) + len(lines))
	waitUntil(ctx, t, "the trainer to apply the new events", func() bool {
		got, err := s.metric(ctx, s.trainer, "swipeflix_trainer_events_total")
		return err == nil && got >= want
	})

	admin := func(path, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.trainer+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := admin("/v1/retrain?reason=rollback-test", "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retrain: status %d", resp.StatusCode)
	}
	var newer int64
	waitUntil(ctx, t, "a newer model on /predict", func() bool { newer = served(); return newer > first })

	// Wait until the registry shows the newer version in production, then
	// roll back: the registry names the version it returned to.
	waitUntil(ctx, t, "the newer model in production", func() bool {
		r, err := s.client.Get("http://" + s.trainer + "/v1/models/current")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var cur struct {
			Version int64 `json:"version"`
		}
		return json.NewDecoder(r.Body).Decode(&cur) == nil && cur.Version >= newer
	})
	resp = admin("/v1/models/rollback", `{"by":"test","reason":"check the api swaps back"}`)
	defer resp.Body.Close()
	var change struct {
		Model struct {
			Version int64 `json:"version"`
		} `json:"model"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("rollback: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&change); err != nil {
		t.Fatal(err)
	}
	back := change.Model
	if back.Version <= 0 || back.Version >= newer {
		t.Fatalf("rolled back to v%d, want an older version than v%d", back.Version, newer)
	}
	waitUntil(ctx, t, fmt.Sprintf("the api back on v%d", back.Version), func() bool { return served() == back.Version })

	// Unauthenticated admin calls are refused.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.trainer+"/v1/models/rollback", strings.NewReader(`{}`))
	r, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized && r.StatusCode != http.StatusForbidden {
		t.Errorf("rollback without a token: status %d", r.StatusCode)
	}
}
