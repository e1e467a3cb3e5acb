package bench

import (
	"errors"
	"fmt"
	"math"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// Idle holds the idle-memory results, per library over the rounds.
type Idle struct {
	Conns int
	Libs  []lib.Library
	runs  [][]IdleResult // [lib][round]
	errs  []error
}

// RunIdle measures idle memory over n ws direct connections, rounds times,
// the libraries interleaved, each measurement in a process of its own
// (EnvIdleJob).
func RunIdle(e *Env, libs []lib.Library, n, rounds int) *Idle {
	res := &Idle{Conns: n, Libs: libs, runs: make([][]IdleResult, len(libs)), errs: make([]error, len(libs))}
	r := e.route(false, lib.Direct, wire.PathEcho, false)
	for j, l := range libs {
		_, res.errs[j] = safeDialer(l, r)
	}
	for range rounds {
		for j, l := range libs {
			if res.errs[j] != nil {
				continue
			}
			ir, err := measureIdle(idleJob{Lib: l.Name(), N: n})
			if err != nil {
				res.errs[j] = err
				continue
			}
			res.runs[j] = append(res.runs[j], ir)
		}
	}
	return res
}

func (m *Idle) table(p printf) {
	p("## Memory per idle connection (ws direct, %d connections)\n\n", m.Conns)
	p("Go heap in use after two GCs plus goroutine stacks, over the baseline before dialling, divided by the connections. \"Reader blocked\" adds one goroutine per connection blocked in Read, after one 1-byte echo through it (gws: the adapter's first Read starts gws's ReadLoop goroutine, so its reader costs two goroutines). Each measurement runs in a process of its own, which collects once the first 5%% of the readers wait, so that the runtime starts the rest with stacks the size these readers need, as it would in a process full of them.\n\n")
	p("| library | no reader | goroutines/conn | reader blocked | goroutines/conn | wsdial/x no reader | wsdial/x reader |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	med := func(j int, f func(IdleResult) float64) float64 {
		xs := make([]float64, len(m.runs[j]))
		for i, r := range m.runs[j] {
			xs[i] = f(r)
		}
		return summarize(xs).Median
	}
	wsNo, wsRd := math.NaN(), math.NaN()
	for j, l := range m.Libs {
		if l.Name() == "wsdial" && len(m.runs[j]) > 0 {
			wsNo = med(j, func(r IdleResult) float64 { return r.NoReader })
			wsRd = med(j, func(r IdleResult) float64 { return r.Reader })
		}
	}
	for j, l := range m.Libs {
		if errors.Is(m.errs[j], lib.ErrNotApplicable) {
			continue
		}
		if len(m.runs[j]) == 0 {
			p("| %s | failed: %s | | | | | |\n", l.Name(), oneLine(m.errs[j]))
			continue
		}
		no := med(j, func(r IdleResult) float64 { return r.NoReader })
		rd := med(j, func(r IdleResult) float64 { return r.Reader })
		p("| %s | %s | %.1f | %s | %.1f | %s | %s |\n", l.Name(), fmtBytes(no),
			med(j, func(r IdleResult) float64 { return r.GoroutinesNoReader }), fmtBytes(rd),
			med(j, func(r IdleResult) float64 { return r.GoroutinesReader }), fmtRatio(wsNo, no), fmtRatio(wsRd, rd))
	}
	p("\n")
}

// Hold holds the many-connections results.
type Hold struct {
	Shards  int // processes behind the proxy's address
	Libs    []lib.Library
	Results []HoldResult
	How     []string
}

// RunHold holds n ws connections through the CONNECT proxy at once, per
// library in turn. The proxy is the server's sharded one: one address,
// several processes behind it.
func RunHold(e *Env, libs []lib.Library, n, workers int) *Hold {
	res := &Hold{Shards: e.Cfg.HoldShards, Libs: libs, Results: make([]HoldResult, len(libs)), How: make([]string, len(libs))}
	r := e.route(false, lib.Connect, wire.PathEcho, false)
	r.ProxyAddr = e.Cfg.HoldConnect
	for j, l := range libs {
		d, err := newDialer(l, r)
		res.How[j] = d.How
		if err != nil {
			res.Results[j] = HoldResult{Want: n, Err: err}
			continue
		}
		res.Results[j] = holdMany(d.Dial, n, workers, nil)
	}
	return res
}

func (h *Hold) table(p printf) {
	n := 0
	if len(h.Results) > 0 {
		n = h.Results[0].Want
	}
	p("## %d connections held through one CONNECT proxy (ws)\n\n", n)
	p("The proxy is one address served by %d processes sharing it with SO_REUSEPORT, because this machine caps each process at 20,000 descriptors and every tunnel takes two. ", h.Shards)
	p("All dialled, then measured (heap + stacks per connection, as above), then a 14-byte echo on every one to show it is usable.\n\n")
	p("| library | dialled | usable | dial all | echo all | memory/conn | how | error |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for j, l := range h.Libs {
		r := h.Results[j]
		if errors.Is(r.Err, lib.ErrNotApplicable) {
			continue
		}
		p("| %s | %d | %d | %.2f s | %.2f s | %s | %s | %s |\n", l.Name(), r.Dialled, r.Usable,
			r.DialTime.Seconds(), r.CheckTime.Seconds(), fmtBytes(r.PerConn), h.How[j], oneLine(r.Err))
	}
	p("\n")
}

func (r *RTT) table(p printf) {
	p("## Round trips to ready (time-to-ready ÷ 2D, D = %v one way)\n\n", r.Delay)
	p("Each dial goes through a loopback relay that holds every chunk D in each direction, store-and-forward (reads never wait for writes, so it adds latency without throttling). The kernel answers the SYN before the relay sees the connection, so the relay models the TCP handshake itself: it takes client bytes to arrive no earlier than 2D after accept, then holds them D like any other. Only the client's first hop is delayed: for proxied paths the relay sits between client and proxy, and the proxy reaches the server directly. Median of the dials; processing time on loopback adds a few hundredths.\n\n")
	p("| path | minimum |")
	for _, l := range r.Libs {
		p(" %s |", l.Name())
	}
	p("\n| --- | --- |")
	for range r.Libs {
		p(" --- |")
	}
	p("\n")
	for i, path := range r.Paths {
		p("| %s | %d (%s) |", path, rttMinimum[i].min, rttMinimum[i].what)
		for j := range r.Libs {
			c := r.cells[i][j]
			switch {
			case c.na:
				p(" n/a |")
			case len(c.samples) == 0:
				p(" failed: %s |", oneLine(c.err))
			default:
				s := summarize(c.samples)
				p(" %.2f [%.2f–%.2f] |", s.Median, s.Min, s.Max)
			}
		}
		p("\n")
	}
	p("\n")
	var errs []string
	for i, path := range r.Paths {
		for j, l := range r.Libs {
			if c := r.cells[i][j]; c.err != nil && len(c.samples) > 0 {
				errs = append(errs, fmt.Sprintf("- %s, %s: failed in a later dial: `%s`", l.Name(), path, oneLine(c.err)))
			}
		}
	}
	for _, e := range errs {
		p("%s\n", e)
	}
	if len(errs) > 0 {
		p("\n")
	}
}
