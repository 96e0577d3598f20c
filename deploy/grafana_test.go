package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

type dashboard struct {
	UID    string  `json:"uid"`
	Title  string  `json:"title"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int `json:"id"`
	Title      string
	Type       string
	Datasource *dsRef                   `json:"datasource"`
	GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
	Targets    []struct {
		Datasource *dsRef `json:"datasource"`
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		RawSQL     string `json:"rawSql"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // inside a row
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type datasources struct {
	Datasources []struct {
		Name string `yaml:"name"`
		UID  string `yaml:"uid"`
		Type string `yaml:"type"`
		URL  string `yaml:"url"`
	} `yaml:"datasources"`
}

// grafanaMacros are replaced by durations before a query is parsed as PromQL.
var grafanaMacros = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "6h")

// sqlTimeFilter is Grafana's $__timeFilter(column) macro.
var sqlTimeFilter = regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)

func loadDashboards(t testing.TB) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob(repoPath("deploy", "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under deploy/grafana/dashboards (err %v)", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" {
			t.Fatalf("%s: a dashboard needs a uid and a title", f)
		}
		if _, dup := out[d.Title]; dup {
			t.Fatalf("%s: title %q used twice", f, d.Title)
		}
		out[d.Title] = d
	}
	return out
}

// flatPanels returns the panels of a dashboard, those inside rows included.
func flatPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatPanels(p.Panels)...)
	}
	return out
}

func datasourceUIDs(t testing.TB) map[string]string {
	t.Helper()
	var ds datasources
	readYAML(t, repoPath("deploy", "grafana", "provisioning", "datasources", "swipeflix.yml"), &ds)
	uids := map[string]string{}
	for _, d := range ds.Datasources {
		uids[d.UID] = d.Type
	}
	return uids
}

func TestGrafanaDatasources(t *testing.T) {
	uids := datasourceUIDs(t)
	if uids["prometheus"] != "prometheus" {
		t.Errorf("datasource uid prometheus has type %q, want prometheus", uids["prometheus"])
	}
	if uids["postgres"] != "grafana-postgresql-datasource" {
		t.Errorf("datasource uid postgres has type %q, want grafana-postgresql-datasource", uids["postgres"])
	}
}

// Every panel query names only metrics, labels and values of docs/metrics.md, through a
// provisioned datasource, and panels do not overlap.
func TestGrafanaPanelsUseContractMetrics(t *testing.T) {
	contract := loadContract(t)
	uids := datasourceUIDs(t)
	for title, d := range loadDashboards(t) {
		ids := map[int]bool{}
		panels := flatPanels(d.Panels)
		for _, p := range panels {
			if ids[p.ID] {
				t.Errorf("%s: panel id %d used twice", title, p.ID)
			}
			ids[p.ID] = true
			if len(p.Targets) == 0 && p.Type != "row" && p.Type != "text" {
				t.Errorf("%s / %s: a panel without a query", title, p.Title)
			}
			for _, q := range p.Targets {
				ds := q.Datasource
				if ds == nil {
					ds = p.Datasource
				}
				if ds == nil || uids[ds.UID] == "" || uids[ds.UID] != ds.Type {
					t.Errorf("%s / %s / %s: datasource %+v is not provisioned", title, p.Title, q.RefID, ds)
					continue
				}
				switch ds.Type {
				case "prometheus":
					if err := contract.Check(grafanaMacros.Replace(q.Expr), nil); err != nil {
						t.Errorf("%s / %s / %s: %v", title, p.Title, q.RefID, err)
					}
				case "grafana-postgresql-datasource":
					if strings.TrimSpace(q.RawSQL) == "" {
						t.Errorf("%s / %s / %s: empty SQL", title, p.Title, q.RefID)
					}
				}
			}
		}
		for i, a := range panels {
			for _, b := range panels[i+1:] {
				ga, gb := a.GridPos, b.GridPos
				if ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H {
					t.Errorf("%s: panels %q and %q overlap", title, a.Title, b.Title)
				}
			}
		}
	}
}

// The seed's five API panels, and a pipeline dashboard that covers each pipeline metric.
func TestGrafanaDashboardContent(t *testing.T) {
	boards := loadDashboards(t)
	api, ok := boards["SwipeFlix API Dashboard"]
	if !ok {
		t.Fatalf("no dashboard titled %q; have %v", "SwipeFlix API Dashboard", keys(boards))
	}
	want := map[string]string{
		"Request Rate": "timeseries", "Request Latency": "timeseries", "Error Rate": "gauge",
		"Model Inference Latency": "timeseries", "Model Version": "stat",
	}
	for prefix, typ := range want {
		found := false
		for _, p := range flatPanels(api.Panels) {
			if strings.HasPrefix(p.Title, prefix) {
				found = true
				if p.Type != typ {
					t.Errorf("API panel %q is a %s, want %s", p.Title, p.Type, typ)
				}
			}
		}
		if !found {
			t.Errorf("API dashboard lacks the seed's panel %q", prefix)
		}
	}

	pipeline, ok := boards["SwipeFlix Pipeline Dashboard"]
	if !ok {
		t.Fatalf("no dashboard titled %q; have %v", "SwipeFlix Pipeline Dashboard", keys(boards))
	}
	used := map[string]bool{}
	for _, p := range flatPanels(pipeline.Panels) {
		for _, q := range p.Targets {
			if q.Expr == "" {
				continue
			}
			sels, err := Selectors(grafanaMacros.Replace(q.Expr))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sels {
				used[s.Metric] = true
			}
		}
	}
	for _, m := range []string{
		"swipeflix_ingest_events_total", "swipeflix_consumer_lag", "swipeflix_model_age_seconds",
		"swipeflix_freshness_seconds_bucket", "swipeflix_model_swaps_total", "swipeflix_drift_score",
		"swipeflix_drift_feature_score", "swipeflix_dlq_messages_total",
	} {
		if !used[m] {
			t.Errorf("pipeline dashboard has no panel on %s", m)
		}
	}
}

// The Postgres panels run against the store's real schema: a fresh database on the test server,
// the migrations of pkg/store applied, each query executed.
func TestGrafanaPostgresQueries(t *testing.T) {
	server := os.Getenv("SWIPEFLIX_TEST_DATABASE_URL")
	if server == "" {
		if os.Getenv("SWIPEFLIX_REQUIRE_POSTGRES") == "1" {
			t.Fatal("SWIPEFLIX_REQUIRE_POSTGRES=1 but SWIPEFLIX_TEST_DATABASE_URL is unset")
		}
		t.Skip("SWIPEFLIX_TEST_DATABASE_URL unset: skipping the Postgres panel queries")
	}
	ctx := context.Background()
	conn := freshDatabase(t, ctx, server)

	migrations, err := filepath.Glob(repoPath("pkg", "store", "migrations", "postgres", "*.sql"))
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no Postgres migrations under pkg/store/migrations/postgres (err %v): the Grafana panels query that schema", err)
	}
	sort.Strings(migrations)
	for _, m := range migrations {
		b, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(b)); err != nil {
			t.Fatalf("apply %s: %v", m, err)
		}
	}

	n := 0
	for title, d := range loadDashboards(t) {
		for _, p := range flatPanels(d.Panels) {
			for _, q := range p.Targets {
				if q.RawSQL == "" {
					continue
				}
				n++
				sql := sqlTimeFilter.ReplaceAllString(q.RawSQL, "$1 BETWEEN now() - interval '6 hours' AND now()")
				rows, err := conn.Query(ctx, sql)
				if err == nil {
					rows.Close()
					err = rows.Err()
				}
				if err != nil {
					t.Errorf("%s / %s / %s: %v\n%s", title, p.Title, q.RefID, err, sql)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no Postgres panel found; the pipeline dashboard should show registry and drift history")
	}
}

// freshDatabase creates a database of its own on the server and drops it when the test ends.
func freshDatabase(t *testing.T, ctx context.Context, server string) *pgx.Conn {
	t.Helper()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect %s: %v", server, err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	name := "deploy_grafana_" + hex.EncodeToString(buf[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
