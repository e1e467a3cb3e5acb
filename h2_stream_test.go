package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// quietTunnel opens a CONNECT stream through a scripted HTTP/2 proxy that
// answers 200 and then sends nothing and reads nothing, and returns it.
func quietTunnel(t *testing.T) net.Conn {
	t.Helper()
	hold := make(chan struct{})
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 10})
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "200", false)
		<-hold
	})
	t.Cleanup(func() { close(hold) }) // before the server's cleanup, which waits for the script
	d := mustNew(t, WithProxy("https://"+addr), WithHTTP2(), WithProxyTLSConfig(&tls.Config{RootCAs: pool}))
	t.Cleanup(d.CloseIdleConnections)
	c, err := d.DialContext(testCtx(t), "tcp", "target.example:443")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitBlocked waits until n goroutines wait in a select with every one of
// fns, functions named as in a stack trace, on their stacks.
func waitBlocked(t *testing.T, n int, fns ...string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	waitUntil(t, fmt.Sprintf("%d calls wait in %s", n, strings.Join(fns, " in ")), func() bool {
		stacks := buf[:runtime.Stack(buf, true)]
		count := 0
		for _, g := range bytes.Split(stacks, []byte("\n\n")) {
			found := bytes.Contains(g, []byte(" [select"))
			for _, fn := range fns {
				found = found && bytes.Contains(g, []byte(fn))
			}
			if found {
				count++
			}
		}
		return count >= n
	})
}

// TestH2StreamDeadlineSetWhileBlocked sets a deadline on a stream while a
// Read and a Write already wait without one: both must return at it, as
// net.Conn promises (and as watchContext needs to cut a TLS handshake over
// a tunnel short when the context is cancelled).
func TestH2StreamDeadlineSetWhileBlocked(t *testing.T) {
	checkGoroutines(t)
	c := quietTunnel(t)
	errs := make(chan error, 2)
	go func() {
		_, err := c.Read(make([]byte, 1))
		errs <- err
	}()
	go func() {
		// The proxy's window is 1 KiB and it reads nothing: this blocks.
		_, err := c.Write(make([]byte, 1<<20))
		errs <- err
	}()
	waitBlocked(t, 1, "(*h2Stream).Read(", "TestH2StreamDeadlineSetWhileBlocked")
	waitBlocked(t, 1, "(*h2Stream).Write(", "TestH2StreamDeadlineSetWhileBlocked")
	c.SetDeadline(aLongTimeAgo)
	for range 2 {
		select {
		case err := <-errs:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("blocked call: %v, want the deadline", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a call that blocked before its deadline was set is still blocked")
		}
	}
}

// TestH2StreamCloseWakesEveryone closes a stream while several Reads and
// several Writes wait on it: every one must return.
func TestH2StreamCloseWakesEveryone(t *testing.T) {
	checkGoroutines(t)
	c := quietTunnel(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { c.Read(make([]byte, 1)) })
		wg.Go(func() { c.Write(make([]byte, 1<<20)) })
	}
	waitBlocked(t, 3, "(*h2Stream).Read(", "TestH2StreamCloseWakesEveryone")
	waitBlocked(t, 3, "(*h2Stream).Write(", "TestH2StreamCloseWakesEveryone")
	c.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("calls still blocked after Close")
	}
}

// TestH2TLSOverTunnelCancelled cancels a dial whose TLS handshake, inside an
// HTTP/2 tunnel, waits for a target that never answers, with no deadline:
// the dial must end at once.
func TestH2TLSOverTunnelCancelled(t *testing.T) {
	checkGoroutines(t)
	hold := make(chan struct{})
	defer close(hold)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings()
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "200", false) // a tunnel to a target that says nothing
		<-hold
	})
	d := mustNew(t, WithProxy("https://"+addr), WithHTTP2(), WithProxyTLSConfig(&tls.Config{RootCAs: pool}),
		WithHandshakeTimeout(0))
	defer d.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := d.DialWebSocket(ctx, "wss://target.example/")
		done <- err
	}()
	waitBlocked(t, 1, "(*h2Stream).Read(", "tlsTarget(") // the TLS handshake waits for the target
	cancel()
	select {
	case err := <-done:
		if checkClass(t, err, ErrTLS); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled dial: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cancelled dial is still waiting in the TLS handshake")
	}
}
