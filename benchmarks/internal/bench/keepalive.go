package bench

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// KeepAlive is what wsdial's keepalive costs: the memory of an idle
// connection with it and without it, and many connections held through the
// sharded CONNECT proxy while nobody reads, each pinging every interval,
// with the CPU that a spell of that takes, against the same spell with the
// keepalive off.
type KeepAlive struct {
	Interval, Timeout, Spell time.Duration
	IdleConns                int
	Idle                     [2]IdleResult // off, on
	IdleErr                  error
	Hold                     [2]HoldResult // off, on
	Pongs                    int64         // received in the spell with the keepalive on
	Client, Server, Machine  [2]time.Duration
}

// RunKeepAlive measures the keepalive: idle memory over idleConns ws
// direct connections, then hold connections through the hold proxy, held
// for spell with nobody reading.
func RunKeepAlive(e *Env, idleConns, hold, workers int, interval, timeout, spell time.Duration) *KeepAlive {
	res := &KeepAlive{Interval: interval, Timeout: timeout, Spell: spell, IdleConns: idleConns}
	var pongs atomic.Int64
	libs := [2]lib.WSDial{{}, {KeepAlive: interval, KeepAliveTimeout: timeout, Pongs: &pongs}}
	for i, l := range libs {
		var err error
		res.Idle[i], err = measureIdle(idleJob{Lib: l.Name(), N: idleConns, KeepAlive: l.KeepAlive, KeepAliveTimeout: l.KeepAliveTimeout})
		if err != nil {
			res.IdleErr = err
			break
		}
	}
	proxied := e.route(false, lib.Connect, wire.PathEcho, false)
	proxied.ProxyAddr = e.Cfg.HoldConnect
	for i, l := range libs {
		d, err := l.Dialer(proxied)
		if err != nil {
			res.Hold[i] = HoldResult{Want: hold, Err: err}
			continue
		}
		res.Hold[i] = holdMany(d.Dial, hold, workers, func() {
			p0, c0, s0, m0 := pongs.Load(), cpuTime(), procCPU(e.Cfg.PID), machineBusy()
			time.Sleep(spell)
			res.Client[i], res.Server[i], res.Machine[i] = cpuTime()-c0, procCPU(e.Cfg.PID)-s0, machineBusy()-m0
			if i == 1 {
				res.Pongs = pongs.Load() - p0
			}
		})
	}
	return res
}

func (k *KeepAlive) table(p printf) {
	p("## wsdial's keepalive: what it costs\n\n")
	p("`WithKeepAlive(%v, %v)`: a timer per connection, no goroutine. Idle memory as above, over %d ws direct connections, with the keepalive off and on, measured as the connections are dialled: the keepalive's state is all there from the start. Each row is measured in a process of its own, as in the table above.\n\n",
		k.Interval, k.Timeout, k.IdleConns)
	if k.IdleErr != nil {
		p("Idle memory failed: `%s`\n\n", oneLine(k.IdleErr))
	} else {
		p("| wsdial | no reader | reader blocked | goroutines/conn, no reader |\n| --- | --- | --- | --- |\n")
		for i, name := range []string{"keepalive off", "keepalive on"} {
			r := k.Idle[i]
			p("| %s | %s | %s | %.2f |\n", name, fmtBytes(r.NoReader), fmtBytes(r.Reader), r.GoroutinesNoReader)
		}
		p("| extra per connection | %s | %s | |\n\n", fmtBytes(k.Idle[1].NoReader-k.Idle[0].NoReader), fmtBytes(k.Idle[1].Reader-k.Idle[0].Reader))
	}
	n := k.Hold[0].Want
	p("%d connections held through the sharded CONNECT proxy, nobody reading, for a spell of %v; then a 14-byte echo on every one. CPU is user+system over the spell: the client's (getrusage), the echo server's (/proc), and the whole machine's, which also holds the proxy's processes and other people's work.\n\n", n, k.Spell)
	p("| keepalive | dialled | usable after the spell | memory/conn | pongs in the spell | client CPU | server CPU | machine CPU | error |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for i, name := range []string{"off", "on"} {
		r := k.Hold[i]
		pongs := "–"
		if i == 1 {
			pongs = fmt.Sprint(k.Pongs)
		}
		p("| %s | %d | %d | %s | %s | %.2f s | %.2f s | %.2f s | %s |\n", name, r.Dialled, r.Usable, fmtBytes(r.PerConn), pongs,
			k.Client[i].Seconds(), k.Server[i].Seconds(), k.Machine[i].Seconds(), oneLine(r.Err))
	}
	if k.Pongs > 0 {
		extra := (k.Client[1] - k.Client[0]).Seconds()
		p("\nThe pings cost the client %.1f µs of CPU per pong received, %.1f%% of a core at %d connections pinging every %v; the echo server %.1f µs per pong.\n",
			extra/float64(k.Pongs)*1e6, extra/k.Spell.Seconds()*100, n, k.Interval,
			(k.Server[1]-k.Server[0]).Seconds()/float64(k.Pongs)*1e6)
	}
	p("\n")
}
