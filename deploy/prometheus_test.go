package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v4"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

type promConfig struct {
	RuleFiles     []string `yaml:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		StaticConfigs []struct {
			Targets []string `yaml:"targets"`
		} `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

// The service ports of the contract; the scrape config, compose file and images must agree.
var servicePorts = map[string]string{"api": "8000", "ingest": "8001", "trainer": "8002", "drift": "8003"}

func readYAML(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

func ruleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(repoPath("deploy", "prometheus", "rules", "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files under deploy/prometheus/rules (err %v)", err)
	}
	return files
}

func TestPromtool(t *testing.T) {
	promtool := requireTool(t, "promtool")
	dir := repoPath("deploy", "prometheus")
	t.Run("check config", func(t *testing.T) {
		run(t, dir, promtool, "check", "config", "prometheus.yml")
	})
	t.Run("check rules", func(t *testing.T) {
		for _, f := range ruleFiles(t) {
			run(t, dir, promtool, "check", "rules", filepath.Join("rules", filepath.Base(f)))
		}
	})
	t.Run("test rules", func(t *testing.T) {
		tests, err := filepath.Glob(filepath.Join(dir, "tests", "*.yml"))
		if err != nil || len(tests) == 0 {
			t.Fatalf("no rule tests under deploy/prometheus/tests (err %v)", err)
		}
		for _, f := range tests {
			run(t, dir, promtool, "test", "rules", filepath.Join("tests", filepath.Base(f)))
		}
	})
}

// Every rule names only metrics, labels and values of docs/metrics.md (or recording rules and
// Prometheus's own `up`).
func TestRulesUseContractMetrics(t *testing.T) {
	contract := loadContract(t)
	known := map[string][]string{"up": {"job", "instance"}}
	var files []ruleFile
	for _, path := range ruleFiles(t) {
		var rf ruleFile
		readYAML(t, path, &rf)
		files = append(files, rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					known[r.Record] = nil
				}
			}
		}
	}
	for _, rf := range files {
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if err := contract.Check(r.Expr, known); err != nil {
					t.Errorf("group %s, rule %s%s: %v", g.Name, r.Record, r.Alert, err)
				}
			}
		}
	}
}

// The alerts the issue asks for exist, carry a severity and text, and each has a unit test that
// fires it and one that keeps it quiet.
func TestAlertsHaveUnitTests(t *testing.T) {
	alerts := map[string]bool{}
	for _, path := range ruleFiles(t) {
		var rf ruleFile
		readYAML(t, path, &rf)
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts[r.Alert] = true
				if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
					t.Errorf("alert %s: severity %q, want warning or critical", r.Alert, sev)
				}
				if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
					t.Errorf("alert %s: needs a summary and a description annotation", r.Alert)
				}
			}
		}
	}
	for _, want := range []string{
		"SwipeFlixHighLatencyP95", "SwipeFlixHigh5xxRate", "SwipeFlixModelStale",
		"SwipeFlixConsumerLagGrowing", "SwipeFlixDriftHigh", "SwipeFlixDLQGrowing",
	} {
		if !alerts[want] {
			t.Errorf("alert %s is missing from deploy/prometheus/rules", want)
		}
	}

	fires, quiet := map[string]bool{}, map[string]bool{}
	tests, _ := filepath.Glob(repoPath("deploy", "prometheus", "tests", "*.yml"))
	for _, path := range tests {
		var rt ruleTests
		readYAML(t, path, &rt)
		for _, group := range rt.Tests {
			for _, at := range group.AlertRuleTest {
				if !alerts[at.Alertname] {
					t.Errorf("%s tests alert %s, which no rule defines", path, at.Alertname)
				}
				if len(at.ExpAlerts) > 0 {
					fires[at.Alertname] = true
				} else {
					quiet[at.Alertname] = true
				}
			}
		}
	}
	for a := range alerts {
		if !fires[a] {
			t.Errorf("alert %s has no unit test where it fires", a)
		}
		if !quiet[a] {
			t.Errorf("alert %s has no unit test where it stays quiet", a)
		}
	}
}

// Prometheus scrapes every service on its contract port.
func TestScrapeConfig(t *testing.T) {
	var cfg promConfig
	readYAML(t, repoPath("deploy", "prometheus", "prometheus.yml"), &cfg)
	if !slices.Contains(cfg.RuleFiles, "rules/*.yml") {
		t.Errorf("rule_files = %v, want rules/*.yml", cfg.RuleFiles)
	}
	jobs := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			jobs[sc.JobName] = append(jobs[sc.JobName], st.Targets...)
		}
	}
	for svc, port := range servicePorts {
		if want := svc + ":" + port; !slices.Contains(jobs[svc], want) {
			t.Errorf("scrape job %s has targets %v, want %s", svc, jobs[svc], want)
		}
	}
}
