package svcmain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/swipeflix/swipeflix/pkg/svcmain/svcmaintest"
)

func TestGroupFirstFailureStopsAll(t *testing.T) {
	g, ctx := NewGroup(context.Background())
	stopped := make(chan struct{})
	g.Go("waiter", func(ctx context.Context) error {
		<-ctx.Done()
		close(stopped)
		return nil
	})
	g.Go("one-shot", func(context.Context) error { return ErrDone })
	g.Go("broken", func(context.Context) error { return errors.New("boom") })
	err := g.Wait()
	if err == nil || err.Error() != "broken: boom" {
		t.Fatalf("Wait = %v, want broken: boom", err)
	}
	<-stopped
	if ctx.Err() == nil {
		t.Error("the group's context is still live")
	}
}

func TestGroupTaskReturningEarlyIsAnError(t *testing.T) {
	g, _ := NewGroup(context.Background())
	g.Go("quitter", func(context.Context) error { return nil })
	if err := g.Wait(); err == nil || !strings.Contains(err.Error(), "quitter stopped unexpectedly") {
		t.Fatalf("Wait = %v", err)
	}
}

func TestGroupCleanStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	g, _ := NewGroup(ctx)
	for i := range 3 {
		g.Go(fmt.Sprint("task", i), func(ctx context.Context) error { <-ctx.Done(); return nil })
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatalf("Wait after cancel = %v, want nil", err)
	}
}

func serveTest(t *testing.T, l HTTPLimits) string {
	t.Helper()
	return svcmaintest.Serve(t, func(ctx context.Context, ln net.Listener) error {
		return ServeHTTP(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) //nolint:errcheck // the test reads nothing back
			w.Write([]byte("ok"))       //nolint:errcheck // as above
		}), l)
	})
}

// A client that trickles its body is cut off at the read timeout instead
// of holding its connection (issue 10, defect 7).
func TestSlowClientIsCutOff(t *testing.T) {
	l := DefaultHTTPLimits()
	l.ReadHeaderTimeout, l.ReadTimeout = 200*time.Millisecond, 500*time.Millisecond
	addr := serveTest(t, l)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("a 10-byte-per-second client still held its connection after 20 s")
	}
}

// Past MaxConns, a new connection is not served until one closes.
func TestConnectionCap(t *testing.T) {
	l := DefaultHTTPLimits()
	l.MaxConns = 2
	addr := serveTest(t, l)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 1)
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("held connection: %v", err)
		}
		held = append(held, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	fmt.Fprintf(third, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 1)
	if _, err := third.Read(buf); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := third.Read(buf); err != nil {
		t.Fatalf("the third connection was not served after one closed: %v", err)
	}
}

// TestServeFiberDrain ends the context while a request is in flight: one
// that ends within the shutdown timeout still gets its answer and
// ServeFiber returns nil; one that outlasts it does not hold ServeFiber,
// which says so with ErrDrainTimeout (the services log it instead of
// failing: a keep-alive client made the ingest fail its shutdown before).
func TestServeFiberDrain(t *testing.T) {
	for _, tc := range []struct {
		name           string
		handler, limit time.Duration
		want           error
	}{
		{"drains", 200 * time.Millisecond, 5 * time.Second, nil},
		{"times out", 2 * time.Second, 100 * time.Millisecond, ErrDrainTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			started := make(chan struct{})
			app.Get("/slow", func(c *fiber.Ctx) error {
				close(started)
				time.Sleep(tc.handler)
				return c.SendString("done")
			})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- ServeFiber(ctx, app, ln, tc.limit) }()
			answer := make(chan string, 1)
			go func() {
				resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
				if err != nil {
					answer <- err.Error()
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				answer <- string(b)
			}()
			<-started
			cancel()
			if err := <-served; !errors.Is(err, tc.want) {
				t.Errorf("ServeFiber = %v, want %v", err, tc.want)
			}
			if tc.want == nil {
				if got := <-answer; got != "done" {
					t.Errorf("in-flight request got %q, want done", got)
				}
			}
		})
	}
}
