package deploy

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const sampleContract = "| metric | type | labels | exported by |\n" +
	"| --- | --- | --- | --- |\n" +
	"| `req_total` | counter | `service`, `status` | api, ingest |\n" +
	"| `preds_total` | counter | `kind` (`personal`, `cold_start`) | api |\n" +
	"| `lat_seconds` | histogram | `service` | api (per request) |\n" +
	"| `score` | gauge (0/1) | | drift |\n"

func TestParseContract(t *testing.T) {
	c, err := ParseContract(strings.NewReader(sampleContract))
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != 4 {
		t.Fatalf("got %d metrics, want 4: %v", len(c), c)
	}
	preds := c["preds_total"]
	if !slices.Equal(preds.Labels, []string{"kind"}) || !slices.Equal(preds.Values["kind"], []string{"personal", "cold_start"}) {
		t.Errorf("preds_total = %+v, want label kind with values personal, cold_start", preds)
	}
	if got := c["req_total"].ExportedBy; !slices.Equal(got, []string{"api", "ingest"}) {
		t.Errorf("req_total exported by %v, want [api ingest]", got)
	}
	if got := c["score"]; got.Type != "gauge" || len(got.Labels) != 0 {
		t.Errorf("score = %+v, want a gauge without labels", got)
	}
	if _, ok := c.Family("lat_seconds_bucket"); !ok {
		t.Error("lat_seconds_bucket not resolved to the histogram lat_seconds")
	}
	if _, ok := c.Family("req_total_bucket"); ok {
		t.Error("req_total_bucket resolved, but req_total is a counter")
	}
	if _, ok := c.Family("lat_seconds"); ok {
		t.Error("a histogram's bare name resolved; only _bucket, _sum and _count exist")
	}
}

func TestParseContractErrors(t *testing.T) {
	head := "| metric | type | labels | exported by |\n| --- | --- | --- | --- |\n"
	tests := []struct {
		name, text, want string
	}{
		{"no rows", "# nothing here\n", "no metric rows"},
		{"bad type", head + "| `x_total` | summary | | api |\n", `line 3: x_total: type "summary"`},
		{"short row", head + "| `x_total` | counter | api |\n", "line 3: want 4 cells"},
		{"counter name", head + "| `x` | counter | | api |\n", "must end in _total"},
		{"no service", head + "| `x_total` | counter | | nobody |\n", "names no service"},
		{"duplicate", head + "| `x_total` | counter | | api |\n| `x_total` | counter | | api |\n", "line 4: x_total listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseContract(strings.NewReader(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseContract = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	c, err := ParseContract(strings.NewReader(sampleContract))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string][]string{"up": {"job", "instance"}, "rec:rate5m": nil}
	tests := []struct {
		expr string
		want string // "" for no error
	}{
		{`sum by (service) (rate(req_total{status=~"5.."}[5m]))`, ""},
		{`histogram_quantile(0.95, sum by (le) (rate(lat_seconds_bucket{service="api"}[5m])))`, ""},
		{`sum(rate(preds_total{kind="cold_start"}[5m])) / sum(rate(preds_total[5m]))`, ""},
		{`up{job="api"} == 0`, ""},
		{`rec:rate5m{anything="goes"} > 1`, ""},
		{`score > 0.15`, ""},
		{`sum by (instance) (up)`, ""},
		{`rate(nope_total[5m])`, "nope_total: metric not in the contract"},
		{`rate(req_total{endpoint="/x"}[5m])`, `label "endpoint" is not one of`},
		{`rate(preds_total{kind="personnal"}[5m])`, `kind="personnal" is not one of [personal cold_start]`},
		{`rate(lat_seconds_count{service="drift"}[5m])`, `service "drift" does not export it`},
		{`sum by (endpoint) (rate(req_total[5m]))`, `no aggregated metric has label "endpoint"`},
		{`lat_seconds`, "lat_seconds: metric not in the contract"},
		{`rate(req_total[5m]`, "parse PromQL"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			err := c.Check(tt.expr, known)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if err := c.Check("rate(nope_total[5m])", nil); !errors.Is(err, ErrUnknownMetric) {
		t.Errorf("Check of an unknown metric = %v, want ErrUnknownMetric", err)
	}
}

// The real contract parses and holds the seed's metrics.
func TestRepositoryContract(t *testing.T) {
	c := loadContract(t)
	for _, name := range []string{
		"swipeflix_http_requests_total",
		"swipeflix_http_request_duration_seconds",
		"swipeflix_inference_duration_seconds",
		"swipeflix_model_version_info",
		"swipeflix_predictions_total",
	} {
		if _, ok := c[name]; !ok {
			t.Errorf("docs/metrics.md does not list the seed's metric %s", name)
		}
	}
}
