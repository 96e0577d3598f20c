package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// startMain runs realMain with args in the background until the test ends;
// stop cancels the run and returns its error.
func startMain(ctx context.Context, t *testing.T, args []string, stdout, stderr io.Writer) (stop func() error) {
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- realMain(runCtx, args, nil, stdout, stderr) }()
	return func() error {
		cancel()
		return <-done
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// writeRatings writes an ml-100k style u.data with n rows.
func writeRatings(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%d\t%d\t%d\t%d\n", 1+i%7, 100+i, 1+i%5, 881250949+i)
	}
	path := filepath.Join(t.TempDir(), "u.data")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readTopic reads n messages of the ratings topic in a fresh group.
func readTopic(ctx context.Context, t *testing.T, brokers []string, n int) []events.Event {
	t.Helper()
	r := kafkabus.NewGroupReader(brokers, fmt.Sprintf("check-%d", time.Now().UnixNano()), kafkabus.Ratings)
	defer r.Close()
	var out []events.Event
	for len(out) < n {
		m, err := r.Fetch(ctx)
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out), n, err)
		}
		e, err := events.Decode(m.Value)
		if err != nil {
			t.Fatalf("message %s: %v", m.Value, err)
		}
		if string(m.Key) != e.UserID {
			t.Errorf("event %s keyed %q, want its user %q", e.EventID, m.Key, e.UserID)
		}
		out = append(out, e)
	}
	return out
}

// The binary with every target on embedded brokers: it prints the broker
// addresses, serves each service, accepts events over HTTP, takes a
// published dataset, and stops cleanly when its context ends.
func TestRunAllOnEmbeddedBrokers(t *testing.T) {
	ctx := testCtx(t)
	ingestAddr := listenAddr(t)
	t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
	t.Setenv("KAFKA_BROKERS", "")
	t.Setenv("NATS_URL", "")
	t.Setenv("SWIPEFLIX_KAFKA_PORT", "0")
	t.Setenv("SWIPEFLIX_NATS_PORT", "0")
	t.Setenv("INGEST_ADDR", ingestAddr)
	driftAddr, apiAddr, trainerAddr := listenAddr(t), listenAddr(t), listenAddr(t)
	t.Setenv("DRIFT_ADDR", driftAddr)
	t.Setenv("API_ADDR", apiAddr)
	t.Setenv("TRAINER_ADDR", trainerAddr)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("SWIPEFLIX_INGEST_TOKENS", "")

	stderr := &embeddedtest.SyncBuffer{}
	stop := startMain(ctx, t, []string{"run", "-target", "all"}, &bytes.Buffer{}, stderr)

	brokerRE := regexp.MustCompile(`embedded kafka: (\S+)`)
	waitUntil(ctx, t, "the broker addresses", func() bool {
		return brokerRE.MatchString(stderr.String()) && strings.Contains(stderr.String(), "embedded nats: ")
	})
	brokers := []string{brokerRE.FindStringSubmatch(stderr.String())[1]}
	for _, addr := range []string{ingestAddr, driftAddr, apiAddr, trainerAddr} {
		waitUntil(ctx, t, addr+"/health", func() bool {
			resp, err := http.Get("http://" + addr + "/health")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}

	resp, err := http.Post("http://"+ingestAddr+"/v1/swipes", "application/json",
		strings.NewReader(`{"event_id":"s1","user_id":"new-user","movie_id":"100","swipe":"superlike","ts":"2026-11-27T10:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("POST /v1/swipes: %d", resp.StatusCode)
	}

	file := writeRatings(t, 25)
	if err := realMain(ctx, []string{"publish", "-quiet", "-brokers", brokers[0], file}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	evs := readTopic(ctx, t, brokers, 26)
	ids := map[string]bool{}
	for _, e := range evs {
		ids[e.EventID] = true
	}
	if !ids["s1"] || len(ids) != 26 {
		t.Fatalf("topic holds %d distinct ids (s1: %v), want 26", len(ids), ids["s1"])
	}

	if err := stop(); err != nil {
		t.Fatalf("run after cancel: %v", err)
	}
}

func TestPublishIsDeterministic(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	file := writeRatings(t, 40)
	for range 2 {
		if err := realMain(ctx, []string{"publish", "-quiet", "-rate", "1000", "-brokers", k.Addr(), file}, nil, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	count := map[string]int{}
	for _, e := range readTopic(ctx, t, k.Brokers(), 80) {
		count[e.EventID]++
		if e.Rating == nil || e.Source != "publish" || e.TS.Unix() < 881250949 {
			t.Errorf("event %+v: want a rating with the file's time and source publish", e)
		}
	}
	if len(count) != 40 {
		t.Fatalf("%d distinct ids over two publishes of 40 rows, want 40", len(count))
	}
	for id, n := range count {
		if n != 2 {
			t.Errorf("id %s published %d times, want 2 (same id each time)", id, n)
		}
	}
}

func TestPublishNDJSONReportsBadLines(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	in := strings.Join([]string{
		`{"event_id":"a","user_id":"u1","movie_id":"m1","rating":4,"ts":"2026-11-27T10:00:00Z"}`,
		``,
		`{"event_id":"b","user_id":"u1","movie_id":"m2","rating":9,"ts":"2026-11-27T10:00:00Z"}`,
		`not json`,
		`{"event_id":"c","user_id":"u2","movie_id":"m1","swipe":"dislike","ts":"2026-11-27T10:00:00Z"}`,
	}, "\n")
	stderr := &bytes.Buffer{}
	err := realMain(ctx, []string{"publish", "-quiet", "-brokers", k.Addr(), "-"}, strings.NewReader(in), &bytes.Buffer{}, stderr)
	if err == nil || !strings.Contains(err.Error(), "2 invalid") {
		t.Fatalf("publish with 2 bad lines: %v", err)
	}
	for _, want := range []string{"stdin:3: rating:", "stdin:4:"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	got := readTopic(ctx, t, k.Brokers(), 2)
	if got[0].EventID+got[1].EventID != "ac" && got[0].EventID+got[1].EventID != "ca" {
		t.Fatalf("published %s and %s, want a and c", got[0].EventID, got[1].EventID)
	}
}

func TestPublishUsage(t *testing.T) {
	for _, args := range [][]string{{"publish"}, {"publish", "-rate", "-1", "x"}, {"publish", "a", "b"}} {
		if err := realMain(context.Background(), args, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
	err := realMain(context.Background(), []string{"publish", "-quiet", "-brokers", "127.0.0.1:1", "/does/not/exist"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "/does/not/exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWatchPrintsModelsAndDriftReports(t *testing.T) {
	ctx := testCtx(t)
	n := embeddedtest.StartTestNATS(t)
	bus, err := modelbus.Connect(ctx, n.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	v1, err := bus.Publish(ctx, modelbus.Manifest{Version: 1, Metrics: map[string]float64{"rmse": 0.91}}, []byte("snap1"))
	if err != nil {
		t.Fatal(err)
	}

	out := &embeddedtest.SyncBuffer{}
	stop := startMain(ctx, t, []string{"watch", "-nats", n.URL()}, out, &bytes.Buffer{})

	waitUntil(ctx, t, "model v1 (published before watch started)", func() bool { return strings.Contains(out.String(), "model v1 ") })
	if !strings.Contains(out.String(), "rmse=0.91") {
		t.Errorf("watch output lacks the metrics:\n%s", out)
	}
	if _, err := bus.Publish(ctx, modelbus.Manifest{Version: 2}, []byte("snap2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "model v2", func() bool { return strings.Contains(out.String(), "model v2 ") })
	if err := bus.SetCurrent(ctx, v1); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "the rollback to v1", func() bool { return strings.Contains(out.String(), "(rollback)") })
	waitUntil(ctx, t, "a drift report", func() bool {
		if err := bus.PublishDriftReport(ctx, []byte(`{"share":0.25,"dataset_drift":false}`)); err != nil {
			t.Fatal(err)
		}
		return strings.Contains(out.String(), "drift report  share=0.25")
	})
	if err := stop(); err != nil {
		t.Fatalf("watch after cancel: %v", err)
	}
}

func TestStarterPublishesOnce(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	file := writeRatings(t, 12)
	out := &bytes.Buffer{}
	s := starterLoader{path: file, brokers: k.Brokers, dataDir: t.TempDir(), log: discardLogger(), out: out}
	for i := range 2 {
		if err := s.Run(ctx); !errors.Is(err, svcmain.ErrDone) {
			t.Fatalf("starter run %d: %v, want ErrDone", i, err)
		}
	}
	if got := strings.Count(out.String(), "starter data: 12 events"); got != 1 {
		t.Fatalf("starter published %d times, want once:\n%s", got, out)
	}
	total, err := kafkabus.TotalLag(ctx, k.Brokers(), "nobody", kafkabus.Ratings)
	if err != nil {
		t.Fatal(err)
	}
	if total != 12 {
		t.Fatalf("topic holds %d records, want 12", total)
	}
}

func TestUnknownTarget(t *testing.T) {
	t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
	err := realMain(context.Background(), []string{"-target", "ingest,nope"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `unknown target "nope"`) || !strings.Contains(err.Error(), "trainer") {
		t.Fatalf("run with an unknown target: %v, want it named with the known ones", err)
	}
}

// An unknown subcommand or a stray argument is a usage error (exit 2)
// that starts nothing; help and version exit 0 (issue 10, defect 11).
func TestCommandLineErrors(t *testing.T) {
	t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"synth"}, 2, `unknown subcommand "synth"`},
		{[]string{"-target", "ingest", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"run", "stray"}, 2, `unexpected argument "stray"`},
		{[]string{"-no-such-flag"}, 2, "no-such-flag"},
		{[]string{"catalog"}, 2, "want a subcommand"},
		{[]string{"catalog", "frobnicate"}, 2, `unknown subcommand "frobnicate"`},
		{[]string{"models", "frobnicate"}, 2, `unknown subcommand "frobnicate"`},
		{[]string{"watch", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"catalog", "-h"}, 0, ""},
		{[]string{"models", "-h"}, 0, ""},
		{[]string{"-version"}, 0, ""},
		{[]string{"help"}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		err := realMain(context.Background(), tc.args, nil, &stdout, &stderr)
		code := svcmain.ExitCode(&stderr, "swipeflix", err)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
		if tc.code == 2 && !strings.Contains(stderr.String(), "usage:") {
			t.Errorf("%v: no usage printed with the error", tc.args)
		}
	}
	var stdout bytes.Buffer
	if err := realMain(context.Background(), []string{"catalog", "-h"}, nil, &stdout, io.Discard); err != nil ||
		!strings.Contains(stdout.String(), "catalog load [flags] DIR") {
		t.Errorf("catalog -h: %v, %q", err, stdout.String())
	}
}

func TestDatasetEventID(t *testing.T) {
	r := dataset.Rating{User: "1", Movie: "10", Value: 4, Time: 5}
	a, b := DatasetEvent(r, "x"), DatasetEvent(r, "y")
	r.Value = 3.5
	c := DatasetEvent(r, "x")
	if a.EventID != b.EventID || a.EventID == c.EventID {
		t.Fatalf("ids %s %s %s: want equal for equal rows, different otherwise", a.EventID, b.EventID, c.EventID)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLogLevelEnv(t *testing.T) {
	t.Setenv("SWIPEFLIX_LOG_LEVEL", "loud")
	t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
	err := realMain(context.Background(), []string{"-target", "ingest"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SWIPEFLIX_LOG_LEVEL") {
		t.Fatalf("bad level: %v", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestPublishNDJSONFileWithProgress(t *testing.T) {
	ctx := testCtx(t)
	k := embeddedtest.StartTestKafka(t)
	path := filepath.Join(t.TempDir(), "events.ndjson")
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, `{"event_id":"n%d","user_id":"u%d","movie_id":"m1","swipe":"like","ts":"2026-11-27T10:00:00Z"}`+"\n", i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr := &bytes.Buffer{}
	if err := realMain(ctx, []string{"publish", "-ndjson", "-brokers", k.Addr(), path}, nil, &bytes.Buffer{}, stderr); err != nil {
		t.Fatal(err)
	}
	// Not a terminal: the bar prints plain lines, the last one final.
	if !strings.Contains(stderr.String(), "5 events") || !strings.Contains(stderr.String(), "published 5 events") {
		t.Fatalf("progress output:\n%s", stderr)
	}
	readTopic(ctx, t, k.Brokers(), 5)
}

func TestProgressBarWithTotal(t *testing.T) {
	var out embeddedtest.SyncBuffer
	p := startProgress(&out)
	p.setTotal(200)
	p.add(50)
	p.stop()
	if got := out.String(); !strings.Contains(got, "[=======") || !strings.Contains(got, " 25% 50/200 events") {
		t.Fatalf("bar = %q", got)
	}
}

func TestCountLines(t *testing.T) {
	if n := countLines(writeRatings(t, 1234)); n != 1234 {
		t.Fatalf("countLines = %d, want 1234", n)
	}
	if n := countLines("/does/not/exist"); n != 0 {
		t.Fatalf("countLines of a missing file = %d", n)
	}
}

func TestBrokerEnvErrors(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"SWIPEFLIX_KAFKA_PORT", "ninety"},
		{"SWIPEFLIX_KAFKA_PARTITIONS", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KAFKA_BROKERS", "")
			t.Setenv("SWIPEFLIX_DATA_DIR", t.TempDir())
			t.Setenv(tc.name, tc.value)
			err := realMain(context.Background(), []string{"-target", "ingest"}, nil, &bytes.Buffer{}, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("%s=%s: %v", tc.name, tc.value, err)
			}
		})
	}
}
