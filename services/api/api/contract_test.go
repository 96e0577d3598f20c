package api

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// TestOpenAPIDocumentsEveryRoute keeps the hand-written document and the
// router in step, both ways.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s, _ := newTestService(t, nil)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if status, _ := call(t, s, "GET", "/openapi.json", "", &doc); status != 200 {
		t.Fatalf("GET /openapi.json: %d", status)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	routes := map[string]bool{}
	for _, r := range s.App().GetRoutes(true) {
		if r.Method == "HEAD" {
			continue // fiber adds HEAD for every GET
		}
		// /v1/movies/:id -> /v1/movies/{id}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		key := strings.ToLower(r.Method) + " " + strings.Join(parts, "/")
		routes[key] = true
		path := strings.Join(parts, "/")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json", r.Method, path)
		}
	}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if !routes[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the api does not serve", method, path)
			}
			if _, ok := op["responses"]; !ok {
				t.Errorf("%s %s documents no responses", method, path)
			}
		}
	}
}

// TestDocsPageIsSelfContained: /docs (Swagger UI) and / (the swipe deck)
// load nothing from another origin, and every file they name is served.
func TestDocsPageIsSelfContained(t *testing.T) {
	s, _ := newTestService(t, nil)
	ref := regexp.MustCompile(`(?:src|href)="([^"]*)"`)
	for _, page := range []string{"/docs", "/"} {
		status, raw := call(t, s, "GET", page, "", nil)
		text := string(raw)
		if status != 200 {
			t.Fatalf("GET %s: %d", page, status)
		}
		if page == "/docs" && !strings.Contains(text+string(mustGet(t, s, "/docs/init.js")), "/openapi.json") {
			t.Errorf("docs page does not load /openapi.json")
		}
		for _, external := range []string{"http://", "https://", "@import", "//cdn"} {
			if strings.Contains(text, external) {
				t.Errorf("%s refers to %q: the machine may be offline", page, external)
			}
		}
		for _, m := range ref.FindAllStringSubmatch(text, -1) {
			u := m[1]
			if strings.HasPrefix(u, "data:") {
				continue
			}
			if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") {
				t.Errorf("%s names %q: want a path on this api", page, u)
				continue
			}
			if st, _ := call(t, s, "GET", u, "", nil); st != 200 && !strings.HasPrefix(u, "/openapi.json") {
				t.Errorf("%s names %s, which answers %d", page, u, st)
			}
		}
	}
	if st, _ := call(t, s, "GET", "/docs/..%2fopenapi.json", "", nil); st != 404 {
		t.Errorf("an escaping asset name answers %d, want 404", st)
	}
}

func mustGet(t *testing.T, s *Service, path string) []byte {
	t.Helper()
	st, raw := call(t, s, "GET", path, "", nil)
	if st != 200 {
		t.Fatalf("GET %s: %d", path, st)
	}
	return raw
}

// valueLists matches a label's documented values: "(`ok`, `refused`)".
var valueLists = regexp.MustCompile(`\([^)]*\)`)

// contractRows reads the metrics table of docs/metrics.md: name -> labels,
// for the rows the api exports.
func contractRows(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatalf("open the metrics contract: %v", err)
	}
	defer f.Close()
	rows := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`swipeflix_") {
			continue
		}
		exporters := strings.Split(cells[4], ",")
		if !slices.ContainsFunc(exporters, func(e string) bool { return strings.HasPrefix(strings.TrimSpace(e), "api") }) {
			continue
		}
		var labels []string
		for _, l := range strings.Split(valueLists.ReplaceAllString(cells[3], ""), ",") {
			// "`kind` (`personal`, `cold_start`)" -> kind
			if l = strings.TrimSpace(l); strings.HasPrefix(l, "`") {
				labels = append(labels, strings.Trim(strings.Fields(l)[0], "`"))
			}
		}
		sort.Strings(labels)
		rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = labels
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		t.Fatal("no api rows found in docs/metrics.md")
	}
	return rows
}

// TestMetricsMatchContract exercises every series, then checks that what
// the api exports is exactly the api rows of docs/metrics.md, labels
// included.
func TestMetricsMatchContract(t *testing.T) {
	s, reg := newTestService(t, nil)
	serveModel(t, s, 1)
	call(t, s, "POST", "/predict", `{"user_id": "u0"}`, nil)
	call(t, s, "POST", "/predict", `{"user_id": "nobody"}`, nil)
	d := recommend.Delta{BaseVersion: 1, Seq: 1, NewestEventMillis: time.Now().UnixMilli()}
	payload, _ := json.Marshal(d)
	s.applyDelta(1, payload)
	s.updateAge()
	if status, _ := call(t, s, "GET", "/metrics", "", nil); status != 200 {
		t.Fatalf("GET /metrics: %d", status)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := contractRows(t)
	got := map[string]bool{}
	for _, mf := range families {
		name := mf.GetName()
		got[name] = true
		labels, ok := want[name]
		if !ok {
			t.Errorf("the api exports %s, which docs/metrics.md does not list for it", name)
			continue
		}
		for _, m := range mf.GetMetric() {
			var have []string
			for _, lp := range m.GetLabel() {
				have = append(have, lp.GetName())
			}
			sort.Strings(have)
			if !slices.Equal(have, labels) {
				t.Errorf("%s has labels %v, docs/metrics.md says %v", name, have, labels)
			}
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("docs/metrics.md lists %s for the api, which it does not export", name)
		}
	}
}

func TestSharedRegistryWithAnotherService(t *testing.T) {
	// In `-target all` the trainer registers the shared series (HTTP, model
	// version and age) on the one registry too; the api must reuse them.
	reg := prometheus.NewRegistry()
	other := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "swipeflix_http_requests_total",
		Help: "HTTP requests served.",
	}, []string{"service", "method", "endpoint", "status"})
	reg.MustRegister(other)
	s, err := New(DefaultConfig(), Deps{Registerer: reg, Gatherer: reg})
	if err != nil {
		t.Fatalf("api on a registry another service uses: %v", err)
	}
	call(t, s, "GET", "/health", "", nil)
	if got := testutil.ToFloat64(other.WithLabelValues("api", "GET", "/health", "200")); got != 1 {
		t.Errorf("api's GET /health counted %v times on the shared counter, want 1", got)
	}
}
