package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/swipeflix/swipeflix/pkg/dataset"
	"github.com/swipeflix/swipeflix/pkg/endpoints"
	"github.com/swipeflix/swipeflix/pkg/envconfig"
	"github.com/swipeflix/swipeflix/pkg/events"
	"github.com/swipeflix/swipeflix/pkg/kafkabus"
)

// runPublish is `swipeflix publish [-rate N] [-ndjson] FILE|-`: it streams a
// ratings file in any layout pkg/dataset reads, or NDJSON events (a file
// with -ndjson, or stdin as "-"), into the ratings topic.
func runPublish(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer) error {
	fs := commandFlags("publish", "publish [flags] FILE|-", stderr)
	brokers := fs.String("brokers", defaultBrokers(), "comma-separated Kafka brokers (default: $KAFKA_BROKERS, else those `make run` chose (SWIPEFLIX_DATA_DIR/endpoints.json), else 127.0.0.1:9092)")
	perSec := fs.Float64("rate", 0, "events per second at most (0: as fast as Kafka acknowledges)")
	ndjson := fs.Bool("ndjson", false, "FILE holds NDJSON events, not a ratings dataset (stdin always does)")
	source := fs.String("source", "publish", "source field of events made from dataset rows")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("publish: want exactly one FILE or - for stdin")
	}
	if *perSec < 0 {
		return fmt.Errorf("publish: -rate must be >= 0, got %v", *perSec)
	}
	path := fs.Arg(0)
	pub := newPublisher(envconfig.SplitList(*brokers), *perSec)
	defer pub.close()
	pub.warn = stderr
	if !*quiet {
		pub.bar = startProgress(stderr)
	}

	var err error
	switch {
	case path == "-":
		err = pub.ndjson(ctx, stdin, "stdin", stderr)
	case *ndjson:
		err = withFile(path, func(f io.Reader) error { return pub.ndjson(ctx, f, path, stderr) })
	default:
		if pub.bar != nil {
			pub.bar.setTotal(countLines(path))
		}
		err = pub.dataset(ctx, path, *source)
	}
	if ferr := pub.flush(ctx); err == nil {
		err = ferr
	}
	if pub.bar != nil {
		if err == nil {
			// The line count includes any header; the rows are what was read.
			pub.bar.setTotal(pub.sent + pub.bad)
		}
		pub.bar.stop()
	}
	fmt.Fprintf(stderr, "published %d events to %s", pub.sent, kafkabus.Ratings)
	if pub.bad > 0 {
		fmt.Fprintf(stderr, ", skipped %d invalid", pub.bad)
	}
	fmt.Fprintln(stderr)
	if err != nil {
		return fmt.Errorf("publish %s: %w", path, err)
	}
	if pub.bad > 0 {
		return fmt.Errorf("publish %s: %d invalid items skipped (listed above)", path, pub.bad)
	}
	return nil
}

// publisher batches events into a Kafka stream with many batches
// unacknowledged at once (events with one key keep their order), paced by
// an optional rate limit.
type publisher struct {
	stream  *kafkabus.Stream
	limiter *rate.Limiter
	batch   []kafkabus.Message
	size    int
	// sent is the events the brokers acknowledged, as of the last flush.
	sent int64
	bad  int64
	bar  *progress
	// warn receives the first invalid dataset rows; nil discards them.
	warn io.Writer
}

func newPublisher(brokers []string, perSec float64) *publisher {
	p := &publisher{size: 1000}
	p.stream = kafkabus.NewStream(kafkabus.StreamConfig{
		ProducerConfig: kafkabus.ProducerConfig{Brokers: brokers, Timeout: 10 * time.Second},
		OnAck: func(n int) {
			if bar := p.bar; bar != nil {
				bar.add(int64(n))
			}
		},
	})
	if perSec > 0 {
		// Batches of a tenth of a second's worth keep the pace smooth.
		p.size = max(1, min(p.size, int(perSec/10)))
		p.limiter = rate.NewLimiter(rate.Limit(perSec), p.size)
	}
	return p
}

func (p *publisher) close() { p.stream.Close() }

func (p *publisher) add(ctx context.Context, e events.Event) error {
	value, err := events.Encode(e)
	if err != nil {
		return err
	}
	p.batch = append(p.batch, kafkabus.Message{Key: []byte(e.UserID), Value: value})
	if len(p.batch) >= p.size {
		return p.send(ctx)
	}
	return nil
}

// send queues the batch on the stream.
func (p *publisher) send(ctx context.Context) error {
	if len(p.batch) == 0 {
		return nil
	}
	if p.limiter != nil {
		if err := p.limiter.WaitN(ctx, len(p.batch)); err != nil {
			return err
		}
	}
	if err := p.stream.Send(ctx, p.batch); err != nil {
		return err
	}
	// Send copied the messages; their keys and values are never reused.
	p.batch = p.batch[:0]
	return nil
}

// flush sends the partial batch and waits until every event is
// acknowledged.
func (p *publisher) flush(ctx context.Context) error {
	err := p.send(ctx)
	if err == nil {
		err = p.stream.Flush(ctx)
	}
	p.sent = p.stream.Acked()
	return err
}

// publishNow publishes msgs after everything added before, and waits for
// their acknowledgement.
func (p *publisher) publishNow(ctx context.Context, msgs []kafkabus.Message) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	p.batch = append(p.batch, msgs...)
	return p.flush(ctx)
}

// dataset publishes every row of a ratings file as a rating event.
func (p *publisher) dataset(ctx context.Context, path, source string) error {
	return dataset.ReadRatings(path, func(r dataset.Rating) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		e := DatasetEvent(r, source)
		if err := e.Validate(); err != nil {
			p.bad++
			if p.warn != nil && p.bad <= 10 {
				fmt.Fprintf(p.warn, "%s: row user %s movie %s: %v\n", path, r.User, r.Movie, err)
			}
			return nil
		}
		return p.add(ctx, e)
	})
}

// ndjson publishes one event per non-blank line; a bad line is reported
// with its number and field and skipped.
func (p *publisher) ndjson(ctx context.Context, r io.Reader, name string, stderr io.Writer) error {
	err := events.ReadNDJSON(r, func(e events.Event, bad *events.ItemError) error {
		if bad != nil {
			p.bad++
			fmt.Fprintf(stderr, "%s:%d: %s\n", name, bad.Line, describe(bad))
			return nil
		}
		return p.add(ctx, e)
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func describe(bad *events.ItemError) string {
	if bad.Field == "" {
		return bad.Reason
	}
	return bad.Field + ": " + bad.Reason
}

// DatasetEvent turns a dataset row into a rating event whose id is a hash
// of the row, so publishing the same file twice yields the same events and
// consumers deduplicate them. A file without timestamps gets the Unix epoch.
func DatasetEvent(r dataset.Rating, source string) events.Event {
	h := sha256.New()
	for _, s := range []string{r.User, r.Movie, strconv.FormatInt(r.Time, 10), strconv.FormatFloat(r.Value, 'g', -1, 64)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	id := "ds-" + hex.EncodeToString(h.Sum(nil)[:12])
	return events.NewRating(id, r.User, r.Movie, r.Value, time.Unix(r.Time, 0).UTC(), source)
}

func withFile(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(f)
}

// countLines is the progress bar's total for a dataset file (a header line
// makes it one too many, which the bar absorbs); 0 when unreadable.
func countLines(path string) int64 {
	f, err := os.Open(filepath.Clean(path))
	if err != nil {
		return 0
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 256<<10)
	for {
		k, err := f.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' {
				n++
			}
		}
		if err != nil {
			return n
		}
	}
}

// defaultBrokers are the brokers a client uses without -brokers:
// KAFKA_BROKERS, else those of the running `make run`, else the default
// port.
func defaultBrokers() string {
	e, _ := endpoints.Read(clientDataDir())
	return endpoints.Pick(os.Getenv("KAFKA_BROKERS"), strings.Join(e.KafkaBrokers, ","), "127.0.0.1:9092")
}
