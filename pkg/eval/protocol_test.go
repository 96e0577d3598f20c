package eval

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/recommend"
)

func smallConfig() recommend.Config {
	c := recommend.DefaultConfig()
	c.Factors, c.RatingFactors = 8, 8
	return c
}

func TestKFoldPartitions(t *testing.T) {
	all := dataset.Generate(dataset.SynthConfig{Seed: 1, Users: 50, Movies: 80, Ratings: 2000}).Ratings()
	splits := KFold(all, 5, 7)
	seen := map[[2]string]int{}
	for _, sp := range splits {
		if len(sp.Train)+len(sp.Test) != len(all) {
			t.Fatalf("split sizes %d + %d != %d", len(sp.Train), len(sp.Test), len(all))
		}
		for _, r := range sp.Test {
			seen[[2]string{r.User, r.Movie}]++
		}
	}
	if len(seen) != len(all) {
		t.Fatalf("test sets cover %d of %d ratings", len(seen), len(all))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%v is in %d test sets", k, n)
		}
	}
}

func TestTemporalHoldsOutEachUsersLatest(t *testing.T) {
	var all []dataset.Rating
	for i := 0; i < 10; i++ {
		all = append(all, dataset.Rating{User: "a", Movie: string(rune('A' + i)), Value: 4, Time: int64(100 - i)})
	}
	sp := Temporal(all, 0.2)
	if len(sp.Test) != 2 || len(sp.Train) != 8 {
		t.Fatalf("train %d test %d, want 8 and 2", len(sp.Train), len(sp.Test))
	}
	for _, r := range sp.Test {
		if r.Time < 99 {
			t.Errorf("held out an old rating: %+v", r)
		}
	}
}

// On data generated from latent tastes, the factorisation must beat
// popularity and popularity must beat random.
func TestRunOnGeneratedData(t *testing.T) {
	dir := t.TempDir()
	syn := dataset.Generate(dataset.SynthConfig{Seed: 2, Users: 300, Movies: 400, Ratings: 30000, MinPerUser: 20})
	if err := syn.WriteDir(dir, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(dir, Options{Model: smallConfig(), Folds: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Protocol != ProtocolKFold || rep.Splits != 3 {
		t.Fatalf("protocol %s splits %d", rep.Protocol, rep.Splits)
	}
	rows := map[string]Row{}
	for _, r := range rep.Models {
		rows[r.Name] = r
	}
	if len(rows) != 5 {
		t.Fatalf("rows %v", rep.Models)
	}
	if !(rows["hybrid"].NDCG > rows["popularity"].NDCG && rows["popularity"].NDCG > rows["random"].NDCG) {
		t.Errorf("NDCG hybrid %.3f popularity %.3f random %.3f", rows["hybrid"].NDCG, rows["popularity"].NDCG, rows["random"].NDCG)
	}
	if !(rows["hybrid"].RMSE < rows["popularity"].RMSE && rows["popularity"].RMSE < rows["random"].RMSE) {
		t.Errorf("RMSE hybrid %.3f popularity %.3f random %.3f", rows["hybrid"].RMSE, rows["popularity"].RMSE, rows["random"].RMSE)
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "hybrid") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Models []map[string]any `json:"models"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"name", "rmse", "mae", "precision@10", "recall@10", "ndcg@10", "hr@10", "coverage", "fit_seconds"} {
		if _, ok := back.Models[4][key]; !ok {
			t.Errorf("JSON row lacks %q: %s", key, b)
		}
	}
	if back.Models[4]["name"] != "hybrid" {
		t.Errorf("last row is %v, want hybrid", back.Models[4]["name"])
	}
	for _, p := range []string{ProtocolTemporal, ProtocolPrequential} {
		rep, err := Run(dir, Options{Model: smallConfig(), Protocol: p})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, r := range rep.Models {
			if math.IsNaN(r.HR) || r.HR < 0 || r.HR > 1 {
				t.Errorf("%s %s: HR %v", p, r.Name, r.HR)
			}
		}
	}
	if _, err := Run(dir, Options{Protocol: "bogus"}); err == nil {
		t.Error("unknown protocol accepted")
	}
	if _, err := Run(dir, Options{Protocol: ProtocolFolds}); err == nil {
		t.Error("folds accepted on a dataset without u1..u5")
	}
}

// Fold-in must make the replay track users: on generated data with fresh
// users arriving over time, the folded-in model hits more often than the
// frozen one.
func TestPrequentialFoldInHelps(t *testing.T) {
	all := dataset.Generate(dataset.SynthConfig{Seed: 5, Users: 200, Movies: 300, Ratings: 20000, MinPerUser: 20}).Ratings()
	res, err := Prequential(all, nil, smallConfig(), 0.5)
	rows := res.Rows
	if err != nil {
		t.Fatal(err)
	}
	if rows[2].Name != "hybrid" || rows[1].Name != "hybrid-static" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[2].HR <= rows[1].HR {
		t.Errorf("fold-in hit rate %.4f <= static %.4f", rows[2].HR, rows[1].HR)
	}
	if ov := res.RefitOverlap; ov <= 0 || ov > 1 {
		t.Errorf("overlap with refit %v", ov)
	}
}
