package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progress draws a one-line progress bar on a terminal (or prints a line
// every few seconds elsewhere) from its own goroutine, which stop ends.
type progress struct {
	out   io.Writer
	tty   bool
	start time.Time

	mu    sync.Mutex
	done  int64
	total int64

	quit chan struct{}
	wg   sync.WaitGroup
}

func startProgress(out io.Writer) *progress {
	p := &progress{out: out, start: time.Now(), quit: make(chan struct{})}
	if f, ok := out.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	every := 5 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

func (p *progress) setTotal(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	p.done += n
	p.mu.Unlock()
}

// stop ends the drawing goroutine and draws the final state.
func (p *progress) stop() {
	close(p.quit)
	p.wg.Wait()
	p.draw(true)
}

func (p *progress) draw(final bool) {
	p.mu.Lock()
	done, total := p.done, p.total
	p.mu.Unlock()
	secs := time.Since(p.start).Seconds()
	perSec := 0.0
	if secs > 0 {
		perSec = float64(done) / secs
	}
	line := fmt.Sprintf("%d events  %.0f ev/s  %.1fs", done, perSec, secs)
	if total > 0 {
		frac := min(1, float64(done)/float64(total))
		const width = 30
		n := int(frac * width)
		line = fmt.Sprintf("[%s%s] %3.0f%% %d/%d events  %.0f ev/s", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100, done, total, perSec)
	}
	switch {
	case p.tty && final:
		fmt.Fprintf(p.out, "\r%s\n", line)
	case p.tty:
		fmt.Fprintf(p.out, "\r%s", line)
	default:
		fmt.Fprintln(p.out, line)
	}
}
