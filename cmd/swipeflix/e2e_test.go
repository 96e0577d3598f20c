package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

type prediction struct {
	ModelVersion    string `json:"model_version"`
	ColdStart       bool   `json:"cold_start"`
	Recommendations []struct {
		MovieID string `json:"movie_id"`
	} `json:"recommendations"`
}

func predict(t *testing.T, apiAddr, user string) (prediction, int) {
	t.Helper()
	resp, err := http.Post("http://"+apiAddr+"/predict", "application/json",
		strings.NewReader(fmt.Sprintf(`{"user_id":%q,"top_k":10}`, user)))
	if err != nil {
		return prediction{}, 0
	}
	defer resp.Body.Close()
	var p prediction
	if resp.StatusCode == 200 {
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
			t.Fatalf("predict %s: %v", user, err)
		}
	}
	return p, resp.StatusCode
}

// The whole loop in one process, as `make run` runs it: embedded brokers,
// all four services, a generated dataset loaded through the starter
// (publish) path, a first model served, a brand-new user's swipes posted to
// ingest changing their /predict answer, `watch` seeing the model, and
// garbage on the topic landing in the DLQ with its reason.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: brokers and four services")
	}
	ctx := testCtx(t)
	dir := t.TempDir()
	if err := dataset.Generate(dataset.SizedConfig(8000, 3)).WriteDir(dir, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	apiAddr, ingestAddr := listenAddr(t), listenAddr(t)
	for k, v := range map[string]string{
		"SWIPEFLIX_DATA_DIR": t.TempDir(), "KAFKA_BROKERS": "", "NATS_URL": "", "DATABASE_URL": "",
		"SWIPEFLIX_KAFKA_PORT": "0", "SWIPEFLIX_NATS_PORT": "0", "SWIPEFLIX_INGEST_TOKENS": "",
		"API_ADDR": apiAddr, "INGEST_ADDR": ingestAddr, "TRAINER_ADDR": listenAddr(t), "DRIFT_ADDR": listenAddr(t),
	} {
		t.Setenv(k, v)
	}

	stderr := &embeddedtest.SyncBuffer{}
	stopRun := startMain(ctx, t, []string{"-starter", filepath.Join(dir, "ratings.csv")}, &bytes.Buffer{}, stderr)
	kafkaRE, natsRE := regexp.MustCompile(`embedded kafka: (\S+)`), regexp.MustCompile(`embedded nats: +(\S+)`)
	waitUntil(ctx, t, "broker addresses", func() bool { return kafkaRE.MatchString(stderr.String()) && natsRE.MatchString(stderr.String()) })
	brokers := []string{kafkaRE.FindStringSubmatch(stderr.String())[1]}
	natsURL := natsRE.FindStringSubmatch(stderr.String())[1]

	watchOut := &embeddedtest.SyncBuffer{}
	stopWatch := startMain(ctx, t, []string{"watch", "-nats", natsURL}, watchOut, &bytes.Buffer{})

	// A first model is served.
	var known prediction
	waitUntil(ctx, t, "a served model", func() bool {
		p, code := predict(t, apiAddr, "1")
		known = p
		return code == 200 && p.ModelVersion != ""
	})
	if len(known.Recommendations) == 0 {
		t.Fatalf("no recommendations for a known user: %+v", known)
	}
	waitUntil(ctx, t, "watch printing a model", func() bool { return strings.Contains(watchOut.String(), "model v") })

	// A brand-new user starts cold; their swipes make the answer personal.
	before, _ := predict(t, apiAddr, "e2e-newcomer")
	if !before.ColdStart {
		t.Fatalf("a never-seen user is not a cold start: %+v", before)
	}
	var swipes []string
	for i, m := range known.Recommendations[:3] {
		swipes = append(swipes, fmt.Sprintf(`{"event_id":"e2e-%d","user_id":"e2e-newcomer","movie_id":%q,"swipe":"superlike","ts":"2026-11-27T10:00:00Z"}`, i, m.MovieID))
	}
	resp, err := http.Post("http://"+ingestAddr+"/v1/swipes", "application/x-ndjson", strings.NewReader(strings.Join(swipes, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST /v1/swipes: %d", resp.StatusCode)
	}
	waitUntil(ctx, t, "the newcomer's answer to turn personal", func() bool {
		p, code := predict(t, apiAddr, "e2e-newcomer")
		return code == 200 && !p.ColdStart
	})

	// Garbage on the topic ends up in the DLQ with the reason.
	prod := kafkabus.NewProducer(kafkabus.ProducerConfig{Brokers: brokers})
	defer prod.Close()
	if err := prod.Publish(ctx, []kafkabus.Message{{Key: []byte("junk"), Value: []byte("not an event")}}); err != nil {
		t.Fatal(err)
	}
	dlq := kafkabus.NewGroupReader(brokers, "e2e-dlq", kafkabus.DLQ)
	defer dlq.Close()
	for {
		m, err := dlq.Fetch(ctx)
		if err != nil {
			t.Fatalf("reading the DLQ: %v", err)
		}
		reason := kafkabus.HeaderValue(m, kafkabus.HeaderReason)
		if string(m.Value) == "not an event" && strings.HasPrefix(reason, "trainer:") {
			if !strings.Contains(reason, "JSON") {
				t.Errorf("DLQ reason %q does not say what is wrong", reason)
			}
			break
		}
	}

	// The watch first, while the run's NATS still answers.
	if err := stopWatch(); err != nil {
		t.Fatalf("watch after cancel: %v", err)
	}
	if err := stopRun(); err != nil {
		t.Fatalf("run after cancel: %v\n%s", err, stderr)
	}
}
