package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
)

// sample is one testing.Benchmark result, per op.
type sample struct {
	ns, bytes, allocs, mbps, cpu float64
	n                            int // b.N of the final run, for the log
}

// cell is one library in one case, over all rounds.
type cell struct {
	how     string
	na      bool  // the library does not take this route (the baseline through a proxy)
	err     error // the first failure; later rounds are skipped
	samples []sample
}

func (c *cell) metric(f func(sample) float64) spread {
	xs := make([]float64, len(c.samples))
	for i, s := range c.samples {
		xs[i] = f(s)
	}
	return summarize(xs)
}

// Timed holds the results of the timed cases.
type Timed struct {
	Cases []Case
	Libs  []lib.Library
	cells [][]*cell // [case][lib]
}

// RunTimed runs every case over every library, rounds times, interleaved:
// each round runs each case once per library in turn, so that drift in the
// machine's load spreads over all of them alike. Progress goes to log.
func RunTimed(cases []Case, libs []lib.Library, rounds int, log io.Writer) *Timed {
	t := &Timed{Cases: cases, Libs: libs, cells: make([][]*cell, len(cases))}
	dialers := make([][]lib.Dialer, len(cases))
	for i, c := range cases {
		t.cells[i] = make([]*cell, len(libs))
		dialers[i] = make([]lib.Dialer, len(libs))
		for j, l := range libs {
			d, err := newDialer(l, c.Route)
			ce := &cell{how: d.How}
			switch {
			case errors.Is(err, lib.ErrNotApplicable):
				ce.na = true
			case err != nil:
				ce.err = err
			}
			t.cells[i][j] = ce
			dialers[i][j] = d
		}
	}
	for r := range rounds {
		for i, c := range cases {
			for j, l := range libs {
				ce := t.cells[i][j]
				if ce.na || ce.err != nil {
					continue
				}
				s, err := runOne(c, dialers[i][j].Dial)
				if err != nil {
					ce.err = err
					fmt.Fprintf(log, "round %d  %-26s %-8s FAILED: %v\n", r+1, c.Name, l.Name(), err)
					continue
				}
				ce.samples = append(ce.samples, s)
				fmt.Fprintf(log, "round %d  %-26s %-8s %12s %10s %6.0f allocs %9.1f MB/s  N=%d\n",
					r+1, c.Name, l.Name(), fmtDur(s.ns), fmtBytes(s.bytes), s.allocs, s.mbps, s.n)
			}
		}
	}
	return t
}

// safeDialer is l.Dialer with a panic turned into an error, so that one
// library's crash is reported rather than ending the run.
func safeDialer(l lib.Library, r lib.Route) (d lib.Dialer, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return l.Dialer(r)
}

// newDialer is l's dialer for r, after checking that a proxied route really
// goes through its proxy: the same dial with the proxy's address pointing
// at a port nobody listens on must fail. A dialer that ignores its proxy
// would otherwise be timed as if it used it.
func newDialer(l lib.Library, r lib.Route) (lib.Dialer, error) {
	d, err := safeDialer(l, r)
	if err != nil || r.Proxy == lib.Direct {
		return d, err
	}
	dead := r
	if dead.ProxyAddr, err = deadAddr(); err != nil {
		return d, err
	}
	dd, err := safeDialer(l, dead)
	if err != nil {
		return d, nil // nothing to check with
	}
	if _, err := timeToReady(dd.Dial); err == nil {
		return d, fmt.Errorf("went around the proxy: a dial through a %s proxy that is not listening succeeded", r.Proxy)
	}
	return d, nil
}

// deadAddr is a loopback address where nothing listens: a port just freed.
func deadAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// runOne runs one case over one library with testing.Benchmark.
func runOne(c Case, dial lib.DialFunc) (sample, error) {
	var failure error
	res := testing.Benchmark(func(b *testing.B) {
		defer func() {
			if p := recover(); p != nil {
				failure = fmt.Errorf("panic: %v", p)
				b.FailNow()
			}
		}()
		if err := c.Bench(b, dial); err != nil {
			failure = err
			b.FailNow()
		}
	})
	if failure != nil {
		return sample{}, failure
	}
	if res.N == 0 {
		return sample{}, errors.New("benchmark did not run")
	}
	s := sample{
		ns:     float64(res.T.Nanoseconds()) / float64(res.N),
		bytes:  float64(res.AllocedBytesPerOp()),
		allocs: float64(res.AllocsPerOp()),
		cpu:    res.Extra["cpu-ns/op"],
		n:      res.N,
	}
	if res.Bytes > 0 && res.T > 0 {
		s.mbps = float64(res.Bytes) * float64(res.N) / res.T.Seconds() / 1e6
	}
	return s, nil
}
