package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
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

// On data generated from latent tastes, the served pipeline must beat
// popularity and popularity must beat random; every row of the nested run
// is there, with what the search chose per split.
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
	if rep.Protocol != ProtocolKFold || rep.Splits != 3 || len(rep.Chosen) != 3 {
		t.Fatalf("protocol %s splits %d chosen %v", rep.Protocol, rep.Splits, rep.Chosen)
	}
	rows := map[string]Row{}
	var names []string
	for _, r := range rep.Models {
		rows[r.Name] = r
		names = append(names, r.Name)
	}
	want := []string{"random", "popularity", "biases", "puresvd", "ease", "ials", "knn", "fixed-hybrid", "hybrid"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("rows %v, want %v", names, want)
	}
	if !(rows["hybrid"].NDCG > rows["popularity"].NDCG && rows["popularity"].NDCG > rows["random"].NDCG) {
		t.Errorf("NDCG hybrid %.3f popularity %.3f random %.3f", rows["hybrid"].NDCG, rows["popularity"].NDCG, rows["random"].NDCG)
	}
	if !(rows["hybrid"].RMSE <= rows["biases"].RMSE && rows["biases"].RMSE < rows["random"].RMSE) {
		t.Errorf("RMSE hybrid %.3f biases %.3f random %.3f", rows["hybrid"].RMSE, rows["biases"].RMSE, rows["random"].RMSE)
	}
	if !math.IsNaN(rows["biases"].NDCG) {
		t.Errorf("biases has a top-N figure %v", rows["biases"].NDCG)
	}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "hybrid") || !strings.Contains(buf.String(), "split 3: hybrid = ") {
		t.Errorf("table: %v\n%s", err, buf.String())
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Models []map[string]any `json:"models"`
		Chosen []string         `json:"chosen"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	last := back.Models[len(back.Models)-1]
	for _, key := range []string{"name", "rmse", "mae", "precision@10", "recall@10", "ndcg@10", "hr@10", "coverage", "fit_seconds"} {
		if _, ok := last[key]; !ok {
			t.Errorf("JSON row lacks %q: %s", key, b)
		}
	}
	if last["name"] != "hybrid" || len(back.Chosen) != 3 {
		t.Errorf("last row is %v, chosen %v", last["name"], back.Chosen)
	}
	// The other protocols' plumbing: one family is enough (and keeps the
	// race-detector pass short).
	one := recommend.TuneOptions{Families: []recommend.Family{recommend.FamilyPureSVD}}
	for _, p := range []string{ProtocolTemporal, ProtocolPrequential} {
		rep, err := Run(dir, Options{Model: smallConfig(), Protocol: p, NoFixed: true, Tune: one})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, r := range rep.Models {
			if math.IsNaN(r.HR) && r.Name != "biases" || r.HR < 0 || r.HR > 1 {
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
// users arriving over time, the folded-in tuned model hits more often than
// the frozen one.
func TestPrequentialFoldInHelps(t *testing.T) {
	all := dataset.Generate(dataset.SynthConfig{Seed: 5, Users: 200, Movies: 300, Ratings: 20000, MinPerUser: 20}).Ratings()
	res, err := Prequential(all, nil, Options{}, 4)
	rows := res.Rows
	if err != nil {
		t.Fatal(err)
	}
	if rows[2].Name != "hybrid" || rows[1].Name != "hybrid-static" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[2].HR <= rows[1].HR {
		t.Errorf("fold-in hit rate %.4f <= static %.4f (%s)", rows[2].HR, rows[1].HR, res.Chosen)
	}
	if ov := res.RefitOverlap; ov <= 0 || ov > 1 {
		t.Errorf("overlap with refit %v", ov)
	}
}

// A plain "user item rating" file on a 0.5..4 scale with a few invalid
// lines: -skip-invalid reads it, the header says how the scale maps, and
// -relevant is taken on the file's scale. Without -skip-invalid the error
// names the file and line.
func TestCommandPlainFileOtherScale(t *testing.T) {
	dir := t.TempDir()
	syn := dataset.Generate(dataset.SynthConfig{Seed: 3, Users: 120, Movies: 150, Ratings: 6000, MinPerUser: 15, HalfStars: true})
	var b strings.Builder
	for i, r := range syn.Ratings() {
		v := math.Max(0.5, math.Round(r.Value*0.8*2)/2) // 0.5..4
		fmt.Fprintf(&b, "%s %s %g\n", r.User, r.Movie, v)
		if i == 10 {
			b.WriteString("7 8 0\n")
		}
		if i == 20 {
			b.WriteString("broken\n")
		}
	}
	path := filepath.Join(dir, "ratings.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err := Command([]string{"-data", path, "-folds", "2", "-no-fixed"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "ratings.txt:12") {
		t.Fatalf("without -skip-invalid: %v", err)
	}
	out.Reset()
	if err := Command([]string{"-data", path, "-folds", "2", "-no-fixed", "-skip-invalid", "-relevant", "3.5", "-json"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SkippedLines != 2 || len(rep.FirstSkipped) != 2 || rep.FirstSkipped[0] != "ratings.txt:12" {
		t.Errorf("skipped %d %v", rep.SkippedLines, rep.FirstSkipped)
	}
	if !strings.Contains(rep.Scale, "0.5..4, mapped onto 0.5..5") || rep.Relevant != 3.5 {
		t.Errorf("scale %q relevant %v", rep.Scale, rep.Relevant)
	}
	rows := map[string]Row{}
	for _, r := range rep.Models {
		rows[r.Name] = r
	}
	if h, p := rows["hybrid"].NDCG, rows["popularity"].NDCG; !(h >= p) || h == 0 {
		t.Errorf("hybrid NDCG %.4f, popularity %.4f: %v %s", h, p, rep.Chosen, out.String())
	}
	if err := Command([]string{"-data", path, "-bogus"}, &out, &errOut); err == nil {
		t.Error("unknown flag accepted")
	}
}

// A 2-fold split must not follow the ids' digits: each user's test half
// holds movies of both parities of the digit sum.
func TestKFoldMixesIDs(t *testing.T) {
	all := dataset.Generate(dataset.SynthConfig{Seed: 1, Users: 50, Movies: 80, Ratings: 2000}).Ratings()
	parity := func(s string) int {
		p := 0
		for _, c := range []byte(s) {
			p ^= int(c & 1)
		}
		return p
	}
	test := map[[2]int]int{}
	for _, r := range KFold(all, 2, 1)[0].Test {
		test[[2]int{parity(r.User), parity(r.Movie)}]++
	}
	if len(test) != 4 {
		t.Errorf("test set by (user, movie) id parity: %v", test)
	}
}

// TrainSet gives the model the same input as interactions, plus each
// rating's time in nanoseconds when every record has one.
func TestTrainSetCarriesTimes(t *testing.T) {
	all := dataset.Generate(dataset.SynthConfig{Seed: 3, Users: 40, Movies: 60, Ratings: 1500}).Ratings()
	ts := TrainSet(all, nil)
	if len(ts.Ratings.Time) != len(all) || len(ts.Interactions) != 0 {
		t.Fatalf("time column of %d for %d ratings (%d interactions)", len(ts.Ratings.Time), len(all), len(ts.Interactions))
	}
	for i, r := range all {
		if ts.Ratings.Time[i] != r.Time*1e9 || ts.Ratings.UserIDs[ts.Ratings.User[i]] != r.User || ts.Ratings.MovieIDs[ts.Ratings.Movie[i]] != r.Movie {
			t.Fatalf("rating %d: %+v became time %d", i, r, ts.Ratings.Time[i])
		}
	}
	var its recommend.TrainSet
	for _, r := range all {
		its.Interactions = append(its.Interactions, recommend.Interaction{User: r.User, Movie: r.Movie, Value: r.Value})
	}
	cfg := recommend.Config{Family: recommend.FamilyPureSVD, Workers: 1}
	a, err := recommend.Fit(ts, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := recommend.Fit(its, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ab, bb) {
		t.Error("the columnar input fits another model than interactions")
	}
	all[7].Time = 0
	if ts := TrainSet(all, nil); ts.Ratings.Time != nil {
		t.Error("a record without a time left a time column")
	}
}

// The nested search's split mirrors the outer protocol unless one is asked for.
func TestInnerSplitMirrorsProtocol(t *testing.T) {
	for _, c := range []struct {
		protocol string
		asked    recommend.ValidationSplit
		want     recommend.ValidationSplit
	}{
		{ProtocolFolds, "", recommend.SplitRandom},
		{ProtocolKFold, "", recommend.SplitRandom},
		{"", "", recommend.SplitRandom},
		{ProtocolTemporal, "", recommend.SplitUserTime},
		{ProtocolTemporal, recommend.SplitGlobalTime, recommend.SplitGlobalTime},
		{ProtocolKFold, recommend.SplitUserTime, recommend.SplitUserTime},
	} {
		if got := innerSplit(Options{Protocol: c.protocol, Tune: recommend.TuneOptions{Split: c.asked}}); got != c.want {
			t.Errorf("protocol %q, asked %q: %s, want %s", c.protocol, c.asked, got, c.want)
		}
	}
}
