package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// e2eDir holds the browser test's node project (package-lock.json pins
// playwright-core; `npm ci` there installs it).
const e2eDir = "../../e2e"

// browserTools finds node, the chromium binary (CHROMIUM, else Debian's
// /usr/bin/chromium) and the installed playwright-core, or says what is
// missing.
func browserTools() (node, chromium string, err error) {
	var missing []string
	node, lerr := exec.LookPath("node")
	if lerr != nil {
		missing = append(missing, "node (apt-get install nodejs)")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, serr := os.Stat(chromium); serr != nil {
		missing = append(missing, chromium+" (apt-get install chromium, or set CHROMIUM)")
	}
	if _, serr := os.Stat(filepath.Join(e2eDir, "node_modules", "playwright-core", "package.json")); serr != nil {
		missing = append(missing, "playwright-core (npm ci in e2e/)")
	}
	if len(missing) > 0 {
		return "", "", errors.New("missing " + strings.Join(missing, ", "))
	}
	return node, chromium, nil
}

// browserResult is what e2e/deck.mjs prints.
type browserResult struct {
	User       string   `json:"user"`
	ColdPicks  []string `json:"coldPicks"`
	Picks      []string `json:"picks"`
	Dealt      []string `json:"dealt"`
	LatencyMS  *float64 `json:"latencyMs"`
	DocsRoutes []string `json:"docsRoutes"`
	DocsTry    string   `json:"docsTryStatus"`
	Console    []string `json:"consoleErrors"`
	Sent       []struct {
		EventID string `json:"event_id"`
		MovieID string `json:"movie_id"`
		Swipe   string `json:"swipe"`
		TS      string `json:"ts"`
		Note    string `json:"note"`
		Status  string `json:"status"`
	} `json:"sent"`
}

// TestBrowser runs the swipe deck page and /docs in a real browser
// (playwright-core driving Debian's chromium) against the services as
// `make run` runs them: a new profile swipes 10 cards with the keyboard and
// 3 with mouse drags, undoes one, and sees its top picks change; /docs
// lists every route and "try it out" POST /predict answers 200 (the
// script's own checks). Here: every swipe the page sent is in Kafka, undo
// and re-swipe are newer by event time than what they replace, and the
// api never deals those movies again. Screenshots (desktop and phone) go
// to the test's artifact folder: go test -run Browser -artifacts
// -outputdir DIR ./cmd/swipeflix/. Without node, chromium or
// playwright-core it skips, except under CI=true, where it must run.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts every service and a browser")
	}
	node, chromium, err := browserTools()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run the browser test: %v (.ci/run installs them)", err)
		}
		t.Skipf("browser test: %v", err)
	}
	ctx := testCtx(t)
	data := t.TempDir()
	if err := dataset.Generate(dataset.SizedConfig(8000, 3)).WriteDir(data, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	stack := startStack(ctx, t, nil, "-starter", data)
	waitUntil(ctx, t, "a served model", func() bool {
		_, err := stack.predict(ctx, "1")
		return err == nil
	})

	out := t.ArtifactDir()
	user := fmt.Sprintf("browser-%d", time.Now().UnixNano())
	cmd := exec.CommandContext(ctx, node, "deck.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "BASE_URL=http://"+stack.api, "USER_ID="+user, "OUT_DIR="+out, "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser script: %v\n%s\nservices:\n%s", err, stderr.String(), stack.stderr)
	}
	t.Logf("browser script:\n%s", stderr.String())
	var res browserResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("browser script printed %q: %v", stdout.String(), err)
	}
	if len(res.Console) > 0 || !strings.HasPrefix(res.DocsTry, "200") || res.LatencyMS == nil {
		t.Errorf("console errors %v, try-it-out %q, latency %v", res.Console, res.DocsTry, res.LatencyMS)
	}
	if slices.Equal(res.Picks, res.ColdPicks) {
		t.Errorf("top picks did not change from the cold-start list %v", res.ColdPicks)
	}
	t.Logf("swipe to changed answer: %.0f ms; screenshots in %s", *res.LatencyMS, out)

	// The page sent 10 keyboard swipes, 3 drags, an undo (skip), the
	// re-swipe and a button press: all accepted by ingest.
	byID := map[string]int{}
	swipes := 0
	for i, e := range res.Sent {
		if e.Status != "accepted" {
			t.Errorf("event %d (%s %s) not accepted: %s", i, e.Swipe, e.MovieID, e.Status)
		}
		byID[e.EventID] = i
		if e.Note == "" {
			swipes++
		}
	}
	if swipes < 15 || len(res.Sent) != swipes+1 {
		t.Fatalf("the page sent %d swipes and %d other events, want at least 15 swipes and one undo", swipes, len(res.Sent)-swipes)
	}

	// Every one of them is in Kafka, keyed by the user, as sent.
	r := kafkabus.NewGroupReader(stack.brokers, "browser-check", kafkabus.Ratings)
	defer r.Close()
	found := map[string]events.Event{}
	for len(found) < len(byID) {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatalf("reading the ratings topic (%d of %d found): %v", len(found), len(byID), err)
		}
		if string(m.Key) != user {
			continue
		}
		e, err := events.Decode(m.Value)
		if err != nil {
			t.Fatalf("the page's event does not decode: %v: %s", err, m.Value)
		}
		i, ok := byID[e.EventID]
		if !ok {
			t.Fatalf("unexpected event for %s in Kafka: %s", user, m.Value)
		}
		if sent := res.Sent[i]; string(e.Swipe) != sent.Swipe || e.MovieID != sent.MovieID || e.Source != "swipeflix-web" {
			t.Errorf("Kafka has %s %s, the page sent %s %s", e.Swipe, e.MovieID, sent.Swipe, sent.MovieID)
		}
		found[e.EventID] = e
	}

	// Undo: a newer skip for the undone movie, then a newer re-swipe.
	var undo events.Event
	for _, s := range res.Sent {
		if s.Note == "undo" {
			undo = found[s.EventID]
		}
	}
	var before, after int
	for _, s := range res.Sent {
		e := found[s.EventID]
		if e.MovieID != undo.MovieID || s.Note == "undo" {
			continue
		}
		switch {
		case e.TS.Before(undo.TS):
			before++
		case e.TS.After(undo.TS):
			after++
		}
	}
	if before != 1 || after != 1 {
		t.Errorf("undone movie %s: %d swipes before the undo and %d after it, want 1 and 1", undo.MovieID, before, after)
	}

	// No card came twice, and the api never deals them again.
	if d := slices.Compact(slices.Sorted(slices.Values(res.Dealt))); len(d) != len(res.Dealt) {
		t.Errorf("a card was dealt twice: %v", res.Dealt)
	}
	var more struct {
		Cards []struct {
			MovieID string `json:"movie_id"`
		} `json:"cards"`
	}
	body, status := postJSON(t, stack.client, "http://"+stack.api+"/v1/deck", fmt.Sprintf(`{"user_id": %q, "size": 50}`, user))
	if status != 200 || json.Unmarshal(body, &more) != nil || len(more.Cards) == 0 {
		t.Fatalf("deck after the session: %d %s", status, body)
	}
	for _, c := range more.Cards {
		if slices.Contains(res.Dealt, c.MovieID) {
			t.Errorf("movie %s dealt again after the session", c.MovieID)
		}
	}
}

func postJSON(t *testing.T, client *http.Client, url, body string) ([]byte, int) {
	t.Helper()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.Bytes(), resp.StatusCode
}
