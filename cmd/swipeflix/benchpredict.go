package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/eval"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/recommend"
	"github.com/swipeflix/swipeflix/services/api/api"
)

// predictBenchConfig is what bench-predict measures.
type predictBenchConfig struct {
	Data     string // MovieLens folder; absent: a generated dataset
	Ratings  int    // ratings of the generated dataset
	Rates    []int  // user deltas per second, one phase each
	Movies   int    // new movies each delta carries besides its user
	Runs     int
	Clients  int
	Duration time.Duration // measured, per phase
	Warmup   time.Duration // before each phase's measure
}

// predictPhase is one phase's figures.
type predictPhase struct {
	Run            int     `json:"run"`
	DeltasAsked    int     `json:"deltas_per_sec_asked"`
	DeltasPerSec   float64 `json:"deltas_per_sec_applied"`
	Requests       int     `json:"requests"`
	Errors         int     `json:"errors"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	P999Ms         float64 `json:"p999_ms"`
	MaxMs          float64 `json:"max_ms"`
	// ApplyP50Ms and ApplyP99Ms are the time the api's delta callback
	// took, waiting for a lock included: with a write lock, the time new
	// requests wait behind each delta.
	ApplyP50Ms      float64 `json:"apply_p50_ms"`
	ApplyP99Ms      float64 `json:"apply_p99_ms"`
	LoadAverageLate string  `json:"load_average_at_end"`
	// MoviesAtEnd is the model's catalog when the phase ended: deltas
	// with new movies grow it.
	MoviesAtEnd int `json:"movies_at_end"`
}

// predictBench is bench-predict's report.
type predictBench struct {
	Dataset     string         `json:"dataset"`
	Ratings     int            `json:"ratings"`
	Users       int            `json:"users"`
	Movies      int            `json:"movies"`
	MoviesPer   int            `json:"new_movies_per_delta"`
	Family      string         `json:"family"`
	Clients     int            `json:"clients"`
	DurationSec float64        `json:"duration_seconds"`
	CPUs        int            `json:"cpus"`
	Go          string         `json:"go"`
	LoadStart   string         `json:"load_average_at_start"`
	Phases      []predictPhase `json:"phases"`
}

// runBenchPredict is `swipeflix bench-predict`: uncached /predict through
// a real listener while user deltas, each with -movies new movies, arrive
// through the api's delta path (issue 12's tail latency).
func runBenchPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("bench-predict", "bench-predict [-data DIR] [-rates 0,1000] [-runs N] [-json] [flags]", stderr)
	cfg := predictBenchConfig{}
	fs.StringVar(&cfg.Data, "data", filepath.Join("..", "shared", "datasets", "ml-latest-small"), "MovieLens folder; when absent, a generated dataset of -ratings")
	fs.IntVar(&cfg.Ratings, "ratings", 100_000, "ratings of the generated dataset used when -data is absent")
	rates := fs.String("rates", "0,1000", "user deltas per second, comma separated: one phase each")
	fs.IntVar(&cfg.Movies, "movies", 0, "new movies each delta carries besides its user, as the trainer sends a movie new since the fit with its raters")
	fs.IntVar(&cfg.Runs, "runs", 1, "times to run every phase, in turn")
	fs.IntVar(&cfg.Clients, "clients", 32, "closed-loop HTTP clients")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time of a phase")
	fs.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "time a phase runs before it is measured")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, f := range strings.Split(*rates, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 0 {
			return fmt.Errorf("bench-predict: -rates %q: want rates >= 0, comma separated", *rates)
		}
		cfg.Rates = append(cfg.Rates, r)
	}
	if cfg.Runs < 1 || cfg.Clients < 1 || cfg.Duration <= 0 || cfg.Warmup < 0 || cfg.Ratings < 1 || cfg.Movies < 0 {
		return errors.New("bench-predict: -runs, -clients and -ratings must be >= 1, -duration > 0, -warmup >= 0, -movies >= 0")
	}
	res, err := benchPredictLoad(ctx, cfg, stderr)
	if err != nil {
		return fmt.Errorf("bench-predict: %w", err)
	}
	return report(stdout, *asJSON, res, func(w io.Writer) { printPredictBench(w, res) })
}

// report writes a bench command's result: one indented JSON object with
// asJSON, else the table that table prints.
func report(w io.Writer, asJSON bool, res any, table func(io.Writer)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	table(w)
	return nil
}

// benchPredictLoad fits the model, serves it from an api on a loopback
// listener with the answer cache off, and runs the phases.
func benchPredictLoad(ctx context.Context, cfg predictBenchConfig, stderr io.Writer) (*predictBench, error) {
	res := &predictBench{Clients: cfg.Clients, DurationSec: cfg.Duration.Seconds(), CPUs: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), LoadStart: loadAvg()}
	ratings, movies, err := benchDataset(cfg, res)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "bench-predict: fitting on %s (%d ratings)\n", res.Dataset, len(ratings))
	model, err := recommend.Fit(eval.TrainSet(ratings, movies), recommend.DefaultConfig())
	if err != nil {
		return nil, err
	}
	model.Version = 1
	st := model.Stats()
	res.Ratings, res.Users, res.Movies, res.Family = len(ratings), st.Users, st.Movies, string(st.Family)
	res.MoviesPer = cfg.Movies
	src, err := newBenchSource(model)
	if err != nil {
		return nil, err
	}
	// A movie is new once: deltas with movies are not reused, so there
	// are as many as the phases can apply.
	n := 2000
	if cfg.Movies > 0 {
		n = 0
		for _, r := range cfg.Rates {
			n += int(float64(r)*(cfg.Warmup+cfg.Duration).Seconds()) + r
		}
		n *= cfg.Runs
		fmt.Fprintf(stderr, "bench-predict: folding in %d deltas of %d new movies each\n", n, cfg.Movies)
	}
	deltas, users, err := benchDeltas(model, ratings, movies, n, cfg.Movies)
	if err != nil {
		return nil, err
	}

	acfg := api.DefaultConfig()
	acfg.CacheEntries = 0
	acfg.Addr = "127.0.0.1:0"
	svc, err := api.New(acfg, api.Deps{Logger: slog.New(slog.DiscardHandler), Source: src})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, ln) }()
	defer func() {
		cancel()
		<-served
	}()

	url := "http://" + ln.Addr().String() + "/predict"
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: cfg.Clients, MaxConnsPerHost: cfg.Clients, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	bodies := make([][]byte, len(users))
	for i, u := range users {
		bodies[i] = fmt.Appendf(nil, `{"user_id": %q, "top_k": 10}`, u)
	}
	if err := waitServing(ctx, hc, url, bodies[0]); err != nil {
		return nil, err
	}
	apply, err := src.subscribed(ctx)
	if err != nil {
		return nil, err
	}
	sent := 0
	for run := 1; run <= cfg.Runs; run++ {
		for _, rate := range cfg.Rates {
			fmt.Fprintf(stderr, "bench-predict: run %d, %d deltas/s\n", run, rate)
			ph := runPredictPhase(ctx, cfg, hc, url, bodies, rate, func(int) {
				apply(1, deltas[sent%len(deltas)])
				sent++
			})
			ph.Run = run
			ph.MoviesAtEnd = res.Movies + min(sent, len(deltas))*cfg.Movies
			res.Phases = append(res.Phases, ph)
		}
	}
	return res, ctx.Err()
}

// benchDataset reads cfg.Data, or generates a dataset when it is absent.
func benchDataset(cfg predictBenchConfig, res *predictBench) ([]dataset.Rating, []dataset.Movie, error) {
	if _, err := os.Stat(cfg.Data); err != nil {
		syn := dataset.Generate(dataset.SizedConfig(cfg.Ratings, 1))
		res.Dataset = fmt.Sprintf("generated (seed 1; %s absent)", cfg.Data)
		return syn.Ratings(), syn.Catalog, nil
	}
	src, err := dataset.Open(cfg.Data)
	if err != nil {
		return nil, nil, err
	}
	ratings, err := src.LoadAll()
	if err != nil {
		return nil, nil, err
	}
	movies, err := src.Movies()
	if err != nil {
		return nil, nil, err
	}
	res.Dataset = filepath.Base(cfg.Data)
	return ratings, movies, nil
}

// benchDeltas encodes n one-user deltas as the trainer would send them: a
// random user's ratings plus a swipe on a random movie, folded in by
// FoldUser; with perDelta > 0, the delta also carries that many movies new
// to the model (FoldMovie, each with the genres and tags of a catalog
// movie, rated by the user, whose swipe is on the first of them, and two
// other users). It also returns every user id, in order of first rating.
func benchDeltas(m *recommend.Model, ratings []dataset.Rating, catalog []dataset.Movie, n, perDelta int) ([][]byte, []string, error) {
	rated := map[string][]recommend.Rated{}
	var users []string
	for _, r := range ratings {
		if _, ok := rated[r.User]; !ok {
			users = append(users, r.User)
		}
		rated[r.User] = append(rated[r.User], recommend.Rated{Movie: r.Movie, Value: float32(r.Value)})
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for j := range out {
		u := users[rng.IntN(len(users))]
		swipe := recommend.Rated{Movie: ratings[rng.IntN(len(ratings))].Movie, Value: float32(1 + rng.IntN(5))}
		var mds []recommend.MovieDelta
		for q := range perDelta {
			like := catalog[rng.IntN(len(catalog))]
			info := recommend.MovieInfo{ID: fmt.Sprintf("bench-new-%d-%d", j, q), Title: "New " + like.Title,
				Year: like.Year, Genres: like.Genres, Tags: like.Tags, Overview: like.Overview}
			raters := []recommend.Rater{{User: u, Value: swipe.Value}}
			for range 2 {
				raters = append(raters, recommend.Rater{User: users[rng.IntN(len(users))], Value: float32(1 + rng.IntN(5))})
			}
			mds = append(mds, m.FoldMovie(info, raters))
			if q == 0 {
				swipe.Movie = info.ID
			}
		}
		ud := m.FoldUser(u, append(rated[u][:len(rated[u]):len(rated[u])], swipe))
		b, err := recommend.EncodeDelta(recommend.Delta{BaseVersion: m.Version, Seq: int64(j + 1), Movies: mds, Users: []recommend.UserDelta{ud}})
		if err != nil {
			return nil, nil, err
		}
		out[j] = b
	}
	return out, users, nil
}

// waitServing waits until /predict answers 200.
func waitServing(ctx context.Context, hc *http.Client, url string, body []byte) error {
	for {
		status, err := postPredict(ctx, hc, url, body)
		if err == nil && status == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the api never served the model: %w (last: %d, %v)", ctx.Err(), status, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func postPredict(ctx context.Context, hc *http.Client, url string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// runPredictPhase runs cfg.Clients closed-loop clients for the warm-up and
// the measured time, while apply is called rate times a second (paced every
// millisecond, as a subscription delivers them), and measures the requests
// that started after the warm-up.
func runPredictPhase(ctx context.Context, cfg predictBenchConfig, hc *http.Client, url string, bodies [][]byte, rate int, apply func(j int)) predictPhase {
	start := time.Now()
	measureFrom, end := start.Add(cfg.Warmup), start.Add(cfg.Warmup+cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var applyLat []time.Duration
	var wg sync.WaitGroup
	if rate > 0 {
		wg.Go(func() {
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			sent := 0
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-tick.C:
					for due := int(now.Sub(start).Seconds() * float64(rate)); sent < due; sent++ {
						t0 := time.Now()
						apply(sent)
						if !now.Before(measureFrom) {
							applyLat = append(applyLat, time.Since(t0))
						}
					}
				}
			}
		})
	}
	lat := make([][]time.Duration, cfg.Clients)
	errs := make([]int, cfg.Clients)
	for c := range cfg.Clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 3))
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				status, err := postPredict(ctx, hc, url, bodies[rng.IntN(len(bodies))])
				if ctx.Err() != nil {
					return
				}
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil || status != http.StatusOK {
					errs[c]++
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	ph := predictPhase{DeltasAsked: rate, LoadAverageLate: loadAvg()}
	for c := range lat {
		all = append(all, lat[c]...)
		ph.Errors += errs[c]
	}
	ph.Requests = len(all)
	secs := cfg.Duration.Seconds()
	ph.RequestsPerSec = float64(len(all)) / secs
	ph.DeltasPerSec = float64(len(applyLat)) / secs
	ph.P50Ms, ph.P99Ms, ph.P999Ms, ph.MaxMs = quantileMs(all, 0.5), quantileMs(all, 0.99), quantileMs(all, 0.999), quantileMs(all, 1)
	ph.ApplyP50Ms, ph.ApplyP99Ms = quantileMs(applyLat, 0.5), quantileMs(applyLat, 0.99)
	return ph
}

func printPredictBench(w io.Writer, r *predictBench) {
	fmt.Fprintf(w, "bench-predict: %s, %d ratings, %d users, %d movies, %s; answer cache off; %d new movies per delta\n",
		r.Dataset, r.Ratings, r.Users, r.Movies, r.Family, r.MoviesPer)
	fmt.Fprintf(w, "%d closed-loop clients over loopback HTTP, %.0f s measured per phase; %d CPUs, %s; load average %s at start\n\n",
		r.Clients, r.DurationSec, r.CPUs, r.Go, r.LoadStart)
	fmt.Fprintln(w, "| run | deltas/s asked | applied | req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | apply p50 / p99 ms | movies at end | load average at end |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, p := range r.Phases {
		fmt.Fprintf(w, "| %d | %d | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %d | %.3f / %.3f | %d | %s |\n", p.Run, p.DeltasAsked, p.DeltasPerSec,
			p.RequestsPerSec, p.P50Ms, p.P99Ms, p.P999Ms, p.MaxMs, p.Errors, p.ApplyP50Ms, p.ApplyP99Ms, p.MoviesAtEnd, p.LoadAverageLate)
	}
}

// benchSource is the api's model source for bench-predict: one manifest,
// its snapshot, and a delta subscription whose callback the bench drives.
type benchSource struct {
	manifest modelbus.Manifest
	snapshot []byte
	sub      chan func(version int64, payload []byte)
}

var _ api.Source = (*benchSource)(nil)

func newBenchSource(m *recommend.Model) (*benchSource, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return &benchSource{snapshot: b, sub: make(chan func(int64, []byte), 1),
		manifest: modelbus.Manifest{Version: m.Version, Object: "bench-predict", SHA256: hex.EncodeToString(sum[:]),
			Size: int64(len(b)), CreatedAt: time.Now()}}, nil
}

func (s *benchSource) Watch(ctx context.Context, fn func(modelbus.Manifest)) error {
	fn(s.manifest)
	<-ctx.Done()
	return nil
}

func (s *benchSource) Fetch(context.Context, modelbus.Manifest) ([]byte, error) {
	return s.snapshot, nil
}

func (s *benchSource) History(context.Context) ([]modelbus.Manifest, error) {
	return []modelbus.Manifest{s.manifest}, nil
}

// SubscribeDeltas hands fn, the api's delta callback, to subscribed.
func (s *benchSource) SubscribeDeltas(ctx context.Context, fn func(version int64, payload []byte)) error {
	select {
	case s.sub <- fn:
	case <-ctx.Done():
	}
	<-ctx.Done()
	return nil
}

// subscribed returns the api's delta callback once it subscribed.
func (s *benchSource) subscribed(ctx context.Context) (func(version int64, payload []byte), error) {
	select {
	case fn := <-s.sub:
		return fn, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
