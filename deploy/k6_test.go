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
	"strconv"
	"sync"
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
	for _, tc := range []struct {
		name       string
		status     int
		env        []string
		wantUsers  int // the highest known user id the script may ask for
		wantFailed bool
	}{
		{"healthy", http.StatusOK, nil, fakeModelUsers, false},
		{"users set", http.StatusOK, []string{"USERS=3"}, 3, false},
		{"failing", http.StatusInternalServerError, nil, fakeModelUsers, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{predictStatus: tc.status}
			srv := httptest.NewServer(api.handler())
			t.Cleanup(srv.Close)
			summary := filepath.Join(t.TempDir(), "summary.json")
			cmd := exec.Command(k6, "run", "--quiet", "--no-thresholds", "--no-usage-report",
				"--summary-export", summary, repoPath("k6", "script.js"))
			cmd.Env = append(os.Environ(), "API_URL="+srv.URL, "RATE=40", "RAMP=1s", "STEADY=2s", "K6_NO_COLOR=true",
				"COLD_SHARE=0")
			cmd.Env = append(cmd.Env, tc.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("k6 run: %v\n%s", err, out)
			}
			// By default the user range is the served model's (GET /model), so it matches the
			// data `make run` loaded; USERS overrides it.
			if lo, hi := api.userRange(); lo < 1 || hi > tc.wantUsers || hi < min(2, tc.wantUsers) {
				t.Errorf("k6 asked for user ids %d..%d, want within 1..%d", lo, hi, tc.wantUsers)
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

// fakeModelUsers is the user count the fake api's model reports.
const fakeModelUsers = 7

// fakeAPI answers /health, /model and /predict with the shapes of the api contract and records
// the range of user ids asked for.
type fakeAPI struct {
	predictStatus int

	mu     sync.Mutex
	lo, hi int
}

func (f *fakeAPI) userRange() (lo, hi int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lo, f.hi
}

func (f *fakeAPI) handler() http.Handler {
	predictStatus := f.predictStatus
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"healthy","model_loaded":true}`)
	})
	mux.HandleFunc("GET /model", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"model_version":"v1","stats":{"users":%d,"movies":40}}`, fakeModelUsers)
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
		if id, err := strconv.Atoi(req.UserID); err == nil {
			f.mu.Lock()
			if f.lo == 0 || id < f.lo {
				f.lo = id
			}
			f.hi = max(f.hi, id)
			f.mu.Unlock()
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
