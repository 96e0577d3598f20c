package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swipeflix/swipeflix/pkg/endpoints"
	"github.com/swipeflix/swipeflix/pkg/modelbus"
	"github.com/swipeflix/swipeflix/pkg/svcmain"
)

// runWatch is `swipeflix watch`: it prints the serving model (from the KV
// manifest, so it shows the current one at start), every new model or
// rollback after it, and every drift report, until interrupted.
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := commandFlags("watch", "", stderr)
	url := fs.String("nats", defaultNATSURL(), "NATS server URL (default: $NATS_URL, else the one `make run` chose (SWIPEFLIX_DATA_DIR/endpoints.json), else nats://127.0.0.1:4222)")
	asJSON := fs.Bool("json", false, "print each manifest and report as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return svcmain.Usagef(usage, "watch: unexpected argument %q", fs.Arg(0))
	}
	bus, err := modelbus.Connect(ctx, *url, nil)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer bus.Close()
	fmt.Fprintf(stderr, "watching %s for models (%s) and drift reports (%s); waiting...\n",
		*url, modelbus.SubjectModelUpdated, modelbus.SubjectDriftReport)

	// Either subscription failing ends both.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &lockedWriter{w: stdout}
	errc := make(chan error, 2)
	go func() {
		var last int64 // Watch calls back on one goroutine
		errc <- bus.Watch(ctx, func(m modelbus.Manifest) {
			rollback := m.Version < last
			last = m.Version
			if *asJSON {
				b, _ := json.Marshal(struct {
					Kind string `json:"kind"`
					modelbus.Manifest
				}{"model", m})
				out.println(string(b))
				return
			}
			line := formatManifest(m)
			if rollback {
				line += "  (rollback)"
			}
			out.println(line)
		})
	}()
	go func() {
		errc <- bus.SubscribeDriftReports(ctx, func(report []byte) {
			if *asJSON {
				var buf bytes.Buffer
				if json.Compact(&buf, report) == nil {
					out.println(`{"kind":"drift","report":` + buf.String() + `}`)
					return
				}
			}
			out.println(formatDrift(report))
		})
	}()
	var first error
	for range 2 {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
		cancel()
	}
	return first
}

func formatManifest(m modelbus.Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model v%d  %s  %d bytes  sha256 %.12s  created %s", m.Version, m.Object, m.Size, m.SHA256,
		m.CreatedAt.UTC().Format(time.RFC3339))
	for _, k := range slices.Sorted(maps.Keys(m.Metrics)) {
		fmt.Fprintf(&b, "  %s=%s", k, formatMetric(m.Metrics[k]))
	}
	if len(m.Offsets) > 0 {
		var covered int64
		for _, o := range m.Offsets {
			covered += o
		}
		fmt.Fprintf(&b, "  events covered=%d", covered)
	}
	return b.String()
}

// formatMetric prints a count (a whole number, however large) as an
// integer and any other value to four significant digits.
func formatMetric(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// formatDrift summarises a drift report; the report is the drift service's
// JSON, of which only a few well-known fields are picked out.
func formatDrift(report []byte) string {
	var r map[string]any
	if err := json.Unmarshal(report, &r); err != nil {
		return "drift report (not JSON): " + string(report)
	}
	var b strings.Builder
	b.WriteString("drift report")
	for _, k := range []string{"time", "share", "score", "dataset_drift", "drifted"} {
		if v, ok := r[k]; ok {
			fmt.Fprintf(&b, "  %s=%v", k, v)
		}
	}
	if b.Len() == len("drift report") {
		var buf bytes.Buffer
		_ = json.Compact(&buf, report)
		b.WriteString("  " + buf.String())
	}
	return b.String()
}

// lockedWriter serialises lines written from the two subscriptions.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) println(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, s)
}

// defaultNATSURL is the NATS server a client uses without -nats: NATS_URL,
// else the one of the running `make run`, else the default port.
func defaultNATSURL() string {
	e, _ := endpoints.Read(clientDataDir())
	return endpoints.Pick(os.Getenv("NATS_URL"), e.NATSURL, "nats://127.0.0.1:4222")
}
