package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// rttMinimum is the fewest round trips each path needs, in paths' order:
// for SOCKS5, as the clients measured send it; a client that sent its
// request behind its greeting without waiting would need one fewer.
var rttMinimum = []struct {
	min  int
	what string
}{
	{2, "TCP + upgrade"},
	{3, "TCP + TLS 1.3 + upgrade"},
	{3, "TCP + CONNECT + upgrade"},
	{4, "TCP + CONNECT + TLS 1.3 + upgrade"},
	{4, "TCP + greeting + request + upgrade, the request sent once the greeting is answered, as golang.org/x/net/proxy and wsdial send it"},
	{5, "TCP + greeting + request + TLS 1.3 + upgrade, likewise"},
}

// rttCell is one library's time-to-ready over one delayed path.
type rttCell struct {
	how     string
	na      bool
	err     error
	samples []float64 // time-to-ready ÷ 2D
}

// RTT holds the round-trip results.
type RTT struct {
	Delay time.Duration
	Libs  []lib.Library
	Paths []string
	cells [][]*rttCell // [path][lib]
}

// RunRTT dials every path through the delay relays reps times per library,
// interleaved like the timed cases, and keeps time-to-ready ÷ 2D.
func RunRTT(e *Env, libs []lib.Library, reps int) *RTT {
	d := time.Duration(e.Cfg.DelayMS) * time.Millisecond
	res := &RTT{Delay: d, Libs: libs}
	dialers := make([][]lib.Dialer, len(paths))
	res.cells = make([][]*rttCell, len(paths))
	for i, p := range paths {
		r := e.route(p.secure, p.proxy, wire.PathEcho, true)
		res.Paths = append(res.Paths, r.Path())
		dialers[i] = make([]lib.Dialer, len(libs))
		res.cells[i] = make([]*rttCell, len(libs))
		for j, l := range libs {
			dd, err := newDialer(l, r)
			c := &rttCell{how: dd.How}
			switch {
			case errors.Is(err, lib.ErrNotApplicable):
				c.na = true
			case err != nil:
				c.err = err
			}
			dialers[i][j], res.cells[i][j] = dd, c
		}
	}
	for range reps {
		for i := range paths {
			for j := range libs {
				c := res.cells[i][j]
				if c.na || c.err != nil {
					continue
				}
				ttr, err := timeToReady(dialers[i][j].Dial)
				if err != nil {
					c.err = err
					continue
				}
				c.samples = append(c.samples, float64(ttr)/float64(2*d))
			}
		}
	}
	return res
}

// timeToReady is how long one dial takes to return a ready connection.
func timeToReady(dial lib.DialFunc) (t time.Duration, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	t0 := time.Now()
	c, err := dial(ctx)
	t = time.Since(t0)
	if err != nil {
		return 0, err
	}
	c.Abort()
	return t, nil
}
