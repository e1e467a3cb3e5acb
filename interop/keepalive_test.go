package interop

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// The keepalive that issue 13 asks to hold a connection through the
// idle-cutting proxies of peers/idle.sh, whose cut comes after 2 s.
const (
	kaInterval = 500 * time.Millisecond
	kaTimeout  = 2 * time.Second
	kaIdle     = 10 * time.Second // five times the proxies' idle timeout
)

// dialKeepAlive dials the echo server behind the proxy at addr with the
// keepalive on, and checks one echo.
func dialKeepAlive(t *testing.T, addr string) *wsdial.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	c, err := newDialer(t, wsdial.WithoutProxy(), wsdial.WithKeepAlive(kaInterval, kaTimeout)).DialWebSocket(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.NetConn().Close() })
	if err := c.WriteMessage(wsdial.TextMessage, []byte("before the pause")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "before the pause" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
	return c
}

// TestKeepAliveThroughIdleProxies: with WithKeepAlive(500ms, 2s), a
// connection through each idle-cutting proxy stays usable for 10 s of
// idleness, five times the proxy's cut, and echoes afterwards, whether a
// read waits all along or nobody reads.
func TestKeepAliveThroughIdleProxies(t *testing.T) {
	for _, tc := range idleCutters {
		for _, reader := range []bool{true, false} {
			row := "idle 10 s, keepalive 500ms/2s, read blocked"
			if !reader {
				row = "idle 10 s, keepalive 500ms/2s, no read"
			}
			t.Run(tc.name+"/"+row, func(t *testing.T) {
				t.Parallel() // the four connections idle at once; each proxy serves many
				record(t, row, tc.name)
				addr := extraPeer(t, tc.peer)
				c := dialKeepAlive(t, addr)
				pongs := make(chan struct{}, 1024)
				c.SetPongHandler(func([]byte) {
					select {
					case pongs <- struct{}{}:
					default:
					}
				})
				start := time.Now()
				var got <-chan readResult
				if reader {
					got = readOne(c)
					select {
					case r := <-got:
						t.Fatalf("the read returned after %v idle: %q, %v", time.Since(start), r.msg, r.err)
					case <-time.After(kaIdle):
					}
				} else {
					time.Sleep(kaIdle) // nobody reads, on purpose: the keepalive alone keeps the tunnel
				}
				n := len(pongs)
				if n < int(kaIdle/kaInterval)/2 {
					t.Errorf("%d pongs in %v idle with a %v interval", n, kaIdle, kaInterval)
				}
				if err := c.WriteMessage(wsdial.TextMessage, []byte("after the pause")); err != nil {
					t.Fatalf("write after %v idle: %v", kaIdle, err)
				}
				if got == nil {
					got = readOne(c)
				}
				select {
				case r := <-got:
					if r.err != nil || string(r.msg) != "after the pause" {
						t.Fatalf("echo after %v idle: %q, %v", kaIdle, r.msg, r.err)
					}
				case <-time.After(kaTimeout + 5*time.Second):
					t.Fatal("no echo after the pause")
				}
				t.Logf("usable after %v idle, %d pongs", time.Since(start).Round(10*time.Millisecond), n)
			})
		}
	}
}

type readResult struct {
	msg []byte
	err error
}

// readOne reads one message on a goroutine of its own.
func readOne(c *wsdial.Conn) <-chan readResult {
	ch := make(chan readResult, 1)
	go func() {
		_, msg, err := c.ReadMessage()
		ch <- readResult{msg, err}
	}()
	return ch
}

// haproxyPID returns the PID of the HAProxy that peers/idle.sh started,
// after checking that it is HAProxy's.
func haproxyPID(t *testing.T) int {
	t.Helper()
	v := os.Getenv("WSDIAL_INTEROP_IDLE_HAPROXY_PID")
	pid, err := strconv.Atoi(v)
	if err != nil || pid <= 1 {
		t.Fatalf("WSDIAL_INTEROP_IDLE_HAPROXY_PID=%q is not a PID", v)
	}
	comm, err := os.ReadFile("/proc/" + v + "/comm")
	if err != nil || strings.TrimSpace(string(comm)) != "haproxy" {
		t.Fatalf("PID %d is not HAProxy (%q, %v): refusing to stop it", pid, comm, err)
	}
	return pid
}

// TestKeepAliveFrozenProxy: a path that dies without a FIN. HAProxy is
// frozen with SIGSTOP in the middle of a session, so that its kernel still
// takes the pings but nothing comes back; a ReadMessage blocked meanwhile
// returns ErrKeepAliveTimeout within interval + timeout + 1 s. HAProxy is
// resumed whatever happens.
func TestKeepAliveFrozenProxy(t *testing.T) {
	const name = "haproxy timeout tunnel 2s"
	record(t, "frozen with SIGSTOP, keepalive 500ms/2s: verdict", name)
	addr := extraPeer(t, "IDLE_HAPROXY")
	pid := haproxyPID(t)
	c := dialKeepAlive(t, addr)
	got := readOne(c)

	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %d: %v", pid, err)
	}
	frozen := time.Now()
	t.Cleanup(func() {
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Errorf("SIGCONT %d: %v", pid, err)
		}
	})
	bound := kaInterval + kaTimeout + time.Second
	select {
	case r := <-got:
		took := time.Since(frozen)
		if !errors.Is(r.err, wsdial.ErrKeepAliveTimeout) || !errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Fatalf("the read returned after %v: %q, %v; want ErrKeepAliveTimeout", took, r.msg, r.err)
		}
		if took > bound {
			t.Errorf("the verdict came %v after the freeze, past interval + timeout + 1 s = %v", took, bound)
		}
		t.Logf("ErrKeepAliveTimeout %v after the freeze: %v", took.Round(10*time.Millisecond), r.err)
	case <-time.After(bound + 5*time.Second):
		t.Fatalf("the read was still blocked %v after the freeze", time.Since(frozen))
	}
	if err := c.WriteMessage(wsdial.TextMessage, []byte("too late")); !errors.Is(err, wsdial.ErrKeepAliveTimeout) {
		t.Errorf("a write after the verdict: %v", err)
	}
}
