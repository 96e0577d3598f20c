package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/swipeflix/swipeflix/pkg/endpoints"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
)

// benchSizes are the dataset sizes -size names.
var benchSizes = map[string]int{"1M": 1_000_000, "10M": 10_000_000, "25M": 25_000_000}

// benchScaleConfig is what `swipeflix bench-scale` runs.
type benchScaleConfig struct {
	Ratings  int
	Users    int // 0: in proportion to MovieLens-25M, as generate
	Movies   int // 0: likewise
	Seed     uint64
	Dir      string // generated datasets (kept) and the run's data (replaced)
	Requests int    // uncached /predict requests timed
	Swipes   int    // new users' swipes timed once everything settled
	Timeout  time.Duration
	Quiet    bool
}

// benchResult is the outcome of one bench-scale run, the JSON object of
// -json. Pointers are null when the run could not measure them (a refit the
// quality gate kept, a catch-up too short to probe).
type benchResult struct {
	Ratings int    `json:"ratings"`
	Users   int    `json:"users"`
	Movies  int    `json:"movies"`
	Seed    uint64 `json:"seed"`
	Machine struct {
		CPUs          int    `json:"cpus"`
		MemTotalBytes int64  `json:"mem_total_bytes"`
		LoadStart     string `json:"load_avg_start"`
		LoadEnd       string `json:"load_avg_end"`
		Go            string `json:"go"`
	} `json:"machine"`
	Date            string  `json:"date"`
	DataCached      bool    `json:"data_cached"`
	GenerateSeconds float64 `json:"generate_seconds"`

	PublishSeconds      float64 `json:"publish_seconds"`
	PublishEventsPerSec float64 `json:"publish_events_per_sec"`
	BrokerPeakRSSBytes  int64   `json:"broker_peak_rss_bytes"`

	TrainerCatchUpSeconds      float64  `json:"trainer_catch_up_seconds"`
	TrainerApplyEventsPerSec   float64  `json:"trainer_apply_events_per_sec"`
	CoveringModelSeconds       float64  `json:"covering_model_seconds"`
	CoveringModelVersion       int64    `json:"covering_model_version"`
	ModelsDuringCatchUp        int      `json:"models_published_until_covering"`
	RefitSeconds               float64  `json:"refit_seconds"`
	RefitResult                string   `json:"refit_result"`
	SnapshotBytes              int64    `json:"snapshot_bytes"`
	TrainerPeakRSSBytes        int64    `json:"trainer_peak_rss_bytes"`
	TrainerRSSBytes            int64    `json:"trainer_rss_bytes"`
	APISwapSeconds             *float64 `json:"api_load_swap_seconds"`
	SwapRequests               int      `json:"requests_during_refit_and_swap"`
	SwapErrors                 int      `json:"failed_requests_during_refit_and_swap"`
	APIRSSBytes                int64    `json:"api_rss_bytes"`
	APIPeakRSSBytes            int64    `json:"api_peak_rss_bytes"`
	PredictRequests            int      `json:"predict_requests"`
	PredictErrors              int      `json:"predict_errors"`
	PredictP50Ms               float64  `json:"predict_p50_ms"`
	PredictP99Ms               float64  `json:"predict_p99_ms"`
	SwipeFreshnessP50Ms        float64  `json:"swipe_freshness_p50_ms"`
	SwipeFreshnessMaxMs        float64  `json:"swipe_freshness_max_ms"`
	SwipeFreshnessCatchUpMs    *float64 `json:"swipe_freshness_catching_up_ms"`
	TrainerPeakRSSMBPerMillion float64  `json:"trainer_peak_rss_mb_per_million_ratings"`
	APIRSSMBPerMillion         float64  `json:"api_rss_mb_per_million_ratings"`
	TotalSeconds               float64  `json:"total_seconds"`
}

// runBenchScale is `swipeflix bench-scale -size 1M|10M|25M [-json]`.
func runBenchScale(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("bench-scale", "bench-scale [-size 1M|10M|25M] [-json] [flags]", stderr)
	size := fs.String("size", "1M", "dataset size: 1M, 10M or 25M ratings (users and movies in MovieLens-25M's proportions)")
	ratings := fs.Int("ratings", 0, "ratings, overriding -size (small runs for tests)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the table")
	cfg := benchScaleConfig{}
	fs.IntVar(&cfg.Users, "users", 0, "users (0: in proportion to MovieLens-25M, as swipeflix generate)")
	fs.IntVar(&cfg.Movies, "movies", 0, "movies (0: in proportion to MovieLens-25M, as swipeflix generate)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "generator seed")
	fs.StringVar(&cfg.Dir, "dir", filepath.Join("var", "bench-scale"), "folder of the generated datasets (reused across runs) and of the run's brokers and services (replaced)")
	fs.IntVar(&cfg.Requests, "requests", 2000, "uncached /predict requests for random users to time")
	fs.IntVar(&cfg.Swipes, "swipes", 5, "new users' swipes to time until /predict changes")
	fs.DurationVar(&cfg.Timeout, "timeout", 3*time.Hour, "give up after this long")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no progress bars")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Ratings = *ratings
	if cfg.Ratings == 0 {
		n, ok := benchSizes[*size]
		if !ok {
			return fmt.Errorf("bench-scale: -size %q: want 1M, 10M or 25M", *size)
		}
		cfg.Ratings = n
	}
	if cfg.Ratings < 0 || cfg.Requests < 1 || cfg.Swipes < 1 || cfg.Timeout <= 0 {
		return fmt.Errorf("bench-scale: -ratings must be > 0, -requests and -swipes >= 1 and -timeout > 0")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	res, err := benchScale(ctx, cfg, stderr)
	if err != nil {
		return fmt.Errorf("bench-scale: %w", err)
	}
	return report(stdout, *asJSON, res, func(w io.Writer) { printBenchTable(w, res) })
}

// benchScale runs the whole loop, each part in its own process so that its
// memory can be read: a broker process (the embedded Kafka-protocol broker
// and NATS, as `make run` starts them), the generated ratings published
// into it from this process, then an api and a trainer process that catch
// up on them. The steps share a scaleRun.
func benchScale(ctx context.Context, cfg benchScaleConfig, stderr io.Writer) (*benchResult, error) {
	began := time.Now()
	spec, err := genSpec{Ratings: cfg.Ratings, Users: cfg.Users, Movies: cfg.Movies, Seed: cfg.Seed}.shape()
	if err != nil {
		return nil, err
	}
	r := &scaleRun{cfg: cfg, spec: spec, stderr: stderr, hc: &http.Client{Timeout: 30 * time.Second},
		models: &manifestLog{}, token: randomHex(16)}
	res := &r.res
	res.Ratings, res.Users, res.Movies, res.Seed = spec.Ratings, spec.Users, spec.Movies, spec.Seed
	res.Date = began.UTC().Format(time.RFC3339)
	res.Machine.CPUs, res.Machine.MemTotalBytes = runtime.NumCPU(), memTotal()
	res.Machine.LoadStart, res.Machine.Go = loadAvg(), runtime.Version()
	defer r.close()
	for _, step := range []func(context.Context) error{r.prepare, r.startBrokers, r.publishAll, r.catchUp,
		r.refitAndSwap, r.timePredict, r.timeSwipes} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	res.BrokerPeakRSSBytes, _ = r.brokers.memory()
	million := float64(spec.Ratings) / 1e6
	res.TrainerPeakRSSMBPerMillion = float64(res.TrainerPeakRSSBytes) / (1 << 20) / million
	res.APIRSSMBPerMillion = float64(res.APIRSSBytes) / (1 << 20) / million
	res.Machine.LoadEnd = loadAvg()
	res.TotalSeconds = time.Since(began).Seconds()
	return res, nil
}

// scaleRun is one bench-scale run: its settings, what the steps started
// and the result they fill in.
type scaleRun struct {
	cfg    benchScaleConfig
	spec   genSpec
	stderr io.Writer
	hc     *http.Client
	token  string // the trainer's admin token, for the refit request
	res    benchResult

	dataDir, runDir string
	exe             string
	env             []string
	children        []*child
	brokers         *child
	trainer, api    *child
	trainerURL      string
	apiURL          string

	ep        endpoints.Endpoints
	bus       *modelbus.Bus
	models    *manifestLog
	stopWatch func()
	pub       *publisher
	end       map[int32]int64 // the ratings' end offsets
	sent      atomic.Int64    // events in the log: the ratings and every swipe published
	cover     modelbus.Manifest
}

func (r *scaleRun) say(format string, a ...any) {
	fmt.Fprintf(r.stderr, "bench-scale: "+format+"\n", a...)
}

// close stops what the steps started, the last started first.
func (r *scaleRun) close() {
	if r.stopWatch != nil {
		r.stopWatch()
	}
	if r.pub != nil {
		r.pub.close()
	}
	if r.bus != nil {
		r.bus.Close()
	}
	for _, c := range slices.Backward(r.children) {
		if err := c.stop(time.Minute); err != nil {
			r.say("%s: %v (log: %s)", c.name, err, c.logPath)
		}
	}
}

// prepare generates the dataset once per size and seed (later runs reuse
// it) and empties the run's folder.
func (r *scaleRun) prepare(ctx context.Context) error {
	r.dataDir = filepath.Join(r.cfg.Dir, fmt.Sprintf("data-%d-%du-%dm-seed%d", r.spec.Ratings, r.spec.Users, r.spec.Movies, r.spec.Seed))
	if generated(r.dataDir, r.spec) {
		r.res.DataCached = true
		r.say("reusing %s", r.dataDir)
	} else {
		r.say("generating %d ratings (%d users, %d movies) into %s", r.spec.Ratings, r.spec.Users, r.spec.Movies, r.dataDir)
		t := time.Now()
		if _, err := generateDir(ctx, r.spec, r.dataDir, r.stderr, r.cfg.Quiet); err != nil {
			return err
		}
		r.res.GenerateSeconds = time.Since(t).Seconds()
	}
	r.runDir = filepath.Join(r.cfg.Dir, fmt.Sprintf("run-%d", r.spec.Ratings))
	if err := os.RemoveAll(r.runDir); err != nil {
		return err
	}
	if err := os.MkdirAll(r.runDir, 0o755); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	r.exe = exe
	// Flags name every address; the environment only clears what has no
	// flag (the database) or would add work (starter data).
	r.env = append(os.Environ(), "DATABASE_URL=", "SWIPEFLIX_STARTER_RATINGS=", "KAFKA_BROKERS=", "NATS_URL=",
		"SWIPEFLIX_ADMIN_TOKEN="+r.token)
	return nil
}

// start starts `swipeflix run args...` as a child logging to
// RUNDIR/name.log.
func (r *scaleRun) start(name string, args ...string) (*child, error) {
	c, err := startChild(r.exe, name, filepath.Join(r.runDir, name+".log"), r.env, append([]string{"run"}, args...))
	if err != nil {
		return nil, err
	}
	r.children = append(r.children, c)
	return c, nil
}

// startBrokers starts the embedded brokers in their own process, connects
// to its NATS and records every serving manifest from then on.
func (r *scaleRun) startBrokers(ctx context.Context) error {
	dir := filepath.Join(r.runDir, "brokers")
	var err error
	r.brokers, err = r.start("brokers", "-target", "kafka,nats", "-data-dir", dir, "-kafka.port", "0", "-nats.port", "0")
	if err != nil {
		return err
	}
	err = waitChild(ctx, 30*time.Second, 50*time.Millisecond, r.brokers, func() (bool, error) {
		r.ep, _ = endpoints.Read(dir)
		return len(r.ep.KafkaBrokers) > 0 && r.ep.NATSURL != "", nil
	})
	if err != nil {
		return fmt.Errorf("brokers did not start: %w", err)
	}
	r.say("brokers: kafka %s, nats %s", strings.Join(r.ep.KafkaBrokers, ","), r.ep.NATSURL)
	if r.bus, err = modelbus.Connect(ctx, r.ep.NATSURL, slog.New(slog.DiscardHandler)); err != nil {
		return err
	}
	watchCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = r.bus.Watch(watchCtx, r.models.add)
	}()
	r.stopWatch = func() { cancel(); wg.Wait() }
	return nil
}

// publishAll publishes every rating through the path of `swipeflix
// publish` and notes where the ratings end.
func (r *scaleRun) publishAll(ctx context.Context) error {
	r.say("publishing %d ratings", r.spec.Ratings)
	r.pub = newPublisher(r.ep.KafkaBrokers, 0)
	if !r.cfg.Quiet {
		r.pub.bar = startProgress(r.stderr)
		r.pub.bar.setTotal(int64(r.spec.Ratings))
	}
	t := time.Now()
	err := r.pub.dataset(ctx, filepath.Join(r.dataDir, "ratings.csv"), "bench-scale")
	if ferr := r.pub.flush(ctx); err == nil {
		err = ferr
	}
	if r.pub.bar != nil {
		r.pub.bar.stop()
		r.pub.bar = nil
	}
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	r.res.PublishSeconds = time.Since(t).Seconds()
	r.res.PublishEventsPerSec = float64(r.pub.sent) / r.res.PublishSeconds
	if r.pub.sent != int64(r.spec.Ratings) {
		return fmt.Errorf("published %d events of %d ratings (%d invalid)", r.pub.sent, r.spec.Ratings, r.pub.bad)
	}
	r.sent.Add(r.pub.sent)
	r.end, err = kafkabus.EndOffsets(ctx, r.ep.KafkaBrokers, kafkabus.Ratings)
	return err
}

// consumed is how many events the trainer has read.
func (r *scaleRun) consumed(ctx context.Context) (float64, error) {
	return scrapeSum(ctx, r.hc, r.trainerURL+"/metrics", "swipeflix_trainer_events_total")
}

// catchUp starts the api (it waits for a model) and the trainer, which
// reads the whole log, and waits for the first model that covers every
// rating. Once the api serves a model while the trainer is still behind,
// a brand-new user's swipe is timed until it shows in /predict.
func (r *scaleRun) catchUp(ctx context.Context) error {
	apiAddr, trainerAddr := benchAddr(), benchAddr()
	r.apiURL, r.trainerURL = "http://"+apiAddr, "http://"+trainerAddr
	var err error
	r.api, err = r.start("api", "-target", "api", "-data-dir", filepath.Join(r.runDir, "api"), "-nats.url", r.ep.NATSURL,
		"-api.addr", apiAddr, "-api.cache-entries", "0")
	if err != nil {
		return err
	}
	r.say("trainer catching up")
	trainerStart := time.Now()
	r.trainer, err = r.start("trainer", "-target", "trainer", "-data-dir", filepath.Join(r.runDir, "trainer"),
		"-kafka.brokers", strings.Join(r.ep.KafkaBrokers, ","), "-nats.url", r.ep.NATSURL, "-catalog", r.dataDir,
		"-trainer.addr", trainerAddr, "-trainer.refit-interval", "0")
	if err != nil {
		return err
	}

	probe := &probe{}
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	var bar *progress
	if !r.cfg.Quiet {
		bar = startProgress(r.stderr)
		bar.setTotal(int64(r.spec.Ratings))
	}
	n := float64(r.spec.Ratings)
	var (
		firstAt, caughtAt time.Time
		firstN, lastN     float64
	)
	err = waitChild(ctx, r.cfg.Timeout, 250*time.Millisecond, r.trainer, func() (bool, error) {
		if err := r.api.exited(); err != nil {
			return false, err
		}
		got, err := r.consumed(ctx)
		if err != nil {
			return false, nil // not serving yet
		}
		now := time.Now()
		if bar != nil {
			bar.add(int64(got - lastN))
		}
		lastN = got
		if firstAt.IsZero() && got > 0 {
			firstAt, firstN = now, got
		}
		if caughtAt.IsZero() && got >= n {
			caughtAt = now
		}
		if caughtAt.IsZero() && !probe.started {
			if _, ok := apiVersion(ctx, r.hc, r.apiURL); ok {
				probe.start(probeCtx, r, "bench-catchup-"+randomHex(6))
			}
		}
		m, ok := r.models.first(func(m modelbus.Manifest) bool { return m.Covers(r.end) })
		r.cover = m.Manifest
		return ok, nil
	})
	if bar != nil {
		bar.stop()
	}
	if err != nil {
		return fmt.Errorf("trainer catch-up: %w", err)
	}
	res := &r.res
	coverAt, _ := r.models.arrival(r.cover.Version)
	if caughtAt.IsZero() {
		caughtAt = time.Now()
	}
	res.TrainerCatchUpSeconds = caughtAt.Sub(trainerStart).Seconds()
	if d := caughtAt.Sub(firstAt).Seconds(); d > 0 && n > firstN {
		res.TrainerApplyEventsPerSec = (n - firstN) / d
	} else {
		res.TrainerApplyEventsPerSec = n / res.TrainerCatchUpSeconds
	}
	res.CoveringModelSeconds = coverAt.Sub(trainerStart).Seconds()
	res.CoveringModelVersion = r.cover.Version
	res.ModelsDuringCatchUp = r.models.count()
	res.SnapshotBytes = r.cover.Size
	r.say("covering model v%d after %.1fs (caught up after %.1fs)", r.cover.Version, res.CoveringModelSeconds, res.TrainerCatchUpSeconds)

	// The probe's swipe may still be on its way; it gets two more minutes.
	took, err := probe.wait(2*time.Minute, stopProbe)
	res.SwipeFreshnessCatchUpMs = msPtr(took)
	if err != nil {
		r.say("swipe while catching up: %v", err)
	}
	return nil
}

// probe times one swipe in the background.
type probe struct {
	started bool
	done    chan struct{}
	took    *time.Duration
	err     error
}

func (p *probe) start(ctx context.Context, r *scaleRun, user string) {
	p.started, p.done = true, make(chan struct{})
	go func() {
		defer close(p.done)
		took, err := r.swipeFreshness(ctx, user)
		if err == nil {
			p.took = &took
		}
		p.err = err
	}()
}

// wait waits up to timeout for the probe, then stops it; nil when it never
// started or did not finish.
func (p *probe) wait(timeout time.Duration, stop func()) (*time.Duration, error) {
	if !p.started {
		return nil, nil
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		stop()
		<-p.done
	}
	return p.took, p.err
}

// refitAndSwap asks the trainer for a full tuned refit once the api serves
// the covering model, and times the api's load and swap of the result.
func (r *scaleRun) refitAndSwap(ctx context.Context) error {
	res := &r.res
	cover := r.cover
	err := waitChild(ctx, 10*time.Minute, 20*time.Millisecond, r.api, func() (bool, error) {
		v, _ := apiVersion(ctx, r.hc, r.apiURL)
		return v == versionLabel(cover.Version), nil
	})
	if err != nil {
		return fmt.Errorf("api did not load v%d: %w", cover.Version, err)
	}
	// A refit that covers nothing new publishes nothing: one more swipe
	// first, read by the trainer before the request.
	if err := r.publishSwipe(ctx, "bench-refit-"+randomHex(6), "1"); err != nil {
		return err
	}
	err = waitChild(ctx, time.Minute, 20*time.Millisecond, r.trainer, func() (bool, error) {
		n, err := r.consumed(ctx)
		return err == nil && n >= float64(r.sent.Load()), nil
	})
	if err != nil {
		return fmt.Errorf("trainer did not read the refit's swipe: %w", err)
	}
	refits := func() (float64, error) {
		return scrapeSum(ctx, r.hc, r.trainerURL+"/metrics", "swipeflix_model_refits_total")
	}
	before, err := refits()
	if err != nil {
		return err
	}
	r.say("full refit")
	// Requests keep going to the api from the refit request until after
	// the swap, to count any that fail while it loads the new model.
	load := &swapLoad{}
	loadCtx, stopLoad := context.WithCancel(ctx)
	load.start(loadCtx, r)
	defer func() { stopLoad(); load.wait() }()
	refitAt := time.Now()
	if err := requestRetrain(ctx, r.hc, r.trainerURL, r.token); err != nil {
		return err
	}
	var refit modelbus.Manifest
	err = waitChild(ctx, r.cfg.Timeout, 50*time.Millisecond, r.trainer, func() (bool, error) {
		if m, ok := r.models.first(func(m modelbus.Manifest) bool { return m.Version > cover.Version }); ok {
			refit = m.Manifest
			return true, nil
		}
		n, err := refits()
		return err == nil && n > before, nil
	})
	if err != nil {
		return fmt.Errorf("refit: %w", err)
	}
	res.TrainerPeakRSSBytes, res.TrainerRSSBytes = r.trainer.memory()
	if refit.Version == 0 {
		// The quality gate kept the serving model: nothing to swap.
		res.RefitSeconds, res.RefitResult = time.Since(refitAt).Seconds(), "not published (the serving model was kept)"
		r.say("refit finished after %.1fs without publishing", res.RefitSeconds)
		return nil
	}
	pubAt, _ := r.models.arrival(refit.Version)
	res.RefitSeconds, res.RefitResult = pubAt.Sub(refitAt).Seconds(), fmt.Sprintf("published v%d", refit.Version)
	res.SnapshotBytes = refit.Size
	r.say("refit published v%d after %.1fs; waiting for the api to swap", refit.Version, res.RefitSeconds)
	var swapAt time.Time
	err = waitChild(ctx, 10*time.Minute, 5*time.Millisecond, r.api, func() (bool, error) {
		v, _ := apiVersion(ctx, r.hc, r.apiURL)
		swapAt = time.Now()
		return v == versionLabel(refit.Version), nil
	})
	if err != nil {
		return fmt.Errorf("api did not swap to v%d: %w", refit.Version, err)
	}
	swap := swapAt.Sub(pubAt).Seconds()
	res.APISwapSeconds = &swap
	time.Sleep(time.Second) // the requests right after the swap count too
	stopLoad()
	res.SwapRequests, res.SwapErrors = load.wait()
	return nil
}

// swapLoad sends /predict requests for random known users, one every
// swapLoadGap (paced, so as not to take a core from the refit), until
// stopped, counting those that fail.
const swapLoadGap = 10 * time.Millisecond

type swapLoad struct {
	done         chan struct{}
	sent, failed int
}

func (l *swapLoad) start(ctx context.Context, r *scaleRun) {
	l.done = make(chan struct{})
	rng := mrand.New(mrand.NewPCG(r.spec.Seed, 0x5a4b))
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			_, err := benchPredict(ctx, r.hc, r.apiURL, strconv.Itoa(1+rng.IntN(r.spec.Users)))
			if ctx.Err() != nil {
				return
			}
			l.sent++
			if err != nil {
				l.failed++
			}
			select {
			case <-ctx.Done():
			case <-time.After(swapLoadGap):
			}
		}
	}()
}

// wait returns the counts once the sender has stopped.
func (l *swapLoad) wait() (sent, failed int) {
	<-l.done
	return l.sent, l.failed
}

// timePredict times uncached /predict requests for random known users,
// one at a time, and reads the api's memory after them.
func (r *scaleRun) timePredict(ctx context.Context) error {
	r.say("timing %d uncached /predict requests", r.cfg.Requests)
	rng := mrand.New(mrand.NewPCG(r.spec.Seed, 0xbe7c4))
	lat := make([]time.Duration, 0, r.cfg.Requests)
	for range r.cfg.Requests {
		user := strconv.Itoa(1 + rng.IntN(r.spec.Users))
		t := time.Now()
		if _, err := benchPredict(ctx, r.hc, r.apiURL, user); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.res.PredictErrors++
			continue
		}
		lat = append(lat, time.Since(t))
	}
	r.res.PredictRequests = r.cfg.Requests
	r.res.PredictP50Ms, r.res.PredictP99Ms = quantileMs(lat, 0.50), quantileMs(lat, 0.99)
	r.res.APIPeakRSSBytes, r.res.APIRSSBytes = r.api.memory()
	return nil
}

// timeSwipes times brand-new users' swipes with the trainer caught up,
// and reads the peaks of both services after them.
func (r *scaleRun) timeSwipes(ctx context.Context) error {
	r.say("timing %d new users' swipes", r.cfg.Swipes)
	var took []time.Duration
	for i := range r.cfg.Swipes {
		d, err := r.swipeFreshness(ctx, fmt.Sprintf("bench-fresh-%s-%d", randomHex(4), i))
		if err != nil {
			return err
		}
		took = append(took, d)
	}
	r.res.SwipeFreshnessP50Ms, r.res.SwipeFreshnessMaxMs = quantileMs(took, 0.5), quantileMs(took, 1)
	r.res.APIPeakRSSBytes, _ = r.api.memory()
	peak, _ := r.trainer.memory()
	r.res.TrainerPeakRSSBytes = max(r.res.TrainerPeakRSSBytes, peak)
	return nil
}

// manifestLog records every serving manifest the bus announces with the
// time it arrived.
type manifestLog struct {
	mu   sync.Mutex
	list []seenManifest
}

type seenManifest struct {
	modelbus.Manifest
	at time.Time
}

func (l *manifestLog) add(m modelbus.Manifest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, seenManifest{m, time.Now()})
}

// first is the earliest manifest that ok accepts.
func (l *manifestLog) first(ok func(modelbus.Manifest) bool) (seenManifest, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.list {
		if ok(m.Manifest) {
			return m, true
		}
	}
	return seenManifest{}, false
}

// arrival is when version first arrived.
func (l *manifestLog) arrival(version int64) (time.Time, bool) {
	m, ok := l.first(func(m modelbus.Manifest) bool { return m.Version == version })
	return m.at, ok
}

func (l *manifestLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.list)
}

// child is a swipeflix process that bench-scale started, logging to a
// file.
type child struct {
	name, logPath string
	cmd           *exec.Cmd
	log           *os.File
	done          chan struct{}
	err           error // set before done closes
}

func startChild(exe, name, logPath string, env, args []string) (*child, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, logPath: logPath, cmd: cmd, log: f, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// exited returns an error once the process has ended, nil while it runs.
func (c *child) exited() error {
	select {
	case <-c.done:
		return fmt.Errorf("%s exited early (%v); its log: %s", c.name, c.err, c.logPath)
	default:
		return nil
	}
}

// stop asks the process to end (SIGTERM) and kills it after timeout.
func (c *child) stop(timeout time.Duration) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("did not stop within %s: killed", timeout)
	}
}

// memory is the process's peak and current resident set (VmHWM, VmRSS)
// in bytes, from /proc; zeros where /proc is missing.
func (c *child) memory() (peak, rss int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	return procKB(b, "VmHWM:"), procKB(b, "VmRSS:")
}

// procKB reads a "Key:   123 kB" line of a /proc file, in bytes.
func procKB(b []byte, key string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

func memTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return procKB(b, "MemTotal:")
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// waitChild calls cond every interval until it reports true, fails, the
// child c exits or timeout passes.
func waitChild(ctx context.Context, timeout, interval time.Duration, c *child, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := c.exited(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// scrapeSum is the sum of every series of a metric on a Prometheus text
// page.
func scrapeSum(ctx context.Context, hc *http.Client, url, name string) (float64, error) {
	body, err := httpGet(ctx, hc, url)
	if err != nil {
		return 0, err
	}
	sum, found := 0.0, false
	for line := range strings.Lines(string(body)) {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest == "" || (rest[0] != '{' && rest[0] != ' ')) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", url, name, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("%s: no %s", url, name)
	}
	return sum, nil
}

func httpGet(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// apiVersion is the version the api serves ("v3"); false before it serves
// one.
func apiVersion(ctx context.Context, hc *http.Client, apiURL string) (string, bool) {
	body, err := httpGet(ctx, hc, apiURL+"/ready")
	if err != nil {
		return "", false
	}
	var r struct {
		ModelVersion string `json:"model_version"`
	}
	if json.Unmarshal(body, &r) != nil {
		return "", false
	}
	return r.ModelVersion, r.ModelVersion != ""
}

func versionLabel(v int64) string { return "v" + strconv.FormatInt(v, 10) }

// benchAnswer is the part of a /predict answer bench-scale reads.
type benchAnswer struct {
	ColdStart       bool `json:"cold_start"`
	Recommendations []struct {
		MovieID string `json:"movie_id"`
	} `json:"recommendations"`
}

func benchPredict(ctx context.Context, hc *http.Client, apiURL, user string) (benchAnswer, error) {
	body, _ := json.Marshal(map[string]any{"user_id": user, "top_k": 10})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"/predict", bytes.NewReader(body))
	if err != nil {
		return benchAnswer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return benchAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return benchAnswer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return benchAnswer{}, fmt.Errorf("predict %s: %s: %s", user, resp.Status, b)
	}
	var a benchAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return benchAnswer{}, fmt.Errorf("predict %s: %w", user, err)
	}
	return a, nil
}

func requestRetrain(ctx context.Context, hc *http.Client, trainerURL, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, trainerURL+"/v1/retrain?reason=bench-scale", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("request refit: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("request refit: %s: %s", resp.Status, b)
	}
	return nil
}

// publishSwipe publishes user's like of movie into the ratings topic.
func (r *scaleRun) publishSwipe(ctx context.Context, user, movie string) error {
	e := events.NewSwipe("bench-"+randomHex(12), user, movie, events.Like, time.Now().UTC(), "bench-scale")
	value, err := events.Encode(e)
	if err != nil {
		return err
	}
	if err := r.pub.publishNow(ctx, []kafkabus.Message{{Key: []byte(user), Value: value}}); err != nil {
		return err
	}
	r.sent.Add(1)
	return nil
}

// swipeFreshness times a brand-new user's first like, from its publish
// until /predict (uncached) stops giving that user the cold-start answer.
func (r *scaleRun) swipeFreshness(ctx context.Context, user string) (time.Duration, error) {
	before, err := benchPredict(ctx, r.hc, r.apiURL, user)
	if err != nil {
		return 0, err
	}
	if !before.ColdStart || len(before.Recommendations) == 0 {
		return 0, fmt.Errorf("new user %s: want a cold-start answer, got %+v", user, before)
	}
	start := time.Now()
	if err := r.publishSwipe(ctx, user, before.Recommendations[0].MovieID); err != nil {
		return 0, err
	}
	for {
		a, err := benchPredict(ctx, r.hc, r.apiURL, user)
		if err != nil {
			return 0, err
		}
		if !a.ColdStart {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("new user %s: the swipe did not reach /predict: %w", user, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// quantileMs is the q-quantile (nearest rank) of ds in milliseconds.
func quantileMs(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, max(0, int(q*float64(len(s))+0.5)-1))
	return float64(s[i].Microseconds()) / 1000
}

func msPtr(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	ms := float64(d.Microseconds()) / 1000
	return &ms
}

// benchAddr is a loopback address with a port free a moment ago.
func benchAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer l.Close()
	return l.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// printBenchTable prints res as a Markdown table, with issue 12's targets
// at 25M ratings beside the figures they apply to.
func printBenchTable(w io.Writer, r *benchResult) {
	mb := func(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
	opt := func(v *float64, format string) string {
		if v == nil {
			return "not measured"
		}
		return fmt.Sprintf(format, *v)
	}
	fmt.Fprintf(w, "bench-scale: %d ratings, %d users, %d movies (seed %d); %s\n", r.Ratings, r.Users, r.Movies, r.Seed, r.Date)
	fmt.Fprintf(w, "machine: %d CPUs, %.1f GiB, load average %s at start, %s at end; %s\n\n",
		r.Machine.CPUs, float64(r.Machine.MemTotalBytes)/(1<<30), r.Machine.LoadStart, r.Machine.LoadEnd, r.Machine.Go)
	rows := [][3]string{
		{"publish", fmt.Sprintf("%.0f events/s (%.1f s)", r.PublishEventsPerSec, r.PublishSeconds), ">= 200,000 events/s"},
		{"trainer apply while behind", fmt.Sprintf("%.0f events/s (caught up after %.1f s)", r.TrainerApplyEventsPerSec, r.TrainerCatchUpSeconds), ">= 150,000 events/s"},
		{"first model covering every event", fmt.Sprintf("%.1f s after trainer start (v%d; %d models published)", r.CoveringModelSeconds, r.CoveringModelVersion, r.ModelsDuringCatchUp), ""},
		{"full tuned refit", fmt.Sprintf("%.1f s (%s)", r.RefitSeconds, r.RefitResult), "<= 180 s"},
		{"trainer peak RSS", mb(r.TrainerPeakRSSBytes), "<= 6 GB"},
		{"snapshot", fmt.Sprintf("%d bytes (%s)", r.SnapshotBytes, mb(r.SnapshotBytes)), ""},
		{"api load + swap", opt(r.APISwapSeconds, "%.2f s"), "<= 3 s"},
		{"/predict during the refit and swap", fmt.Sprintf("%d requests, %d failed", r.SwapRequests, r.SwapErrors), "0 failed"},
		{"api RSS (peak)", fmt.Sprintf("%s (%s)", mb(r.APIRSSBytes), mb(r.APIPeakRSSBytes)), "<= 2 GB"},
		{"/predict uncached p50 / p99", fmt.Sprintf("%.2f / %.2f ms (%d requests, %d errors)", r.PredictP50Ms, r.PredictP99Ms, r.PredictRequests, r.PredictErrors), ""},
		{"swipe freshness, caught up (p50 / max)", fmt.Sprintf("%.0f / %.0f ms", r.SwipeFreshnessP50Ms, r.SwipeFreshnessMaxMs), "<= 1 s"},
		{"swipe freshness while catching up", opt(r.SwipeFreshnessCatchUpMs, "%.0f ms"), "<= 1 s"},
		{"trainer peak RSS per million ratings", fmt.Sprintf("%.0f MiB", r.TrainerPeakRSSMBPerMillion), ""},
		{"api RSS per million ratings", fmt.Sprintf("%.0f MiB", r.APIRSSMBPerMillion), ""},
		{"broker peak RSS", mb(r.BrokerPeakRSSBytes), ""},
	}
	fmt.Fprintln(w, "| measure | value | target at 25M |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", row[0], row[1], row[2])
	}
	gen := "reused"
	if !r.DataCached {
		gen = fmt.Sprintf("generated in %.1f s", r.GenerateSeconds)
	}
	fmt.Fprintf(w, "\ndata %s; whole run %.0f s\n", gen, r.TotalSeconds)
}
