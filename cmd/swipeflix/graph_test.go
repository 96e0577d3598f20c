package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/embedded/embeddedtest"
	"github.com/swipeflix/swipeflix/pkg/endpoints"
)

// scrape returns the /metrics text of one port.
func scrape(ctx context.Context, t *testing.T, s *proofStack, addr string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s/metrics: %d", addr, resp.StatusCode)
	}
	return string(b)
}

// In the one binary each port serves its own service's series, and the
// process-wide ones once, so scraping every port counts nothing twice
// (issue 10, defect 15). The run also writes the endpoints file the client
// commands read (defect 12).
func TestEachPortServesItsOwnMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every service")
	}
	ctx := testCtx(t)
	dataDir := t.TempDir()
	s := startStack(ctx, t, map[string]string{"SWIPEFLIX_DATA_DIR": dataDir}, "-target", "all")
	ports := map[string]string{"api": s.api, "ingest": s.ingest, "trainer": s.trainer}
	process := 0
	for name, addr := range ports {
		text := scrape(ctx, t, s, addr)
		for other := range ports {
			if other != name && strings.Contains(text, `service="`+other+`"`) {
				t.Errorf("%s's /metrics has %s's series", name, other)
			}
		}
		if strings.Contains(text, "\ngo_goroutines ") {
			process++
		}
	}
	if process != 1 {
		t.Errorf("process-wide metrics on %d ports, want exactly 1", process)
	}
	e, err := endpoints.Read(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.KafkaBrokers) != 1 || e.KafkaBrokers[0] != s.brokers[0] || e.NATSURL != s.natsURL ||
		e.API != "http://"+s.api || e.Trainer != "http://"+s.trainer {
		t.Errorf("endpoints file %+v does not match the run (brokers %v, nats %s, api %s)", e, s.brokers, s.natsURL, s.api)
	}
}

// A target on external brokers starts no embedded broker, and its services
// share one NATS connection (issue 9).
func TestTargetOnExternalBrokersOpensOneNATSConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs services on NATS")
	}
	for _, target := range []string{"all", "api"} {
		t.Run(target, func(t *testing.T) {
			ctx := testCtx(t)
			n := embeddedtest.StartTestNATS(t)
			k := embeddedtest.StartTestKafka(t)
			before := n.Clients()
			s := startStack(ctx, t, map[string]string{"NATS_URL": n.URL(), "KAFKA_BROKERS": k.Addr()}, "-target", target)
			if got := n.Clients() - before; got != 1 {
				t.Errorf("-target %s opened %d NATS connections, want 1", target, got)
			}
			s.stop()
			if out := s.stderr.String(); strings.Contains(out, "embedded kafka") || strings.Contains(out, "embedded nats") {
				t.Errorf("-target %s started an embedded broker:\n%s", target, out)
			}
		})
	}
}
