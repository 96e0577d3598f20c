package ratingstate

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/dataset"
)

// The scale run: SWIPEFLIX_STATE_SCALE=1M,10M,25M go test -run TestScale -v
// -timeout 2h ./pkg/ratingstate. For each size the test generates
// MovieLens-shaped ratings (pkg/dataset's generator, in time order, with
// re-ratings and duplicate deliveries mixed in) and pipes them into a child
// process (this test binary again) that applies them to a state opened from
// a Store and checkpoints them as the trainer would: a delta handed to a
// writer goroutine whenever the previous one is written, compactions in the
// background. The child reports its memory from /proc/self/status and
// runtime.MemStats, then times an export, a columnar copy and a full
// compaction. A second child times loading the checkpoint. Memory is
// measured in the children only, so the generator does not count.
// SWIPEFLIX_STATE_DIR sets where the checkpoints go (default: the temporary
// directory); GOGC and GOMEMLIMIT pass through to the children.

// scaleShape is a MovieLens release's shape (ratings, users, movies rated,
// fewest ratings per user).
type scaleShape struct {
	name                           string
	ratings, users, movies, minPer int
}

var scaleShapes = map[string]scaleShape{
	"1M":       {"1M (ml-1m shape)", 1_000_209, 6_040, 3_706, 20},
	"10M":      {"10M (ml-10m shape)", 10_000_054, 69_878, 10_677, 20},
	"25M":      {"25M (ml-25m shape)", 25_000_095, 162_541, 59_047, 20},
	"1Msparse": {"1M over ml-25m's users and movies", 1_000_000, 162_541, 59_047, 2},
}

// scaleResult is what a child reports.
type scaleResult struct {
	Mode            string  `json:"mode"`
	Pairs           int     `json:"pairs"`
	Users           int     `json:"users"`
	Movies          int     `json:"movies"`
	Events          int     `json:"events"`
	Seconds         float64 `json:"seconds"`
	BaselineRSS     int64   `json:"baseline_rss"`
	RSS             int64   `json:"rss"`
	HWM             int64   `json:"hwm"`
	RSSAfterGC      int64   `json:"rss_after_gc"`
	LiveAfterGC     uint64  `json:"heap_alloc_after_gc"`
	HeapInuse       uint64  `json:"heap_inuse"`
	HeapSys         uint64  `json:"heap_sys"`
	GoSys           uint64  `json:"go_sys"`
	NumGC           uint32  `json:"num_gc"`
	Segments        int     `json:"segments"`
	ExportSeconds   float64 `json:"export_seconds"`
	ColsSeconds     float64 `json:"columns_seconds"`
	ExportCPU       float64 `json:"export_cpu_seconds"`
	ColsCPU         float64 `json:"columns_cpu_seconds"`
	LoadCPU         float64 `json:"load_cpu_seconds"`
	ColsHWM         int64   `json:"columns_hwm"`
	CompactSeconds  float64 `json:"compact_seconds"`
	BaseBytes       int64   `json:"base_bytes"`
	Hash            string  `json:"hash"`
	AppendMillisMax float64 `json:"append_ms_max"`
	AppendMillisSum float64 `json:"append_ms_sum"`
	Appends         int     `json:"appends"`
}

func TestScale(t *testing.T) {
	sizes := os.Getenv("SWIPEFLIX_STATE_SCALE")
	if sizes == "" {
		t.Skip("set SWIPEFLIX_STATE_SCALE=1M,10M,25M (and -timeout 2h) to run the scale measurement")
	}
	root := os.Getenv("SWIPEFLIX_STATE_DIR")
	if root == "" {
		root = os.TempDir()
	}
	for _, name := range strings.Split(sizes, ",") {
		shape, ok := scaleShapes[name]
		if !ok {
			t.Fatalf("unknown size %q (1M, 10M, 25M, 1Msparse)", name)
		}
		dir, err := os.MkdirTemp(root, "ratingstate-scale-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		build := runChild(t, "build", dir, func(w io.Writer) error { return feedShape(shape, w) })
		load := runChild(t, "load", dir, nil)
		if build.Hash != load.Hash || build.Pairs != load.Pairs {
			t.Fatalf("%s: loaded %d pairs hash %s; built %d pairs hash %s", name, load.Pairs, load.Hash, build.Pairs, build.Hash)
		}
		mb := func(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/1e6) }
		per := func(b int64) string { return fmt.Sprintf("%.1f", float64(b)/float64(build.Pairs)) }
		t.Logf("%s: %d events -> %d pairs, %d users, %d movies; applied in %.1f s (%.0f events/s, generator-bound); child baseline RSS %s",
			shape.name, build.Events, build.Pairs, build.Users, build.Movies, build.Seconds,
			float64(build.Events)/build.Seconds, mb(build.BaselineRSS))
		t.Logf("  build: RSS %s (%s B/pair), peak %s (%s B/pair), after GC %s (%s B/pair); heap in use %s, Go sys %s, %d GCs",
			mb(build.RSS), per(build.RSS), mb(build.HWM), per(build.HWM), mb(build.RSSAfterGC), per(build.RSSAfterGC),
			mb(int64(build.HeapInuse)), mb(int64(build.GoSys)), build.NumGC)
		t.Logf("  live heap after GC: build %s (%s B/pair), load %s (%s B/pair)", mb(int64(build.LiveAfterGC)),
			per(int64(build.LiveAfterGC)), mb(int64(load.LiveAfterGC)), per(int64(load.LiveAfterGC)))
		t.Logf("  checkpoint: %d appends, mean %.1f ms, max %.1f ms; full compaction %.1f s, base %s",
			build.Appends, build.AppendMillisSum/float64(max(1, build.Appends)), build.AppendMillisMax, build.CompactSeconds, mb(build.BaseBytes))
		t.Logf("  export %.4f s (%.4f s CPU; in the loop), columns %.2f s (%.2f s CPU; in the refit goroutine; peak RSS with them %s)",
			build.ExportSeconds, build.ExportCPU, build.ColsSeconds, build.ColsCPU, mb(build.ColsHWM))
		t.Logf("  load: %.2f s (%.2f s CPU), RSS %s (%s B/pair), peak %s (%s B/pair), after GC %s",
			load.Seconds, load.LoadCPU, mb(load.RSS), per(load.RSS), mb(load.HWM), per(load.HWM), mb(load.RSSAfterGC))
		b, _ := json.Marshal(map[string]any{"size": name, "build": build, "load": load})
		t.Logf("  json: %s", b)
	}
}

// runChild runs this test binary as a child in mode, feeding its stdin
// from feed, and returns its report.
func runChild(t *testing.T, mode, dir string, feed func(io.Writer) error) scaleResult {
	t.Helper()
	out := filepath.Join(dir, "result-"+mode+".json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestScaleChild$", "-test.timeout=0")
	cmd.Env = append(os.Environ(), "SWIPEFLIX_STATE_CHILD="+mode, "SWIPEFLIX_STATE_CHILD_DIR="+dir,
		"SWIPEFLIX_STATE_CHILD_OUT="+out)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	var stdin io.WriteCloser
	if feed != nil {
		var err error
		if stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if feed != nil {
		bw := bufio.NewWriterSize(stdin, 1<<20)
		err := feed(bw)
		if err == nil {
			err = bw.Flush()
		}
		stdin.Close()
		if err != nil {
			cmd.Process.Kill() //nolint:errcheck // failing anyway
			t.Fatalf("feed %s: %v", mode, err)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child %s: %v", mode, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r scaleResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// feedShape writes the generated events of shape to w in the child's wire
// format: per event uvarint-prefixed user, movie and event id, the value in
// half steps (a byte), the time (int64) and the Kafka partition and offset
// (uvarints). 3% of ratings are followed by a re-rating an hour later and
// 1% by a duplicate delivery.
func feedShape(shape scaleShape, w io.Writer) error {
	syn := dataset.Generate(dataset.SynthConfig{Seed: 25, Users: shape.users, Movies: shape.movies,
		Ratings: shape.ratings, MinPerUser: shape.minPer, HalfStars: true})
	rng := rand.New(rand.NewPCG(25, 25))
	const partitions = 8
	var next [partitions]int64
	var buf []byte
	n := 0
	put := func(user, movie string, value float64, ts int64) error {
		n++
		h := fnv.New32a()
		h.Write([]byte(user))
		p := int32(h.Sum32() % partitions)
		buf = buf[:0]
		buf = binary.AppendUvarint(buf, uint64(len(user)))
		buf = append(buf, user...)
		buf = binary.AppendUvarint(buf, uint64(len(movie)))
		buf = append(buf, movie...)
		id := "ev-" + strconv.FormatUint(rng.Uint64(), 36)
		buf = binary.AppendUvarint(buf, uint64(len(id)))
		buf = append(buf, id...)
		buf = append(buf, byte(value*2))
		buf = binary.LittleEndian.AppendUint64(buf, uint64(ts))
		buf = binary.AppendUvarint(buf, uint64(p))
		buf = binary.AppendUvarint(buf, uint64(next[p]))
		next[p]++
		_, err := w.Write(buf)
		return err
	}
	return syn.Each(func(r dataset.Rating) error {
		ts := r.Time * int64(time.Second)
		if err := put(r.User, r.Movie, r.Value, ts); err != nil {
			return err
		}
		switch k := rng.IntN(100); {
		case k < 3:
			return put(r.User, r.Movie, float64(1+rng.IntN(10))/2, ts+int64(time.Hour))
		case k < 4:
			// A duplicate delivery: the same event again (same id).
			dup := buf[:len(buf):len(buf)]
			_, err := w.Write(dup)
			return err
		}
		return nil
	})
}

// readEvent decodes one event of the wire format; io.EOF at the end.
func readEvent(r *bufio.Reader, e *Event) error {
	str := func() (string, error) {
		l, err := binary.ReadUvarint(r)
		if err != nil {
			return "", err
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		return string(b), nil
	}
	var err error
	if e.User, err = str(); err != nil {
		return err
	}
	if e.Movie, err = str(); err != nil {
		return err
	}
	if e.EventID, err = str(); err != nil {
		return err
	}
	v, err := r.ReadByte()
	if err != nil {
		return err
	}
	e.Value = float32(v) / 2
	var ts [8]byte
	if _, err := io.ReadFull(r, ts[:]); err != nil {
		return err
	}
	e.TS = int64(binary.LittleEndian.Uint64(ts[:]))
	p, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	o, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	e.Partition, e.Offset = int32(p), int64(o)
	return nil
}

// TestScaleChild is the child process of TestScale.
func TestScaleChild(t *testing.T) {
	mode := os.Getenv("SWIPEFLIX_STATE_CHILD")
	if mode == "" {
		t.Skip("the child process of TestScale")
	}
	dir, out := os.Getenv("SWIPEFLIX_STATE_CHILD_DIR"), os.Getenv("SWIPEFLIX_STATE_CHILD_OUT")
	baseline, _ := procMem()
	var r scaleResult
	var err error
	switch mode {
	case "build":
		r, err = childBuild(dir)
	case "load":
		r, err = childLoad(dir)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		t.Fatal(err)
	}
	r.Mode = mode
	r.BaselineRSS = baseline
	b, _ := json.Marshal(r)
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// childBuild applies the events on stdin as the trainer's loop would.
func childBuild(dir string) (scaleResult, error) {
	ctx := context.Background()
	st, ld, err := Open(dir, Options{})
	if err != nil {
		return scaleResult{}, err
	}
	defer st.Close()
	s := ld.State
	offsets := map[int32]int64{}
	var r scaleResult
	type written struct {
		err error
		dur time.Duration
	}
	jobs, done := make(chan *Delta), make(chan written)
	go func() {
		for d := range jobs {
			start := time.Now()
			err := st.Append(ctx, d)
			done <- written{err, time.Since(start)}
		}
		close(done)
	}()
	note := func(w written) error {
		r.Appends++
		ms := float64(w.dur) / 1e6
		r.AppendMillisSum += ms
		r.AppendMillisMax = max(r.AppendMillisMax, ms)
		return w.err
	}
	busy := false
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	start := time.Now()
	var e Event
	for {
		if err := readEvent(in, &e); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return r, err
		}
		r.Events++
		if _, err := s.Update(e); err != nil {
			return r, err
		}
		offsets[e.Partition] = e.Offset + 1
		// One checkpoint in flight at a time, as in the trainer; the
		// next delta is taken when the previous one is written.
		if busy {
			select {
			case w := <-done:
				busy = false
				if err := note(w); err != nil {
					return r, err
				}
			default:
			}
		}
		if !busy && r.Events%50_000 == 0 {
			d, err := s.TakeDelta(offsets, time.Now().UnixNano())
			if err != nil {
				return r, err
			}
			jobs <- d
			busy = true
		}
	}
	if busy {
		if err := note(<-done); err != nil {
			return r, err
		}
	}
	d, err := s.TakeDelta(offsets, time.Now().UnixNano())
	if err != nil {
		return r, err
	}
	jobs <- d
	if err := note(<-done); err != nil {
		return r, err
	}
	close(jobs)
	r.Seconds = time.Since(start).Seconds()
	r.Pairs, r.Users, r.Movies, r.Hash = s.Len(), s.NumUsers(), s.NumMovies(), s.Hash().String()
	measure(&r)

	t0, c0 := time.Now(), cpuTime()
	v := s.Export()
	r.ExportSeconds, r.ExportCPU = time.Since(t0).Seconds(), (cpuTime() - c0).Seconds()
	t0, c0 = time.Now(), cpuTime()
	cols := v.Columns()
	r.ColsSeconds, r.ColsCPU = time.Since(t0).Seconds(), (cpuTime() - c0).Seconds()
	v.Release()
	_, r.ColsHWM = procMem()
	runtime.KeepAlive(cols)
	cols = Columns{}

	t0 = time.Now()
	if err := st.Compact(ctx); err != nil {
		return r, err
	}
	r.CompactSeconds = time.Since(t0).Seconds()
	if fi, err := os.Stat(st.basePath(st.base)); err == nil {
		r.BaseBytes = fi.Size()
	}
	return r, nil
}

// childLoad opens the checkpoint and reports the time and memory it took.
func childLoad(dir string) (scaleResult, error) {
	start, c0 := time.Now(), cpuTime()
	st, ld, err := Open(dir, Options{})
	if err != nil {
		return scaleResult{}, err
	}
	defer st.Close()
	r := scaleResult{Seconds: time.Since(start).Seconds(), LoadCPU: (cpuTime() - c0).Seconds(), Segments: ld.Segments}
	s := ld.State
	r.Pairs, r.Users, r.Movies, r.Hash = s.Len(), s.NumUsers(), s.NumMovies(), s.Hash().String()
	measure(&r)
	runtime.KeepAlive(s)
	return r, nil
}

// measure fills r's memory figures: as the process stands, then after a
// forced collection that returns freed memory to the system.
func measure(r *scaleResult) {
	r.RSS, r.HWM = procMem()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapInuse, r.HeapSys, r.GoSys, r.NumGC = ms.HeapInuse, ms.HeapSys, ms.Sys, ms.NumGC
	debug.FreeOSMemory()
	r.RSSAfterGC, _ = procMem()
	runtime.ReadMemStats(&ms)
	r.LiveAfterGC = ms.HeapAlloc
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procMem returns VmRSS and VmHWM in bytes.
func procMem() (rss, hwm int64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	return rss, hwm
}
