package deploy

import (
	"maps"
	"testing"
)

// CORS in the compose stack: the prod profile allows no browser origin on
// the api or ingest unless the operator sets one; the dev env file lets
// the api's page (localhost:8000) post swipes to ingest.
func TestComposeCORS(t *testing.T) {
	get := func(profile string, env map[string]string, svc, key string) (string, bool) {
		t.Helper()
		p, err := loadCompose(t, profile, env)
		if err != nil {
			t.Fatal(err)
		}
		v, ok := p.Services[svc].Environment[key]
		if !ok || v == nil {
			return "", false
		}
		return *v, true
	}
	for _, c := range []struct{ svc, key string }{{"api", "API_CORS_ORIGINS"}, {"ingest", "INGEST_CORS_ORIGINS"}} {
		if v, _ := get("prod", testSecrets(), c.svc, c.key); v != "" {
			t.Errorf("prod: %s has %s=%q by default, want none", c.svc, c.key, v)
		}
		env := maps.Clone(testSecrets())
		env[c.key] = "https://app.example.com"
		if v, _ := get("prod", env, c.svc, c.key); v != "https://app.example.com" {
			t.Errorf("prod: %s=%q when the operator sets it, want it passed through", c.key, v)
		}
	}
	dev := readEnvFile(t, repoPath("deploy", "compose", "dev.env"))
	if v, _ := get("dev", dev, "ingest", "INGEST_CORS_ORIGINS"); v != "http://localhost:8000,http://127.0.0.1:8000" {
		t.Errorf("dev: ingest allows %q, want the api's page", v)
	}
	if v, _ := get("dev", dev, "api", "API_INGEST_URL"); v != ":8001" {
		t.Errorf("dev: API_INGEST_URL=%q, want :8001 (ingest's published port on the page's host)", v)
	}
}
