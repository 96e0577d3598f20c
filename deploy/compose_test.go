package deploy

import (
	"bufio"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// The variables compose requires (no default passwords or tokens in any profile).
var composeSecrets = []string{"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "SWIPEFLIX_INGEST_TOKENS", "SWIPEFLIX_ADMIN_TOKEN",
	"NATS_TRAINER_PASSWORD", "NATS_API_PASSWORD", "NATS_DRIFT_PASSWORD", "NATS_OPS_PASSWORD", "SWIPEFLIX_CATALOG"}

// secretReaders are the services that read each secret.
var secretReaders = map[string][]string{
	"POSTGRES_PASSWORD":       {"postgres", "migrate", "catalog", "trainer", "drift", "grafana"},
	"GRAFANA_ADMIN_PASSWORD":  {"grafana"},
	"SWIPEFLIX_INGEST_TOKENS": {"ingest"},
	"SWIPEFLIX_ADMIN_TOKEN":   {"trainer"},
	"NATS_TRAINER_PASSWORD":   {"nats", "trainer"},
	"NATS_API_PASSWORD":       {"nats", "api"},
	"NATS_DRIFT_PASSWORD":     {"nats", "drift"},
	"NATS_OPS_PASSWORD":       {"nats", "nats-box"},
	"SWIPEFLIX_CATALOG":       {}, // a folder mounted into the catalog job, in no environment
}

// testSecrets gives each required variable a value of its own, so tests can see where it lands.
func testSecrets() map[string]string {
	return map[string]string{
		"POSTGRES_PASSWORD":       "pg-secret",
		"GRAFANA_ADMIN_PASSWORD":  "grafana-secret",
		"SWIPEFLIX_INGEST_TOKENS": "tok-a,tok-b",
		"SWIPEFLIX_ADMIN_TOKEN":   "admin-secret",
		"NATS_TRAINER_PASSWORD":   "nats-trainer-secret",
		"NATS_API_PASSWORD":       "nats-api-secret",
		"NATS_DRIFT_PASSWORD":     "nats-drift-secret",
		"NATS_OPS_PASSWORD":       "nats-ops-secret",
		"SWIPEFLIX_CATALOG":       "/srv/swipeflix-catalog",
	}
}

func envList(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

func loadCompose(t testing.TB, profile string, env map[string]string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{repoPath("docker-compose.yml")},
		cli.WithName("swipeflix"),
		cli.WithWorkingDirectory(repoPath()),
		cli.WithProfiles([]string{profile}),
		cli.WithEnv(envList(env)),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

var (
	brokersAndDB = []string{"kafka", "kafka-init", "nats", "postgres", "migrate", "catalog"}
	ourServices  = []string{"api", "ingest", "trainer", "drift"}
	monitoring   = []string{"prometheus", "grafana"}
	devTools     = []string{"kafka-ui", "nats-box", "adminer", "seed"}
	oneShotJobs  = []string{"kafka-init", "migrate", "catalog", "seed"}
)

func TestComposeProfiles(t *testing.T) {
	want := map[string][]string{
		"dev":  slices.Concat(brokersAndDB, ourServices, monitoring, devTools),
		"test": slices.Concat(brokersAndDB, ourServices),
		"prod": slices.Concat(brokersAndDB, ourServices, monitoring),
	}
	for profile, services := range want {
		t.Run(profile, func(t *testing.T) {
			p, err := loadCompose(t, profile, testSecrets())
			if err != nil {
				t.Fatalf("load profile %s: %v", profile, err)
			}
			got := slices.Sorted(maps.Keys(p.Services))
			if w := slices.Sorted(slices.Values(services)); !slices.Equal(got, w) {
				t.Fatalf("profile %s starts %v, want %v", profile, got, w)
			}
			checkDependencies(t, p)
			checkHealthAndVolumes(t, p)
			checkServiceEnv(t, p)
		})
	}
}

// Every dependency is in the same profile and waits for the right state: healthy for a
// long-running service with a health check, completed for a one-shot job.
func checkDependencies(t *testing.T, p *types.Project) {
	t.Helper()
	for name, svc := range p.Services {
		for dep, cond := range svc.DependsOn {
			target, ok := p.Services[dep]
			if !ok {
				t.Errorf("%s depends on %s, which this profile does not start", name, dep)
				continue
			}
			want := types.ServiceConditionHealthy
			if slices.Contains(oneShotJobs, dep) {
				want = types.ServiceConditionCompletedSuccessfully
			}
			if cond.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %q", name, dep, cond.Condition, want)
			}
			if want == types.ServiceConditionHealthy && (target.HealthCheck == nil || target.HealthCheck.Disable) {
				t.Errorf("%s waits for %s to be healthy, but %s has no health check", name, dep, dep)
			}
		}
	}
	wantDeps := map[string][]string{
		"trainer": {"kafka", "kafka-init", "nats", "postgres", "migrate", "catalog"},
		"drift":   {"kafka", "kafka-init", "nats", "postgres", "migrate", "catalog"},
		"catalog": {"migrate"},
		"ingest":  {"kafka", "kafka-init"},
		"api":     {"nats"},
		"migrate": {"postgres"},
	}
	for name, deps := range wantDeps {
		got := slices.Sorted(maps.Keys(p.Services[name].DependsOn))
		if w := slices.Sorted(slices.Values(deps)); !slices.Equal(got, w) {
			t.Errorf("%s depends on %v, want %v", name, got, w)
		}
	}
}

func checkHealthAndVolumes(t *testing.T, p *types.Project) {
	t.Helper()
	for name, svc := range p.Services {
		if slices.Contains(oneShotJobs, name) {
			if svc.Restart != "no" {
				t.Errorf("one-shot job %s has restart %q, want \"no\"", name, svc.Restart)
			}
			continue
		}
		if name == "nats-box" || name == "kafka-ui" || name == "adminer" {
			continue // developer tools: nothing waits for them
		}
		hc := svc.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 {
			t.Errorf("%s has no health check", name)
			continue
		}
		if slices.Contains(ourServices, name) {
			// Distroless images have no shell: the probe binary does the check.
			want := []string{"CMD", "/probe", "http://127.0.0.1:" + servicePorts[name] + "/ready"}
			if !slices.Equal([]string(hc.Test), want) {
				t.Errorf("%s health check %v, want %v", name, hc.Test, want)
			}
		}
	}
	// State lives in named volumes declared at the top level.
	stateful := map[string]string{
		"kafka": "/var/lib/kafka/data", "nats": "/data", "postgres": "/var/lib/postgresql/data",
		"trainer": "/data", "prometheus": "/prometheus", "grafana": "/var/lib/grafana",
	}
	for name, target := range stateful {
		svc, ok := p.Services[name]
		if !ok {
			continue
		}
		found := false
		for _, v := range svc.Volumes {
			if v.Type == types.VolumeTypeVolume && v.Target == target {
				found = true
				if _, declared := p.Volumes[v.Source]; !declared {
					t.Errorf("%s mounts volume %q, not declared under volumes:", name, v.Source)
				}
			}
		}
		if !found {
			t.Errorf("%s: no named volume at %s", name, target)
		}
	}
	// Bind mounts into this repository point at files that exist.
	root, err := filepath.Abs(repoPath())
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range p.Services {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind || !strings.HasPrefix(v.Source, root+string(filepath.Separator)) {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts %s, which does not exist: %v", name, v.Source, err)
			}
		}
	}
}

func checkServiceEnv(t *testing.T, p *types.Project) {
	t.Helper()
	secrets := testSecrets()
	addrVar := map[string]string{"api": "API_ADDR", "ingest": "INGEST_ADDR", "trainer": "TRAINER_ADDR", "drift": "DRIFT_ADDR"}
	for _, name := range ourServices {
		svc := p.Services[name]
		env := func(k string) string {
			if v := svc.Environment[k]; v != nil {
				return *v
			}
			return ""
		}
		// Each service talks to NATS as its own user (deploy/nats/nats.conf); ingest not at all.
		natsURL := ""
		if name != "ingest" {
			natsURL = "nats://" + name + ":" + secrets["NATS_"+strings.ToUpper(name)+"_PASSWORD"] + "@nats:4222"
		}
		for k, want := range map[string]string{
			"KAFKA_BROKERS":      "kafka:9092",
			"NATS_URL":           natsURL,
			"SWIPEFLIX_DATA_DIR": "/data",
			addrVar[name]:        ":" + servicePorts[name],
		} {
			if got := env(k); got != want {
				t.Errorf("%s: %s=%q, want %q", name, k, got, want)
			}
		}
		published := false
		for _, port := range svc.Ports {
			if port.Target == mustAtoi(t, servicePorts[name]) {
				published = true
			}
		}
		if !published {
			t.Errorf("%s does not publish port %s", name, servicePorts[name])
		}
		if svc.Build == nil || svc.Build.Dockerfile != filepath.Join("deploy", "docker", name+".Dockerfile") {
			t.Errorf("%s: build %+v, want deploy/docker/%s.Dockerfile", name, svc.Build, name)
		}
		db := env("DATABASE_URL")
		switch name {
		case "api":
			if db != "" {
				t.Errorf("api has DATABASE_URL %q; it holds no database connection", db)
			}
		case "trainer", "drift":
			if !strings.Contains(db, ":"+secrets["POSTGRES_PASSWORD"]+"@postgres:5432/") {
				t.Errorf("%s: DATABASE_URL %q does not reach postgres with the password given", name, db)
			}
		}
	}
	if got := p.Services["ingest"].Environment["SWIPEFLIX_INGEST_TOKENS"]; got == nil || *got != secrets["SWIPEFLIX_INGEST_TOKENS"] {
		t.Errorf("ingest: SWIPEFLIX_INGEST_TOKENS = %v, want the value given", got)
	}
	// Each secret goes only where it is read.
	if got := p.Services["trainer"].Environment["SWIPEFLIX_ADMIN_TOKEN"]; got == nil || *got != secrets["SWIPEFLIX_ADMIN_TOKEN"] {
		t.Errorf("trainer: SWIPEFLIX_ADMIN_TOKEN = %v, want the value given", got)
	}
	for name, svc := range p.Services {
		for k, v := range svc.Environment {
			if v == nil {
				continue
			}
			for secret, value := range secrets {
				if !strings.Contains(*v, value) {
					continue
				}
				if !slices.Contains(secretReaders[secret], name) {
					t.Errorf("%s gets %s (in %s) but does not read it", name, secret, k)
				}
			}
		}
	}
	// The catalog job loads the folder SWIPEFLIX_CATALOG names into the database.
	cat := p.Services["catalog"]
	if !slices.Equal([]string(cat.Command), []string{"catalog", "load", "/catalog"}) || len(cat.Volumes) != 1 ||
		cat.Volumes[0].Source != secrets["SWIPEFLIX_CATALOG"] || cat.Volumes[0].Target != "/catalog" || !cat.Volumes[0].ReadOnly {
		t.Errorf("catalog job: command %v, volumes %+v; want catalog load /catalog on SWIPEFLIX_CATALOG, read-only", cat.Command, cat.Volumes)
	}
	if db := cat.Environment["DATABASE_URL"]; db == nil || !strings.Contains(*db, "@postgres:5432/") {
		t.Errorf("catalog job: DATABASE_URL %v", db)
	}
	for name, svc := range p.Services {
		if svc.Image == "" || strings.HasSuffix(svc.Image, ":latest") || !strings.Contains(svc.Image, ":") {
			t.Errorf("%s: image %q is not pinned to a tag", name, svc.Image)
		}
	}
}

func mustAtoi(t *testing.T, s string) uint32 {
	t.Helper()
	var n uint32
	for _, r := range s {
		if r < '0' || r > '9' {
			t.Fatalf("not a port: %q", s)
		}
		n = n*10 + uint32(r-'0')
	}
	return n
}

// Without a password or token compose refuses to load any profile, naming the variable.
func TestComposeRequiresSecrets(t *testing.T) {
	for _, missing := range composeSecrets {
		env := testSecrets()
		delete(env, missing)
		_, err := loadCompose(t, "prod", env)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("prod without %s: err = %v, want an error naming it", missing, err)
		}
	}
	// And the file never gives one a default (${VAR:-...} or ${VAR-...}).
	b, err := os.ReadFile(repoPath("docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range composeSecrets {
		if m := regexp.MustCompile(`\$\{` + v + `:?-`).Find(b); m != nil {
			t.Errorf("docker-compose.yml gives %s a default: %s", v, m)
		}
	}
}

// deploy/compose/dev.env holds a value for each required variable, so the dev stack starts with
// `make compose-up`.
func TestComposeDevEnvFile(t *testing.T) {
	env := readEnvFile(t, repoPath("deploy", "compose", "dev.env"))
	for _, v := range composeSecrets {
		if env[v] == "" {
			t.Errorf("deploy/compose/dev.env does not set %s", v)
		}
	}
	if _, err := loadCompose(t, "dev", env); err != nil {
		t.Errorf("dev profile with deploy/compose/dev.env: %v", err)
	}
}

func readEnvFile(t testing.TB, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not KEY=value", path, line)
		}
		env[k] = v
	}
	return env
}

// docker-compose (v1, Debian's package) validates the file too, per profile.
func TestDockerComposeConfig(t *testing.T) {
	dc := requireTool(t, "docker-compose")
	for _, profile := range []string{"dev", "test", "prod"} {
		cmd := exec.Command(dc, "--profile", profile, "config", "-q")
		cmd.Dir = repoPath()
		cmd.Env = append(cleanEnv(), envList(testSecrets())...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("docker-compose --profile %s config -q: %v\n%s", profile, err, out)
		}
	}
	cmd := exec.Command(dc, "--profile", "prod", "config", "-q")
	cmd.Dir = repoPath()
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Missing mandatory value") {
		t.Errorf("docker-compose --profile prod config without secrets: err %v, output %s; want a failure naming a missing value", err, out)
	}
}

// cleanEnv is the test's environment without the compose secrets, whatever the caller exported.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(composeSecrets, k) {
			out = append(out, kv)
		}
	}
	return out
}
