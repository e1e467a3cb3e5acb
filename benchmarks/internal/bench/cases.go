// Package bench runs the cases of the wsdial benchmarks over every library
// and writes the report. Each timed case is a testing.B function with
// ReportAllocs, driven by testing.Benchmark in interleaved rounds.
package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// Env is what every case needs: the server's addresses and the client TLS
// configuration that trusts its CA.
type Env struct {
	Cfg *wire.Config
	TLS *tls.Config
}

// route builds the route to endpoint path over one of the six paths, through
// the delay relays when delayed.
func (e *Env) route(secure bool, proxy, path string, delayed bool) lib.Route {
	scheme, addr := "ws", e.Cfg.WS
	if secure {
		scheme, addr = "wss", e.Cfg.WSS
	}
	r := lib.Route{Proxy: proxy, TLS: e.TLS, Delayed: delayed}
	switch proxy {
	case lib.Connect:
		r.ProxyAddr = pick(delayed, e.Cfg.RelayConnect, e.Cfg.Connect)
	case lib.SOCKS5:
		r.ProxyAddr = pick(delayed, e.Cfg.RelaySOCKS5, e.Cfg.SOCKS5)
	default:
		if delayed {
			addr = pick(secure, e.Cfg.RelayWSS, e.Cfg.RelayWS)
		}
	}
	r.URL = scheme + "://" + addr + path
	return r
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// paths are the six ways to a server, in the report's order.
var paths = []struct {
	secure bool
	proxy  string
}{
	{false, lib.Direct}, {true, lib.Direct},
	{false, lib.Connect}, {true, lib.Connect},
	{false, lib.SOCKS5}, {true, lib.SOCKS5},
}

// Case is one timed benchmark: a route and what to do over it.
type Case struct {
	Name  string
	Route lib.Route
	// Bench runs b.N operations with dial; it reports a failure by
	// returning an error, after which its result is void.
	Bench func(b *testing.B, dial lib.DialFunc) error
}

// Cases returns the timed cases in the report's order.
func Cases(e *Env) []Case {
	var cs []Case
	for _, p := range paths {
		r := e.route(p.secure, p.proxy, wire.PathEcho, false)
		cs = append(cs, Case{Name: "dial " + r.Path(), Route: r, Bench: benchDial})
	}
	cs = append(cs,
		Case{Name: "echo 128 B ws", Route: e.route(false, lib.Direct, wire.PathEcho, false), Bench: benchEcho},
		Case{Name: "echo 128 B wss", Route: e.route(true, lib.Direct, wire.PathEcho, false), Bench: benchEcho},
		Case{Name: "client→server 1 MiB ws", Route: e.route(false, lib.Direct, wire.PathSink, false), Bench: benchUpload},
		Case{Name: "server→client 1 MiB ws", Route: e.route(false, lib.Direct, wire.PathSource, false), Bench: benchDownload},
	)
	return cs
}

// timer starts the timed part of a benchmark after its setup.
type timer struct {
	b   *testing.B
	cpu time.Duration
}

func start(b *testing.B) timer {
	b.ReportAllocs()
	b.ResetTimer()
	return timer{b: b, cpu: cpuTime()}
}

// stop ends the timed part and reports the process's CPU time per op,
// which counts every goroutine of the client, the libraries' own included.
func (t timer) stop() {
	t.b.StopTimer()
	cpu := cpuTime() - t.cpu
	t.b.ReportMetric(float64(cpu.Nanoseconds())/float64(t.b.N), "cpu-ns/op")
}

// benchDial is dial + opening handshake + dropping the stream.
func benchDial(b *testing.B, dial lib.DialFunc) error {
	ctx := context.Background()
	t := start(b)
	for range b.N {
		c, err := dial(ctx)
		if err != nil {
			return err
		}
		c.Abort()
	}
	t.stop()
	return nil
}

// benchEcho is one round trip of a 128-byte text message, read back into a
// reused buffer.
func benchEcho(b *testing.B, dial lib.DialFunc) error {
	c, err := dial(context.Background())
	if err != nil {
		return err
	}
	defer c.Abort()
	msg := bytes.Repeat([]byte{'x'}, 128)
	buf := make([]byte, 0, 512)
	// One round trip first, so lazily made buffers are not counted.
	if err := c.Write(lib.Text, msg); err != nil {
		return err
	}
	if buf, err = c.Read(buf); err != nil {
		return err
	}
	if !bytes.Equal(buf, msg) {
		return fmt.Errorf("echo returned %d bytes, want the 128 sent", len(buf))
	}
	b.SetBytes(int64(len(msg)))
	t := start(b)
	for range b.N {
		if err := c.Write(lib.Text, msg); err != nil {
			return err
		}
		if buf, err = c.Read(buf); err != nil {
			return err
		}
	}
	t.stop()
	return nil
}

const (
	bulkSize = 1 << 20
	// window is how many messages the uploader may have unacknowledged; the
	// sink acks each one.
	window = 4
)

// benchUpload sends 1 MiB binary messages to the sink, keeping at most
// window of them unacknowledged.
func benchUpload(b *testing.B, dial lib.DialFunc) error {
	c, err := dial(context.Background())
	if err != nil {
		return err
	}
	defer c.Abort()
	payload := make([]byte, bulkSize)
	ack := make([]byte, 0, 16)
	// One message first, so lazily made buffers are not counted.
	if err := c.Write(lib.Binary, payload); err != nil {
		return err
	}
	if ack, err = c.Read(ack); err != nil {
		return err
	}
	b.SetBytes(bulkSize)
	t := start(b)
	pending := 0
	for range b.N {
		if pending == window {
			if ack, err = c.Read(ack); err != nil {
				return err
			}
			pending--
		}
		if err := c.Write(lib.Binary, payload); err != nil {
			return err
		}
		pending++
	}
	for ; pending > 0; pending-- {
		if ack, err = c.Read(ack); err != nil {
			return err
		}
	}
	t.stop()
	return nil
}

// benchDownload asks the source for b.N messages of 1 MiB and reads them
// into a reused buffer.
func benchDownload(b *testing.B, dial lib.DialFunc) error {
	c, err := dial(context.Background())
	if err != nil {
		return err
	}
	defer c.Abort()
	buf := make([]byte, 0, bulkSize)
	if err := c.Write(lib.Text, []byte(wire.SourceRequest(1, bulkSize))); err != nil {
		return err
	}
	if buf, err = c.Read(buf); err != nil {
		return err
	}
	req := []byte(wire.SourceRequest(b.N, bulkSize))
	b.SetBytes(bulkSize)
	t := start(b)
	if err := c.Write(lib.Text, req); err != nil {
		return err
	}
	for range b.N {
		if buf, err = c.Read(buf); err != nil {
			return err
		}
		if len(buf) != bulkSize {
			return fmt.Errorf("read %d bytes, want %d", len(buf), bulkSize)
		}
	}
	t.stop()
	return nil
}
