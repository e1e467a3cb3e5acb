package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// The HTTP/2 part of the benchmarks (issue 16): wsdial with WithHTTP2 side
// by side with wsdial over HTTP/1.1, against one server that takes both
// (ALPN picks), so that only the transport differs.

// H2 holds the HTTP/2 results.
type H2 struct {
	Delay time.Duration
	RTT   []h2RTT
	Timed *Timed
	// Idle is the memory of idle connections: [0] HTTP/1.1 connections, [1]
	// WebSocket streams of one HTTP/2 connection.
	Idle     [2]IdleResult
	IdleErr  [2]error
	IdleN    int
	Many     h2Many   // against x/net/http2's server
	ManyLean h2Many   // against the lean server
	run      *H2Parts // what ran; nil for everything
}

// h2RTT is one row of the round-trips table: a way to ready, over HTTP/1.1
// and over HTTP/2.
type h2RTT struct {
	path, h1What, h2What string
	h1Min, h2Min         int     // the fewest round trips each needs; 0 for none
	target               float64 // the bound on the HTTP/2 median, or 0
	h1, h2               *rttCell
}

// RunH2 runs the HTTP/2 comparison: round trips through the delay relays
// (reps dials each), the timed cases (rounds), the memory of n idle
// connections against n idle streams, and n WebSockets echoing at once over
// one connection. run says which of those parts ("rtt", "timed", "idle",
// "many") to run, and which timed cases, by name, so that one case can be
// measured alone; nil runs everything.
func RunH2(e *Env, rounds, reps, n int, run *H2Parts, log io.Writer) *H2 {
	res := &H2{Delay: time.Duration(e.Cfg.DelayMS) * time.Millisecond, IdleN: n, run: run}
	h1, h2 := lib.WSDial{}, lib.WSDialH2{}
	origin := func(addr, path string) lib.Route {
		return lib.Route{URL: "wss://" + addr + path, TLS: e.TLS}
	}
	if run.part("rtt") {
		res.RTT = h2RTTs(e, reps, log)
	}
	if run.part("timed") {
		fmt.Fprintf(log, "HTTP/2: timed cases\n")
		timed := func(addr, suffix string) []Case {
			return []Case{
				{Name: "dial wss" + suffix, Route: origin(addr, wire.PathEcho), Bench: benchDial},
				{Name: "echo 128 B wss" + suffix, Route: origin(addr, wire.PathEcho), Bench: benchEcho},
				{Name: "client→server 1 MiB wss" + suffix, Route: origin(addr, wire.PathSink), Bench: benchUpload},
				{Name: "server→client 1 MiB wss" + suffix, Route: origin(addr, wire.PathSource), Bench: benchDownload},
			}
		}
		// The same cases against the lean HTTP/2 server, whose HTTP/1.1
		// column is the same gobwas/ws code on its own port.
		cases := append(timed(e.Cfg.H2, ""), timed(e.Cfg.H2Lean, leanSuffix)...)
		cases = slices.DeleteFunc(cases, func(c Case) bool { return !run.timedCase(c.Name) })
		res.Timed = RunTimed(cases, []lib.Library{h1, h2}, rounds, log)
	}
	if run.part("idle") {
		fmt.Fprintf(log, "HTTP/2: memory of %d idle connections and streams\n", n)
		for i, l := range []lib.Library{h1, h2} {
			res.Idle[i], res.IdleErr[i] = measureIdle(idleJob{Lib: l.Name(), N: n, H2: true})
		}
	}
	if run.part("many") {
		fmt.Fprintf(log, "HTTP/2: %d WebSockets at once on one connection\n", n)
		res.Many = runMany(h2, origin(e.Cfg.H2, wire.PathEcho), e.Cfg.H2, n)
		res.ManyLean = runMany(h2, origin(e.Cfg.H2Lean, wire.PathEcho), e.Cfg.H2Lean, n)
	}
	return res
}

// leanSuffix names the timed cases run against the lean HTTP/2 server.
const leanSuffix = ", lean h2 server"

// H2Parts picks what RunH2 runs.
type H2Parts struct {
	Skip  []string // parts not to run
	Cases string   // run only timed cases whose name contains this
}

func (r *H2Parts) part(name string) bool { return r == nil || !slices.Contains(r.Skip, name) }

func (r *H2Parts) timedCase(name string) bool { return r == nil || strings.Contains(name, r.Cases) }

// h2RTTs measures the round-trips table, reps dials a cell.
func h2RTTs(e *Env, reps int, log io.Writer) []h2RTT {
	h1, h2 := lib.WSDial{}, lib.WSDialH2{}
	d := time.Duration(e.Cfg.DelayMS) * time.Millisecond
	delayedOrigin := lib.Route{URL: "wss://" + e.Cfg.RelayH2 + wire.PathEcho, TLS: e.TLS, Delayed: true}
	viaH2 := lib.Route{URL: "wss://" + e.Cfg.WSS + wire.PathEcho, Proxy: lib.H2Connect, ProxyAddr: e.Cfg.RelayH2Connect, TLS: e.TLS, Delayed: true}
	viaH1 := e.route(true, lib.Connect, wire.PathEcho, true)

	fmt.Fprintf(log, "HTTP/2: round trips, D = %v\n", d)
	return []h2RTT{
		{path: "wss, first dial", h1What: "TCP + TLS + upgrade", h2What: "TCP + TLS + server's SETTINGS + CONNECT", h1Min: 3, h2Min: 4,
			h1: rttOf(h1, delayedOrigin, reps, false, d), h2: rttOf(lib.WSDialH2{Fresh: true}, delayedOrigin, reps, false, d)},
		{path: "wss, connection open", h1What: "as the first: no reuse", h2What: "extended CONNECT on the kept connection", h1Min: 3, h2Min: 1, target: 1.2,
			h1: rttOf(h1, delayedOrigin, reps, true, d), h2: rttOf(h2, delayedOrigin, reps, true, d)},
		{path: "wss via proxy, connection open", h1What: "http:// proxy: TCP + CONNECT + TLS + upgrade", h2What: "CONNECT stream + TLS + upgrade", h1Min: 4, h2Min: 3, target: 3.2,
			h1: rttOf(h1, viaH1, reps, true, d), h2: rttOf(h2, viaH2, reps, true, d)},
		{path: "wss via proxy, first dial", h1What: "as above", h2What: "TCP + TLS to the proxy + CONNECT + TLS + upgrade", h1Min: 4, h2Min: 5,
			h1: rttOf(h1, viaH1, reps, false, d), h2: rttOf(lib.WSDialH2{Fresh: true}, viaH2, reps, false, d)},
	}
}

// rttOf measures reps dials of l over r, in round trips (time ÷ 2D). With
// warm, one dial first opens what the later ones may share, and stays open
// while they run. delay is the relays' D.
func rttOf(l lib.Library, r lib.Route, reps int, warm bool, delay time.Duration) *rttCell {
	d, err := newDialer(l, r)
	c := &rttCell{how: d.How, err: err}
	if err != nil {
		return c
	}
	if warm {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		first, err := d.Dial(ctx)
		cancel()
		if err != nil {
			c.err = err
			return c
		}
		defer first.Abort()
	}
	for range reps {
		ttr, err := timeToReady(d.Dial)
		if err != nil {
			c.err = err
			return c
		}
		c.samples = append(c.samples, float64(ttr)/float64(2*delay))
	}
	return c
}

// h2Many is n WebSockets dialled at once, then echoing at once.
type h2Many struct {
	n, conns, echoes int
	dial, echo       time.Duration
	err              error
}

// manyEchoes is how many round trips each WebSocket makes in runMany.
const manyEchoes = 10

// runMany dials n WebSockets with l over r all at once, then has every one
// make manyEchoes round trips at once, counting the TCP connections opened
// to addr.
func runMany(l lib.Library, r lib.Route, addr string, n int) h2Many {
	res := h2Many{n: n}
	d, err := safeDialer(l, r)
	if err != nil {
		res.err = err
		return res
	}
	var tcp atomic.Int32
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{ConnectStart: func(_, a string) {
		if a == addr {
			tcp.Add(1)
		}
	}})
	conns := make([]lib.Conn, n)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Abort()
			}
		}
	}()
	errs := make([]error, n)
	all := func(f func(i int) error) error {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = f(i) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	t0 := time.Now()
	if res.err = all(func(i int) (err error) { conns[i], err = d.Dial(ctx); return err }); res.err != nil {
		return res
	}
	res.dial = time.Since(t0)
	res.conns = int(tcp.Load())
	var echoes atomic.Int64
	t1 := time.Now()
	res.err = all(func(i int) error {
		msg := bytes.Repeat([]byte{byte(i)}, 128)
		buf := make([]byte, 0, 256)
		for range manyEchoes {
			if err := conns[i].Write(lib.Binary, msg); err != nil {
				return err
			}
			var err error
			if buf, err = conns[i].Read(buf); err != nil {
				return err
			}
			if !bytes.Equal(buf, msg) {
				return fmt.Errorf("connection %d: the echo came back different", i)
			}
			echoes.Add(1)
		}
		return nil
	})
	res.echo = time.Since(t1)
	res.echoes = int(echoes.Load())
	return res
}

func (h *H2) table(p printf) {
	p("## HTTP/2: WithHTTP2 beside HTTP/1.1 (issue 16)\n\n")
	p("wsdial with `WithHTTP2` (\"HTTP/2\") and without (\"HTTP/1.1\"), against one server process that takes both on one TLS port, ALPN choosing: x/net/http2's server with extended CONNECT for RFC 8441 streams, and the raw TLS connection for HTTP/1.1 upgrades, with gobwas/ws's frame code on both, so that only the transport differs. Rows marked \"lean h2 server\" are the same cases on a second port whose HTTP/2 side is the benchmarks' own lean server (internal/server/h2lean.go: one goroutine a connection, x/net's Framer and HPACK, both directions' flow control), the counterpart of the bare gobwas/ws HTTP/1.1 fixture; x/net's server hands each echo between goroutines several times, which costs its process more CPU than the client's whole HTTP/2 overhead, and both are reported. The proxy rows go through an HTTP/2 CONNECT proxy (x/net/http2's server) for HTTP/2 and through the HTTP/1.1 CONNECT proxy above for HTTP/1.1, to the gorilla wss endpoint.\n\n")
	if h.run.part("rtt") {
		h.rttTable(p)
	}
	if h.run.part("timed") {
		h.timedTable(p)
	}
	if h.run.part("idle") {
		h.idleTable(p)
	}
	if h.run.part("many") {
		h.manyTable(p, "x/net/http2's server", h.Many)
		h.manyTable(p, "the lean server", h.ManyLean)
	}
}

func (h *H2) rttTable(p printf) {
	p("### Round trips to ready (time ÷ 2D, D = %v one way)\n\n", h.Delay)
	p("Through the delay relays, as in the round-trips table above. \"Connection open\": one dial first opens what the later ones share and stays open meanwhile; each later dial then opens a stream on it (HTTP/2), or a connection as ever (HTTP/1.1).\n\n")
	p("| path | HTTP/1.1: what it takes | HTTP/1.1 | HTTP/2: what it takes | HTTP/2 | bound (issue 16) |\n| --- | --- | --- | --- | --- | --- |\n")
	cellText := func(c *rttCell) string {
		if len(c.samples) == 0 {
			return "failed: " + oneLine(c.err)
		}
		s := summarize(c.samples)
		return fmt.Sprintf("%.2f [%.2f–%.2f]", s.Median, s.Min, s.Max)
	}
	for _, r := range h.RTT {
		bound := "–"
		if r.target > 0 {
			verdict := "**missed**"
			if len(r.h2.samples) > 0 && summarize(r.h2.samples).Median <= r.target {
				verdict = "met"
			}
			bound = fmt.Sprintf("≤ %.1f: %s", r.target, verdict)
		}
		p("| %s | %s (%d) | %s | %s (%d) | %s | %s |\n", r.path, r.h1What, r.h1Min, cellText(r.h1), r.h2What, r.h2Min, cellText(r.h2), bound)
	}
	p("\n")
}

func (h *H2) timedTable(p printf) {
	p("### Timed cases (no delay)\n\n")
	p("Medians over the rounds; \"h2/h1\" is the HTTP/2 median time over the HTTP/1.1 one (the bound for echo is 1.3). CPU/op is the client process's alone, as in the tables above, so the difference between the time ratio and the CPU ratio is the server's, and the scheduling between the two processes on their one CPU. \"dial wss\" is a new TLS connection and upgrade each time over HTTP/1.1, a stream on the kept connection over HTTP/2.\n\n")
	p("| case | HTTP/1.1 | HTTP/2 | h2/h1 | client CPU/op HTTP/1.1 | HTTP/2 | allocs HTTP/1.1 | HTTP/2 | MB/s HTTP/1.1 | HTTP/2 |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for i, c := range h.Timed.Cases {
		a, b := h.Timed.cells[i][0], h.Timed.cells[i][1]
		if len(a.samples) == 0 || len(b.samples) == 0 {
			p("| %s | %s | %s | | | | | | | |\n", c.Name, cellErr(a), cellErr(b))
			continue
		}
		ns := func(s sample) float64 { return s.ns }
		cpu := func(s sample) float64 { return s.cpu }
		al := func(s sample) float64 { return s.allocs }
		mb := func(s sample) float64 { return s.mbps }
		na, nb := a.metric(ns).Median, b.metric(ns).Median
		mbText := func(x *cell) string {
			if v := x.metric(mb).Median; v > 0 {
				return fmt.Sprintf("%.0f", v)
			}
			return "–"
		}
		p("| %s | %s | %s | %s | %s | %s | %.0f | %.0f | %s | %s |\n", c.Name, fmtDur(na), fmtDur(nb), fmtRatio(nb, na),
			fmtDur(a.metric(cpu).Median), fmtDur(b.metric(cpu).Median), a.metric(al).Median, b.metric(al).Median, mbText(a), mbText(b))
	}
	p("\n")
}

func (h *H2) idleTable(p printf) {
	p("### Memory: %d idle HTTP/1.1 connections beside %d idle streams of one HTTP/2 connection\n\n", h.IdleN, h.IdleN)
	p("Measured as in the idle-memory table above (wss here, so TLS's buffers count for HTTP/1.1; for HTTP/2 the one connection's share is spread over the streams).\n\n")
	p("| transport | no reader | goroutines each | reader blocked | goroutines each |\n| --- | --- | --- | --- | --- |\n")
	for i, name := range []string{"HTTP/1.1 connection", "HTTP/2 stream"} {
		if h.IdleErr[i] != nil {
			p("| %s | failed: %s | | | |\n", name, oneLine(h.IdleErr[i]))
			continue
		}
		r := h.Idle[i]
		p("| %s | %s | %.1f | %s | %.1f |\n", name, fmtBytes(r.NoReader), r.GoroutinesNoReader, fmtBytes(r.Reader), r.GoroutinesReader)
	}
	p("\n")
}

func (h *H2) manyTable(p printf, server string, m h2Many) {
	p("### %d WebSockets at once over one connection, to %s\n\n", m.n, server)
	if m.err != nil {
		p("Failed: %s\n\n", oneLine(m.err))
		return
	}
	p("All %d dialled at once with one Dialer, then each making %d round trips of 128 B at once: %d TCP connection(s) opened; the dials took %v in all; %d echoes in %v (%.0f round trips/s).\n\n",
		m.n, manyEchoes, m.conns, m.dial.Round(time.Millisecond), m.echoes, m.echo.Round(time.Millisecond), float64(m.echoes)/m.echo.Seconds())
}

func cellErr(c *cell) string {
	if c.err != nil {
		return "failed: " + oneLine(c.err)
	}
	return "–"
}
