// Package storetest is the conformance suite of package store: the same
// tests run against every engine (the embedded SQLite store and PostgreSQL),
// so the two cannot drift apart.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/dataset/datasettest"
	"github.com/swipeflix/swipeflix/pkg/store"
)

// Open opens the store cfg describes, failing t when it does not open;
// t.Cleanup closes it.
func Open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenSQLite is Open on an embedded database in a temporary folder.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	return Open(t, store.Config{Path: filepath.Join(t.TempDir(), "swipeflix.db")})
}

// PagedMovieIDs reads the catalog's ids page by page (Movies with size
// movies a page), each page after the last id of the one before.
func PagedMovieIDs(t testing.TB, s *store.Store, size int) []string {
	t.Helper()
	var ids []string
	for after := ""; ; {
		page, err := s.Movies(context.Background(), after, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return ids
		}
		for _, m := range page {
			ids = append(ids, m.ID)
		}
		after = page[len(page)-1].ID
	}
}

// Run runs the suite. open must return a store on an empty, migrated
// database of its own for each call and close it at t.Cleanup.
func Run(t *testing.T, open func(t testing.TB) *store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, *store.Store)
	}{
		{"Migrate", testMigrate},
		{"RegisterGet", testRegisterGet},
		{"RegisterIdempotent", testRegisterIdempotent},
		{"RegisterInvalid", testRegisterInvalid},
		{"List", testList},
		{"Promote", testPromote},
		{"Rollback", testRollback},
		{"ConcurrentPromote", testConcurrentPromote},
		{"Movies", testMovies},
		{"MoviesPaging", testMoviesPaging},
		{"MoviesInvalid", testMoviesInvalid},
		{"LoadCatalog", testLoadCatalog},
		{"LoadCatalogWithoutRatings", testLoadCatalogWithoutRatings},
		{"DriftReports", testDriftReports},
		{"DriftInvalid", testDriftInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)

// Record returns a valid candidate record for version v, created v minutes
// after a fixed time. Exported for other packages' tests.
func Record(v int64) store.ModelRecord {
	return store.ModelRecord{
		Version:      v,
		CreatedAt:    t0.Add(time.Duration(v) * time.Minute),
		Parameters:   json.RawMessage(fmt.Sprintf(`{"factors": 32, "alpha": 0.7, "version": %d}`, v)),
		Metrics:      json.RawMessage(`{"rmse": 0.91, "ndcg@10": 0.12}`),
		DatasetHash:  "sha256:" + strings.Repeat("ab", 32),
		KafkaOffsets: map[int32]int64{0: 100 * v, 1: 7 * v},
		ObjectName:   fmt.Sprintf("model-%06d.snap", v),
		SHA256:       fmt.Sprintf("%064x", v),
		Size:         1000 + v,
	}
}

func jsonEqual(t testing.TB, field string, got, want json.RawMessage) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: stored JSON does not parse: %v (%s)", field, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: test JSON does not parse: %v", field, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", field, got, want)
	}
}

func mustRegister(t testing.TB, s *store.Store, vs ...int64) {
	t.Helper()
	for _, v := range vs {
		if err := s.Register(context.Background(), Record(v)); err != nil {
			t.Fatalf("register %d: %v", v, err)
		}
	}
}

func testMigrate(t *testing.T, s *store.Store) {
	ctx := context.Background()
	ms, err := store.Migrations(s.Dialect())
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if n != 0 {
		t.Errorf("second migrate applied %d migrations, want 0", n)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := ms[len(ms)-1].Version; v != want {
		t.Errorf("schema version %d, want %d", v, want)
	}
}

func testRegisterGet(t *testing.T, s *store.Store) {
	ctx := context.Background()
	want := Record(7)
	if err := s.Register(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "parameters", got.Parameters, want.Parameters)
	jsonEqual(t, "metrics", got.Metrics, want.Metrics)
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("created_at %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if got.RegisteredAt.IsZero() {
		t.Error("registered_at not set")
	}
	if got.Stage != store.StageCandidate {
		t.Errorf("stage %q, want candidate", got.Stage)
	}
	if !reflect.DeepEqual(got.KafkaOffsets, want.KafkaOffsets) {
		t.Errorf("kafka_offsets %v, want %v", got.KafkaOffsets, want.KafkaOffsets)
	}
	if got.Version != want.Version || got.DatasetHash != want.DatasetHash || got.ObjectName != want.ObjectName ||
		got.SHA256 != want.SHA256 || got.Size != want.Size || got.PromotedBy != "" || !got.PromotedAt.IsZero() {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// Empty JSON fields and offsets read back as empty objects.
	bare := Record(8)
	bare.Parameters, bare.Metrics, bare.KafkaOffsets = nil, nil, nil
	if err := s.Register(ctx, bare); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(ctx, 8)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "parameters", got.Parameters, json.RawMessage(`{}`))
	if len(got.KafkaOffsets) != 0 {
		t.Errorf("kafka_offsets %v, want empty", got.KafkaOffsets)
	}

	if _, err := s.Get(ctx, 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Current(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("current with no production: %v, want ErrNotFound", err)
	}
}

func testRegisterIdempotent(t *testing.T, s *store.Store) {
	ctx := context.Background()
	mustRegister(t, s, 1)
	// A retried write of the same snapshot is fine.
	if err := s.Register(ctx, Record(1)); err != nil {
		t.Errorf("re-register same record: %v", err)
	}
	other := Record(1)
	other.SHA256 = fmt.Sprintf("%064x", 999)
	if err := s.Register(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("re-register with another checksum: %v, want ErrConflict", err)
	}
	ms, err := s.List(ctx, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].SHA256 != Record(1).SHA256 {
		t.Errorf("after conflicting writes the registry holds %+v", ms)
	}
}

func testRegisterInvalid(t *testing.T, s *store.Store) {
	tests := []struct {
		field  string
		mutate func(*store.ModelRecord)
	}{
		{"version", func(r *store.ModelRecord) { r.Version = 0 }},
		{"created_at", func(r *store.ModelRecord) { r.CreatedAt = time.Time{} }},
		{"object_name", func(r *store.ModelRecord) { r.ObjectName = " " }},
		{"sha256", func(r *store.ModelRecord) { r.SHA256 = "abc" }},
		{"sha256", func(r *store.ModelRecord) { r.SHA256 = strings.Repeat("A", 64) }},
		{"size", func(r *store.ModelRecord) { r.Size = -1 }},
		{"stage", func(r *store.ModelRecord) { r.Stage = store.StageProduction }},
		{"parameters", func(r *store.ModelRecord) { r.Parameters = json.RawMessage(`[1,2]`) }},
		{"metrics", func(r *store.ModelRecord) { r.Metrics = json.RawMessage(`{"rmse":`) }},
		{"kafka_offsets", func(r *store.ModelRecord) { r.KafkaOffsets = map[int32]int64{0: -5} }},
	}
	for _, tc := range tests {
		r := Record(3)
		tc.mutate(&r)
		err := s.Register(context.Background(), r)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("bad %s: error %v, want ErrInvalid naming the field", tc.field, err)
		}
	}
	if ms, err := s.List(context.Background(), store.ListOptions{}); err != nil || len(ms) != 0 {
		t.Errorf("invalid records were stored: %v, %v", ms, err)
	}
}

func versions(ms []store.ModelRecord) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

func testList(t *testing.T, s *store.Store) {
	ctx := context.Background()
	mustRegister(t, s, 2, 5, 1, 4, 3)
	if _, err := s.Promote(ctx, 3, "alice", "better ndcg"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		opt  store.ListOptions
		want []int64
	}{
		{store.ListOptions{}, []int64{5, 4, 3, 2, 1}},
		{store.ListOptions{Limit: 2}, []int64{5, 4}},
		{store.ListOptions{Stage: store.StageCandidate}, []int64{5, 4, 2, 1}},
		{store.ListOptions{Stage: store.StageProduction}, []int64{3}},
		{store.ListOptions{Stage: store.StageArchived}, []int64{}},
	}
	for _, tc := range tests {
		ms, err := s.List(ctx, tc.opt)
		if err != nil {
			t.Fatalf("list %+v: %v", tc.opt, err)
		}
		if got := versions(ms); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("list %+v = %v, want %v", tc.opt, got, tc.want)
		}
	}
	if _, err := s.List(ctx, store.ListOptions{Stage: "staging"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("list with unknown stage: %v, want ErrInvalid", err)
	}
}

func stageOf(t testing.TB, s *store.Store, v int64) store.Stage {
	t.Helper()
	r, err := s.Get(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	return r.Stage
}

func testPromote(t *testing.T, s *store.Store) {
	ctx := context.Background()
	mustRegister(t, s, 1, 2)
	got, err := s.Promote(ctx, 1, "trainer", "first model")
	if err != nil {
		t.Fatal(err)
	}
	if got.Stage != store.StageProduction || got.PromotedBy != "trainer" || got.Reason != "first model" || got.PromotedAt.IsZero() {
		t.Errorf("promoted record %+v", got)
	}
	if _, err := s.Promote(ctx, 2, "alice", "rmse 0.90"); err != nil {
		t.Fatal(err)
	}
	if st := stageOf(t, s, 1); st != store.StageArchived {
		t.Errorf("previous production is %q, want archived", st)
	}
	cur, err := s.Current(ctx)
	if err != nil || cur.Version != 2 || cur.PromotedBy != "alice" {
		t.Errorf("current = %+v, %v; want version 2 by alice", cur, err)
	}
	// Promoting the production model again changes nothing.
	again, err := s.Promote(ctx, 2, "bob", "again")
	if err != nil || again.PromotedBy != "alice" {
		t.Errorf("re-promote: %+v, %v", again, err)
	}
	if _, err := s.Promote(ctx, 42, "alice", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("promote missing: %v, want ErrNotFound", err)
	}
	if _, err := s.Promote(ctx, 1, "", ""); !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "by") {
		t.Errorf("promote without by: %v, want ErrInvalid naming by", err)
	}
	h, err := s.StageHistory(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, c := range h {
		steps = append(steps, fmt.Sprintf("%s>%s by %s", c.From, c.To, c.Actor))
	}
	want := []string{">candidate by register", "candidate>production by trainer", "production>archived by alice"}
	if !reflect.DeepEqual(steps, want) {
		t.Errorf("history of 1 = %q, want %q", steps, want)
	}
}

func testRollback(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if _, err := s.Rollback(ctx, "ops", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rollback of empty registry: %v, want ErrNotFound", err)
	}
	mustRegister(t, s, 1, 2, 3, 4)
	for _, v := range []int64{1, 2, 3} {
		if _, err := s.Promote(ctx, v, "trainer", "gate passed"); err != nil {
			t.Fatal(err)
		}
	}
	step := func(want int64) {
		t.Helper()
		got, err := s.Rollback(ctx, "ops", "")
		if err != nil {
			t.Fatalf("rollback, want %d: %v", want, err)
		}
		cur, err := s.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != want || cur.Version != want || got.Stage != store.StageProduction || got.PromotedBy != "ops" {
			t.Errorf("rollback gave %d (%s by %s), current %d; want %d", got.Version, got.Stage, got.PromotedBy, cur.Version, want)
		}
	}
	step(2) // 3 -> 2
	if st := stageOf(t, s, 3); st != store.StageArchived {
		t.Errorf("rolled-back model is %q, want archived", st)
	}
	step(1) // 2 -> 1, not back to 3
	if _, err := s.Rollback(ctx, "ops", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rollback past the first production model: %v, want ErrNotFound", err)
	}
	if cur, _ := s.Current(ctx); cur.Version != 1 {
		t.Errorf("a failed rollback changed production to %d", cur.Version)
	}
	// An explicit promotion clears the rollback mark; 4 was never
	// production, so it is never a rollback target.
	if _, err := s.Promote(ctx, 3, "alice", "fixed"); err != nil {
		t.Fatal(err)
	}
	step(1)
	if st := stageOf(t, s, 4); st != store.StageCandidate {
		t.Errorf("untouched candidate is %q", st)
	}
}

func testConcurrentPromote(t *testing.T, s *store.Store) {
	ctx := context.Background()
	const n = 8
	for v := int64(1); v <= n; v++ {
		mustRegister(t, s, v)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for v := int64(1); v <= n; v++ {
		wg.Go(func() {
			if _, err := s.Promote(ctx, v, fmt.Sprintf("worker-%d", v), ""); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent promote: %v", err)
	}
	prod, err := s.List(ctx, store.ListOptions{Stage: store.StageProduction})
	if err != nil {
		t.Fatal(err)
	}
	arch, err := s.List(ctx, store.ListOptions{Stage: store.StageArchived})
	if err != nil {
		t.Fatal(err)
	}
	if len(prod) != 1 || len(arch) != n-1 {
		t.Errorf("after %d concurrent promotions: production %v, archived %v; want 1 and %d", n, versions(prod), versions(arch), n-1)
	}
}

func movie(id string) dataset.Movie {
	return dataset.Movie{
		ID: id, Title: "Movie " + id + " (1999)", Year: 1999,
		Genres: []string{"Comedy", "Drama"}, Tags: []string{"funny"}, Overview: "About " + id,
	}
}

func testMovies(t *testing.T, s *store.Store) {
	ctx := context.Background()
	in := []dataset.Movie{
		movie("1"),
		{ID: "2", Title: "Amélie (Le fabuleux destin d'Amélie Poulain) (2001)", Year: 2001, Genres: []string{"Romance"}},
		{ID: "tt-3", Title: "No genres"},
	}
	if err := s.UpsertMovies(ctx, in); err != nil {
		t.Fatal(err)
	}
	for _, want := range in {
		got, err := s.Movie(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("movie %s = %+v, want %+v", want.ID, got, want)
		}
	}
	// A later load replaces; within one batch the last entry wins.
	up := movie("1")
	up.Title, up.Genres, up.Tags = "Renamed", []string{"Horror"}, nil
	if err := s.UpsertMovies(ctx, []dataset.Movie{movie("1"), up, movie("4")}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Movie(ctx, "1")
	if err != nil || !reflect.DeepEqual(got, up) {
		t.Errorf("after upsert movie 1 = %+v, %v; want %+v", got, err, up)
	}
	if n, err := s.MovieCount(ctx); err != nil || n != 4 {
		t.Errorf("count = %d, %v; want 4", n, err)
	}
	if _, err := s.Movie(ctx, "404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing movie: %v, want ErrNotFound", err)
	}
	if err := s.UpsertMovies(ctx, nil); err != nil {
		t.Errorf("empty upsert: %v", err)
	}
}

func testMoviesPaging(t *testing.T, s *store.Store) {
	ctx := context.Background()
	var in []dataset.Movie
	var want []string
	for i := range 2500 {
		// Mixed-case and numeric ids: byte order must hold on both engines.
		id := fmt.Sprintf("%d", i)
		if i%7 == 0 {
			id = fmt.Sprintf("M%d", i)
		} else if i%11 == 0 {
			id = fmt.Sprintf("a%d", i)
		}
		in = append(in, movie(id))
		want = append(want, id)
	}
	if err := s.UpsertMovies(ctx, in); err != nil {
		t.Fatal(err)
	}
	got := PagedMovieIDs(t, s, 333)
	var all []string
	for m, err := range s.AllMovies(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m.ID)
	}
	slices.Sort(want) // byte order, the order Movies promises
	if !reflect.DeepEqual(got, want) {
		t.Errorf("paged ids: %d ids, first %v; want %d, first %v", len(got), head(got), len(want), head(want))
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("AllMovies: %d ids, want %d", len(all), len(want))
	}
	if _, err := s.Movies(ctx, "", 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("limit 0: %v, want ErrInvalid", err)
	}
}

func head(xs []string) []string { return xs[:min(5, len(xs))] }

func testMoviesInvalid(t *testing.T, s *store.Store) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		want string
		m    dataset.Movie
	}{
		{"movies[1].id", dataset.Movie{Title: "t"}},
		{"movies[1].id", dataset.Movie{ID: long, Title: "t"}},
		{"movies[1].title", dataset.Movie{ID: "9"}},
		{"movies[1].year", dataset.Movie{ID: "9", Title: "t", Year: -1}},
		{"movies[1]", dataset.Movie{ID: "9", Title: "bad\x00"}},
		{"movies[1]", dataset.Movie{ID: "9", Title: "bad\xff"}},
	}
	for _, tc := range tests {
		err := s.UpsertMovies(context.Background(), []dataset.Movie{movie("1"), tc.m})
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want ErrInvalid naming %s", tc.m, err, tc.want)
		}
	}
	if n, err := s.MovieCount(context.Background()); err != nil || n != 0 {
		t.Errorf("a rejected batch stored %d movies (%v)", n, err)
	}
}

func testLoadCatalog(t *testing.T, s *store.Store) {
	dir := datasettest.Dir(t, "ml-latest-small")
	ctx := context.Background()
	want, err := dataset.ReadCatalog(dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.LoadCatalog(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	count, err := s.MovieCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) || count != len(want) {
		t.Errorf("loaded %d, count %d; the file has %d movies", n, count, len(want))
	}
	// Every movie reads back as the file has it; a second load is an update.
	byID := map[string]dataset.Movie{}
	for _, m := range want {
		byID[m.ID] = m
	}
	seen := 0
	for got, err := range s.AllMovies(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		seen++
		if w := byID[got.ID]; !reflect.DeepEqual(got, w) {
			t.Fatalf("movie %s = %+v, file has %+v", got.ID, got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("iterated %d movies, want %d", seen, len(want))
	}
	if _, err := s.LoadCatalog(ctx, dir); err != nil {
		t.Errorf("second load: %v", err)
	}
	if count, _ := s.MovieCount(ctx); count != len(want) {
		t.Errorf("after a second load: %d movies, want %d", count, len(want))
	}
}

// A catalog folder needs its movies file only: one's own catalog comes
// without ratings. A folder without movies is refused, naming what it wants.
func testLoadCatalogWithoutRatings(t *testing.T, s *store.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	syn := dataset.Generate(dataset.SizedConfig(2000, 4))
	if err := syn.WriteDir(dir, dataset.CSV); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "ratings.csv")); err != nil {
		t.Fatal(err)
	}
	n, err := s.LoadCatalog(ctx, dir)
	if err != nil {
		t.Fatalf("load a catalog without ratings: %v", err)
	}
	if n != len(syn.Catalog) {
		t.Errorf("loaded %d movies, the folder has %d", n, len(syn.Catalog))
	}
	_, err = s.LoadCatalog(ctx, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no movies file") {
		t.Errorf("load an empty folder: %v, want an error saying it has no movies file", err)
	}
}

func report(at time.Time, score float64) store.DriftReport {
	return store.DriftReport{
		GeneratedAt:  at,
		Score:        score,
		DatasetDrift: score >= 0.5,
		Report:       json.RawMessage(fmt.Sprintf(`{"score": %v, "features": [{"name": "rating", "drifted": true}]}`, score)),
	}
}

func testDriftReports(t *testing.T, s *store.Store) {
	ctx := context.Background()
	if _, err := s.LatestDriftReport(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("latest of none: %v, want ErrNotFound", err)
	}
	scores := []float64{0.1, 0.6, 0.3, 0.0, 1}
	ids := map[int64]bool{}
	for i, sc := range scores {
		id, err := s.SaveDriftReport(ctx, report(t0.Add(time.Duration(i)*time.Hour), sc))
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if len(ids) != len(scores) {
		t.Errorf("ids not unique: %v", ids)
	}
	latest, err := s.LatestDriftReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := report(t0.Add(4*time.Hour), 1)
	if latest.Score != 1 || !latest.DatasetDrift || !latest.GeneratedAt.Equal(want.GeneratedAt) {
		t.Errorf("latest = %+v", latest)
	}
	jsonEqual(t, "report", latest.Report, want.Report)

	hist, err := s.DriftHistory(ctx, t0.Add(time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, r := range hist {
		got = append(got, r.Score)
	}
	if !reflect.DeepEqual(got, []float64{1, 0.0, 0.3}) {
		t.Errorf("history since +1h, limit 3: scores %v, want [1 0 0.3]", got)
	}
	hist, err = s.DriftHistory(ctx, t0.Add(3*time.Hour+time.Minute), 10)
	if err != nil || len(hist) != 1 {
		t.Errorf("history since +3h01: %d reports, %v; want 1", len(hist), err)
	}
	if _, err := s.DriftHistory(ctx, t0, 0); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("limit 0: %v, want ErrInvalid", err)
	}
}

func testDriftInvalid(t *testing.T, s *store.Store) {
	tests := []struct {
		field string
		r     store.DriftReport
	}{
		{"generated_at", store.DriftReport{Score: 0.1, Report: json.RawMessage(`{}`)}},
		{"score", report(t0, 1.5)},
		{"score", report(t0, -0.1)},
		{"report", store.DriftReport{GeneratedAt: t0, Report: json.RawMessage(`"x"`)}},
		{"report", store.DriftReport{GeneratedAt: t0}},
	}
	for _, tc := range tests {
		_, err := s.SaveDriftReport(context.Background(), tc.r)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("bad %s: %v, want ErrInvalid naming it", tc.field, err)
		}
	}
}
