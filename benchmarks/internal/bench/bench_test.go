package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/server"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// testDelay is the relays' delay in these tests: long enough to tell a
// missing round trip from scheduling noise, short enough to stay quick.
const testDelay = 15 * time.Millisecond

// startServers runs every server in this process, for the test's life.
func startServers(t *testing.T) *Env {
	t.Helper()
	tlsCfg, caPEM, err := server.NewTestPKI()
	if err != nil {
		t.Fatal(err)
	}
	g := server.NewGroup()
	t.Cleanup(g.Close)
	listen := func(serve func(net.Listener)) string {
		ln, err := server.Listen()
		if err != nil {
			t.Fatal(err)
		}
		serve(ln)
		return ln.Addr().String()
	}
	cfg := &wire.Config{DelayMS: int(testDelay / time.Millisecond)}
	cfg.WS = listen(func(ln net.Listener) { server.ServeWS(g, ln) })
	cfg.WSS = listen(func(ln net.Listener) { server.ServeWS(g, tls.NewListener(ln, tlsCfg)) })
	cfg.RawTCP = listen(func(ln net.Listener) { server.ServeRaw(g, ln) })
	cfg.RawTLS = listen(func(ln net.Listener) { server.ServeRaw(g, tls.NewListener(ln, tlsCfg)) })
	cfg.Connect = listen(func(ln net.Listener) { server.ServeConnect(g, ln) })
	cfg.SOCKS5 = listen(func(ln net.Listener) { server.ServeSOCKS5(g, ln) })
	cfg.HoldConnect = cfg.Connect
	relay := func(up string) string {
		return listen(func(ln net.Listener) { server.ServeRelay(g, ln, up, testDelay) })
	}
	cfg.RelayWS, cfg.RelayWSS = relay(cfg.WS), relay(cfg.WSS)
	cfg.RelayConnect, cfg.RelaySOCKS5 = relay(cfg.Connect), relay(cfg.SOCKS5)

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &Env{Cfg: cfg, TLS: &tls.Config{RootCAs: pool}}
}

// TestEveryLibraryEveryPath dials each library over each path, checks the
// proxy is really used, and echoes a message.
func TestEveryLibraryEveryPath(t *testing.T) {
	e := startServers(t)
	for _, l := range lib.All(e.Cfg.RawTCP, e.Cfg.RawTLS) {
		for _, p := range paths {
			r := e.route(p.secure, p.proxy, wire.PathEcho, false)
			t.Run(l.Name()+"/"+r.Path(), func(t *testing.T) {
				d, err := newDialer(l, r)
				if errors.Is(err, lib.ErrNotApplicable) {
					t.Skip("not applicable")
				}
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				c, err := d.Dial(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Abort()
				msg := bytes.Repeat([]byte("x"), 128)
				if err := c.Write(lib.Text, msg); err != nil {
					t.Fatal(err)
				}
				got, err := c.Read(nil)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, msg) {
					t.Fatalf("echo: got %d bytes, want the 128 sent", len(got))
				}
			})
		}
	}
}

// TestSinkAndSource runs the throughput endpoints with a few messages.
func TestSinkAndSource(t *testing.T) {
	e := startServers(t)
	for _, l := range lib.All(e.Cfg.RawTCP, e.Cfg.RawTLS) {
		t.Run(l.Name(), func(t *testing.T) {
			ctx := context.Background()
			sink, err := l.Dialer(e.route(false, lib.Direct, wire.PathSink, false))
			if err != nil {
				t.Fatal(err)
			}
			c, err := sink.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Abort()
			payload := make([]byte, 100<<10)
			for range 3 {
				if err := c.Write(lib.Binary, payload); err != nil {
					t.Fatal(err)
				}
				if ack, err := c.Read(nil); err != nil || string(ack) != "a" {
					t.Fatalf("ack %q, %v", ack, err)
				}
			}

			source, err := l.Dialer(e.route(false, lib.Direct, wire.PathSource, false))
			if err != nil {
				t.Fatal(err)
			}
			s, err := source.Dial(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Abort()
			if err := s.Write(lib.Text, []byte(wire.SourceRequest(3, 100<<10))); err != nil {
				t.Fatal(err)
			}
			var buf []byte
			for range 3 {
				if buf, err = s.Read(buf); err != nil || len(buf) != 100<<10 {
					t.Fatalf("read %d bytes, %v", len(buf), err)
				}
			}
		})
	}
}

// TestRelayRoundTrips checks that the delay link costs what it should: a ws
// dial through it needs its TCP and upgrade round trips, no fewer. Only the
// lower bound is checked; a loaded machine may add to it.
func TestRelayRoundTrips(t *testing.T) {
	e := startServers(t)
	want := map[string]float64{"ws direct": 2, "ws via CONNECT": 3, "ws via SOCKS5": 4}
	for _, p := range paths {
		r := e.route(p.secure, p.proxy, wire.PathEcho, true)
		least, ok := want[r.Path()]
		if !ok {
			continue
		}
		d, err := lib.Gorilla{}.Dialer(r)
		if err != nil {
			t.Fatal(err)
		}
		ttr, err := timeToReady(d.Dial)
		if err != nil {
			t.Fatal(err)
		}
		if got := float64(ttr) / float64(2*testDelay); got < least {
			t.Errorf("%s: ready after %.2f round trips, want at least %v", r.Path(), got, least)
		}
	}
}

// TestConnectRefusesForwardProxying checks the one refusal the report
// relies on: a GET with an absolute URL is not forwarded.
func TestConnectRefusesForwardProxying(t *testing.T) {
	e := startServers(t)
	c, err := net.Dial("tcp", e.Cfg.Connect)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET http://" + e.Cfg.WS + "/echo HTTP/1.1\r\nHost: " + e.Cfg.WS + "\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 12)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != "HTTP/1.1 405" {
		t.Fatalf("got %q, want a 405", buf)
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{5, 1, 3, 2})
	if s.Median != 2.5 || s.Min != 1 || s.Max != 5 {
		t.Fatalf("summarize = %+v", s)
	}
}
