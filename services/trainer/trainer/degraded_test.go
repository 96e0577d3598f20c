package trainer

import (
	"context"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/swipeflix/swipeflix/pkg/store"
	"github.com/swipeflix/swipeflix/pkg/store/pgtest"
)

// pgProxy stands between the trainer and PostgreSQL so a test can take the
// database away and bring it back.
type pgProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startPGProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); p.setDown(true); <-done })
	return p
}

func (p *pgProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c], p.conns[up] = true, true
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }() //nolint:errcheck // a closed copy ends the pair
	io.Copy(c, up)                             //nolint:errcheck
	c.Close()
}

func (p *pgProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func TestPostgresOutageKeepsPublishing(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	e := newEnv(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startPGProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DatabaseURL: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st

	evs, _ := synthEvents(40, 60, 900)
	e.publish(t, evs)
	r := e.start(t, e.config(), nil)
	waitFor(t, "v1 registered", func() bool {
		rec, err := st.Current(ctx)
		return err == nil && rec.Version == 1
	})

	proxy.setDown(true)
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.bus.RequestRetrain(rctx, "outage test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "v2 published over NATS with the database down", func() bool {
		m, _ := e.current(t)
		return m.Version == 2
	})
	var h Health
	waitFor(t, "health degraded", func() bool {
		getJSON(t, r.url("/health"), &h)
		return h.Status == "degraded"
	})
	if h.RegistryPending == 0 || gauge(t, r, "swipeflix_registry_degraded") != 1 {
		t.Errorf("degraded health %+v, gauge %v; want pending writes and gauge 1", h, gauge(t, r, "swipeflix_registry_degraded"))
	}

	proxy.setDown(false)
	waitFor(t, "queued registry writes applied", func() bool {
		rec, err := st.Current(ctx)
		return err == nil && rec.Version == 2
	})
	waitFor(t, "health ok again", func() bool {
		getJSON(t, r.url("/health"), &h)
		return h.Status == "ok"
	})
	if g := gauge(t, r, "swipeflix_registry_degraded"); g != 0 {
		t.Errorf("registry_degraded = %v after recovery, want 0", g)
	}
}

func gauge(t *testing.T, r *running, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}
