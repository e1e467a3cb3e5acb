package bench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Settings describe the run, for the report's header.
type Settings struct {
	Mode        string
	Rounds      int
	BenchTime   string
	IdleConns   int
	IdleRounds  int
	HoldConns   int
	HoldWorkers int
	RTTReps     int
	Pinning     string // how run.sh pinned the processes
	Commit      string // wsdial's commit, from run.sh
	Started     time.Time
	Wall        time.Duration
	LoadBefore  string
	LoadAfter   string
	// CPU time spent during the run by this process and the children it
	// waited for, the server, and the whole machine: the difference is
	// other people's work, which makes the numbers noisy.
	ClientCPU, ServerCPU, MachineCPU time.Duration
}

// Results is everything one run measured.
type Results struct {
	Settings  Settings
	Timed     *Timed
	Idle      *Idle
	Hold      *Hold
	KeepAlive *KeepAlive
	RTT       *RTT
	H2        *H2 // h2.go
}

// WriteMarkdown writes the report.
func (r *Results) WriteMarkdown(w io.Writer) {
	s := r.Settings
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# wsdial benchmarks\n\n")
	p("Written by `benchmarks/run.sh %s`; do not edit by hand.\n\n", s.Mode)
	p("| | |\n| --- | --- |\n")
	p("| date | %s |\n", s.Started.UTC().Format("2006-01-02 15:04 MST"))
	p("| machine | %d CPUs (`nproc` of the machine), %s, %s/%s |\n", numCPUMachine(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	p("| pinning | %s; client affinity `%s`, GOMAXPROCS %d |\n", s.Pinning, cpusAllowed(), runtime.GOMAXPROCS(0))
	p("| Go | %s |\n", runtime.Version())
	p("| modules | %s |\n", modules())
	p("| wsdial | %s |\n", s.Commit)
	p("| settings | mode %s: %d interleaved rounds, benchtime %s per run; idle memory over %d connections × %d rounds; %d connections held (%d dialling workers); %d dials per library and path through the delay link |\n",
		s.Mode, s.Rounds, s.BenchTime, s.IdleConns, s.IdleRounds, s.HoldConns, s.HoldWorkers, s.RTTReps)
	other := s.MachineCPU - s.ClientCPU - s.ServerCPU
	busy := "quiet"
	if other.Seconds() > 0.1*s.Wall.Seconds() {
		busy = "**busy: other processes were running, so the numbers are noisy**"
	}
	p("| load | loadavg %s before, %s after; in %.0f s of wall time the client used %.1f CPU-s, the server %.1f, everything else on the machine %.1f: %s |\n\n",
		s.LoadBefore, s.LoadAfter, s.Wall.Seconds(), s.ClientCPU.Seconds(), s.ServerCPU.Seconds(), max(other, 0).Seconds(), busy)
	p("Medians over the rounds, range in brackets. ns/op, B/op and allocs/op are testing.B's, from `b.ReportAllocs`; CPU/op is the client process's user+system time (getrusage) over the timed loop, divided by b.N, so it includes the libraries' own goroutines and GC. The server runs in a separate process, so none of its allocations count. \"wsdial/x\" is wsdial's median time over the library's: below 1 means wsdial is faster.\n\n")

	if r.Timed != nil {
		r.Timed.summary(p)
		r.Timed.tables(p)
	}
	if r.Idle != nil {
		r.Idle.table(p)
	}
	if r.Hold != nil {
		r.Hold.table(p)
	}
	if r.KeepAlive != nil {
		r.KeepAlive.table(p)
	}
	if r.RTT != nil {
		r.RTT.table(p)
	}
	if r.H2 != nil {
		r.H2.table(p)
	}
	if r.Timed != nil {
		r.Timed.notes(p)
	}
}

type printf func(format string, a ...any)

func (t *Timed) wsdialIndex() int {
	for j, l := range t.Libs {
		if l.Name() == "wsdial" {
			return j
		}
	}
	return -1
}

// summary is one table: each case's wsdial time over each peer's.
func (t *Timed) summary(p printf) {
	wi := t.wsdialIndex()
	p("## wsdial / peer, median time per op\n\n| case |")
	for _, l := range t.Libs {
		if l.Name() != "wsdial" {
			p(" %s |", l.Name())
		}
	}
	p("\n| --- |")
	for _, l := range t.Libs {
		if l.Name() != "wsdial" {
			p(" --- |")
		}
	}
	p("\n")
	for i, c := range t.Cases {
		p("| %s |", c.Name)
		var ws float64 = math.NaN()
		if wi >= 0 && len(t.cells[i][wi].samples) > 0 {
			ws = t.cells[i][wi].metric(func(s sample) float64 { return s.ns }).Median
		}
		for j, l := range t.Libs {
			if l.Name() == "wsdial" {
				continue
			}
			ce := t.cells[i][j]
			switch {
			case ce.na:
				p(" n/a |")
			case len(ce.samples) == 0:
				p(" failed |")
			default:
				p(" %s |", fmtRatio(ws, ce.metric(func(s sample) float64 { return s.ns }).Median))
			}
		}
		p("\n")
	}
	p("\n")
}

func (t *Timed) tables(p printf) {
	wi := t.wsdialIndex()
	for i, c := range t.Cases {
		p("## %s\n\n", c.Name)
		p("| library | time/op | B/op | allocs/op | MB/s | CPU/op | wsdial/x time | wsdial/x allocs |\n")
		p("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
		var wsNs, wsAllocs = math.NaN(), math.NaN()
		if wi >= 0 && len(t.cells[i][wi].samples) > 0 {
			wsNs = t.cells[i][wi].metric(func(s sample) float64 { return s.ns }).Median
			wsAllocs = t.cells[i][wi].metric(func(s sample) float64 { return s.allocs }).Median
		}
		for j, l := range t.Libs {
			ce := t.cells[i][j]
			if ce.na {
				continue
			}
			if len(ce.samples) == 0 {
				p("| %s | failed: %s | | | | | | |\n", l.Name(), oneLine(ce.err))
				continue
			}
			ns := ce.metric(func(s sample) float64 { return s.ns })
			by := ce.metric(func(s sample) float64 { return s.bytes })
			al := ce.metric(func(s sample) float64 { return s.allocs })
			mb := ce.metric(func(s sample) float64 { return s.mbps })
			cpu := ce.metric(func(s sample) float64 { return s.cpu })
			mbs := "–"
			if mb.Median > 0 {
				mbs = fmt.Sprintf("%.0f [%.0f–%.0f]", mb.Median, mb.Min, mb.Max)
			}
			name := l.Name()
			if ce.err != nil {
				name += " (failed in a later round: " + oneLine(ce.err) + ")"
			}
			p("| %s | %s [%s–%s] | %s | %.0f [%.0f–%.0f] | %s | %s | %s | %s |\n",
				name, fmtDur(ns.Median), fmtDur(ns.Min), fmtDur(ns.Max), fmtBytes(by.Median),
				al.Median, al.Min, al.Max, mbs, fmtDur(cpu.Median),
				fmtRatio(wsNs, ns.Median), fmtRatio(wsAllocs, al.Median))
		}
		p("\n")
	}
}

// notes lists how each library took each route that was not direct-native.
func (t *Timed) notes(p printf) {
	p("## How each library takes each path\n\n")
	seen := map[string]bool{}
	for i, c := range t.Cases {
		for j, l := range t.Libs {
			ce := t.cells[i][j]
			if ce.na || ce.how == "" || ce.how == "native" || ce.how == "baseline" {
				continue
			}
			key := l.Name() + " " + c.Route.Path()
			if seen[key] {
				continue
			}
			seen[key] = true
			p("- %s, %s: %s\n", l.Name(), c.Route.Path(), cell1(ce.how))
		}
	}
	p("\nFailures, as the libraries reported them (no workaround is applied):\n\n")
	any := false
	for i, c := range t.Cases {
		for j, l := range t.Libs {
			if err := t.cells[i][j].err; err != nil {
				any = true
				p("- %s, %s: `%s`\n", l.Name(), c.Name, oneLine(err))
			}
		}
	}
	if !any {
		p("- none\n")
	}
	p("\n")
}

func oneLine(err error) string {
	if err == nil {
		return ""
	}
	return cell1(err.Error())
}

// cell1 makes s fit one Markdown table cell on one line.
func cell1(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// modules lists the versions of the libraries compared.
func modules() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var out []string
	for _, m := range bi.Deps {
		switch m.Path {
		case "github.com/gorilla/websocket", "github.com/coder/websocket", "github.com/gobwas/ws",
			"github.com/lxzan/gws", "golang.org/x/net":
			out = append(out, m.Path+" "+m.Version)
		case "github.com/wsdial/wsdial":
			v := m.Version
			if m.Replace != nil {
				v = "replaced by " + m.Replace.Path
			}
			out = append(out, m.Path+" "+v)
		}
	}
	return strings.Join(out, ", ")
}
