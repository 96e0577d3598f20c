package eval

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swipeflix/swipeflix/pkg/recommend"
)

// sharedData is ../shared/datasets relative to the repository root.
func sharedData(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "datasets", name)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("dataset %s not present: %v", name, err)
	}
	if testing.Short() || raceEnabled {
		t.Skip("real-data evaluation runs without -short and without -race (make test's second pass)")
	}
	return dir
}

func TestML100KTargets(t *testing.T) {
	rep, err := Run(sharedData(t, "ml-100k"), Options{Model: recommend.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	var sb stringsBuilder
	rep.WriteTable(&sb)
	t.Log("\n" + sb.String())
	rows := map[string]Row{}
	for _, r := range rep.Models {
		rows[r.Name] = r
	}
	if h := rows["hybrid"]; h.NDCG < 0.40 || h.RMSE > 0.915 {
		t.Errorf("hybrid NDCG@10 %.4f (target >= 0.40), RMSE %.4f (target <= 0.915)", h.NDCG, h.RMSE)
	}
	if rows["hybrid"].NDCG <= rows["popularity"].NDCG || rows["popularity"].NDCG <= rows["random"].NDCG {
		t.Errorf("ordering broken: %+v", rows)
	}
}

func TestMLLatestSmallPrequential(t *testing.T) {
	rep, err := Run(sharedData(t, "ml-latest-small"), Options{Protocol: ProtocolPrequential, Model: recommend.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	var sb stringsBuilder
	rep.WriteTable(&sb)
	t.Log("\n" + sb.String())
	rows := map[string]Row{}
	for _, r := range rep.Models {
		rows[r.Name] = r
	}
	if live, static := rows["hybrid"].HR, rows["hybrid-static"].HR; live < 1.2*static {
		t.Errorf("fold-in hit rate %.4f is under 1.2x the static %.4f", live, static)
	}
}

type stringsBuilder = strings.Builder
