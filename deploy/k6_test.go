package deploy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func k6Binary(t *testing.T) string {
	t.Helper()
	return optionalTool(t, "k6", repoPath("bin", "k6"))
}

// The script parses and declares the stages and thresholds of the issue.
func TestK6Inspect(t *testing.T) {
	k6 := k6Binary(t)
	out, err := exec.Command(k6, "inspect", repoPath("k6", "script.js")).Output()
	if err != nil {
		t.Fatalf("k6 inspect: %v", err)
	}
	var opts struct {
		Scenarios map[string]struct {
			Executor string            `json:"executor"`
			Stages   []json.RawMessage `json:"stages"`
		} `json:"scenarios"`
		Thresholds map[string][]string `json:"thresholds"`
	}
	if err := json.Unmarshal(out, &opts); err != nil {
		t.Fatalf("parse k6 inspect output: %v\n%s", err, out)
	}
	predict, ok := opts.Scenarios["predict"]
	if !ok || len(predict.Stages) != 3 {
		t.Errorf("scenario predict = %+v, want three stages (ramp-up, steady, ramp-down)", predict)
	}
	want := map[string][]string{
		"http_req_duration{name:predict}": {"p(95)<500", "p(99)<50"},
		"http_req_failed":                 {"rate<0.01"},
		"http_reqs":                       {"rate>100"},
	}
	for metric, exprs := range want {
		for _, e := range exprs {
			if !slices.Contains(opts.Thresholds[metric], e) {
				t.Errorf("threshold %s %s missing; have %v", metric, e, opts.Thresholds)
			}
		}
	}
}

// The script runs against a server that answers like the api, and all its checks pass; against
// one that answers 500 its checks fail. Thresholds are off: this checks the script, not speed.
func TestK6RunAgainstFakeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs k6 for a few seconds")
	}
	k6 := k6Binary(t)
	good := httptest.NewServer(fakeAPI(http.StatusOK))
	t.Cleanup(good.Close)
	bad := httptest.NewServer(fakeAPI(http.StatusInternalServerError))
	t.Cleanup(bad.Close)

	for _, tc := range []struct {
		name       string
		url        string
		wantFailed bool
	}{{"healthy", good.URL, false}, {"failing", bad.URL, true}} {
		t.Run(tc.name, func(t *testing.T) {
			summary := filepath.Join(t.TempDir(), "summary.json")
			cmd := exec.Command(k6, "run", "--quiet", "--no-thresholds", "--no-usage-report",
				"--summary-export", summary, repoPath("k6", "script.js"))
			cmd.Env = append(os.Environ(), "API_URL="+tc.url, "RATE=20", "RAMP=1s", "STEADY=1s", "K6_NO_COLOR=true")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("k6 run: %v\n%s", err, out)
			}
			b, err := os.ReadFile(summary)
			if err != nil {
				t.Fatal(err)
			}
			var s struct {
				Metrics struct {
					Checks struct {
						Passes int `json:"passes"`
						Fails  int `json:"fails"`
					} `json:"checks"`
				} `json:"metrics"`
			}
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatalf("parse summary: %v", err)
			}
			c := s.Metrics.Checks
			if c.Passes+c.Fails == 0 {
				t.Fatalf("k6 made no checks: %s", b)
			}
			if tc.wantFailed != (c.Fails > 0) {
				t.Fatalf("checks: %d passed, %d failed; want failures: %v", c.Passes, c.Fails, tc.wantFailed)
			}
		})
	}
}

// fakeAPI answers /health and /predict with the shapes of the api contract.
func fakeAPI(predictStatus int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"healthy","model_loaded":true}`)
	})
	mux.HandleFunc("POST /predict", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			UserID string `json:"user_id"`
			TopK   int    `json:"top_k"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.UserID == "" || req.TopK <= 0 {
			http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
			return
		}
		if predictStatus != http.StatusOK {
			http.Error(w, `{"error":"boom"}`, predictStatus)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"user_id":           req.UserID,
			"recommendations":   []map[string]any{{"movie_id": "50", "title": "Star Wars (1977)", "score": 0.9}},
			"model_version":     "v1",
			"inference_time_ms": 0.4,
		})
	})
	return mux
}
