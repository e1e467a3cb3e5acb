// Command benchclient runs the wsdial benchmarks against a running
// benchserver and writes the report as Markdown. run.sh starts both, pinned
// to one CPU.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/bench"
	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

type mode struct {
	rounds                                   int
	benchTime                                string
	idleConns, idleRounds, hold, holdWorkers int
	rttReps                                  int
	// The keepalive's part: its interval and timeout, and how long the held
	// connections idle with it on, and with it off.
	kaInterval, kaTimeout, kaSpell time.Duration
}

var modes = map[string]mode{
	// Quick holds 2,000 connections, not 10,000, to stay under a minute.
	"quick": {rounds: 3, benchTime: "60ms", idleConns: 2000, idleRounds: 1, hold: 2000, holdWorkers: 4, rttReps: 3,
		kaInterval: time.Second, kaTimeout: 10 * time.Second, kaSpell: 5 * time.Second},
	"full": {rounds: 5, benchTime: "250ms", idleConns: 2000, idleRounds: 3, hold: 10000, holdWorkers: 4, rttReps: 7,
		kaInterval: 2 * time.Second, kaTimeout: 10 * time.Second, kaSpell: 20 * time.Second},
}

// h2Streams is how many WebSockets the HTTP/2 part holds on one connection.
const h2Streams = 1000

func main() {
	testing.Init()
	configPath := flag.String("config", "", "the benchserver's addresses file")
	modeName := flag.String("mode", "quick", "quick or full")
	out := flag.String("out", "RESULTS.md", "write the report here")
	pinning := flag.String("pinning", "not pinned", "how the processes were pinned, for the report")
	commit := flag.String("commit", "unknown", "wsdial's commit, for the report")
	libsFlag := flag.String("libs", "", "comma-separated libraries to run (default all)")
	casesFlag := flag.String("cases", "", "run only timed cases whose name contains this (HTTP/2's too)")
	skip := flag.String("skip", "", "comma-separated parts to skip: timed, idle, hold, keepalive, rtt, h2, and of h2 alone: h2rtt, h2timed, h2idle, h2many")
	rounds := flag.Int("rounds", 0, "override the mode's rounds")
	benchTime := flag.String("benchtime", "", "override the mode's benchtime (a duration, or 100x for fixed iterations)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	traceFile := flag.String("trace", "", "write an execution trace of the whole run here")
	memProfile := flag.String("memprofile", "", "write an allocation profile here at the end")
	memProfileRate := flag.Int("memprofilerate", 0, "set runtime.MemProfileRate (1 records every allocation)")
	flag.Parse()

	if *memProfileRate > 0 {
		runtime.MemProfileRate = *memProfileRate
	}
	m, ok := modes[*modeName]
	if !ok {
		log.Fatalf("benchclient: unknown mode %q", *modeName)
	}
	if *rounds > 0 {
		m.rounds = *rounds
	}
	if *benchTime != "" {
		m.benchTime = *benchTime
	}
	if err := flag.Set("test.benchtime", m.benchTime); err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	if *configPath == "" {
		log.Fatal("benchclient: -config is required")
	}
	cfg, err := wire.ReadConfig(*configPath)
	if err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	env, err := newEnv(cfg)
	if err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	// 10,000 held connections need more descriptors than a default limit.
	if _, err := wire.RaiseFileLimit(uint64(m.hold) + 1024); err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	if job := os.Getenv(bench.EnvIdleJob); job != "" {
		if err := bench.RunIdleJob(env, job, os.Stdout); err != nil {
			log.Fatalf("benchclient: %v", err)
		}
		return
	}
	libs := lib.All(cfg.RawTCP, cfg.RawTLS)
	if *libsFlag != "" {
		want := strings.Split(*libsFlag, ",")
		libs = slices.DeleteFunc(libs, func(l lib.Library) bool { return !slices.Contains(want, l.Name()) })
	}
	skipped := func(part string) bool { return slices.Contains(strings.Split(*skip, ","), part) }

	if *cpuProfile != "" {
		defer record(*cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)()
	}
	if *traceFile != "" {
		defer record(*traceFile, trace.Start, trace.Stop)()
	}

	res := &bench.Results{Settings: bench.Settings{
		Mode: *modeName, Rounds: m.rounds, BenchTime: m.benchTime,
		IdleConns: m.idleConns, IdleRounds: m.idleRounds, HoldConns: m.hold, HoldWorkers: m.holdWorkers,
		RTTReps: m.rttReps, Pinning: *pinning, Commit: *commit,
	}}
	stop := bench.StartAccounting(&res.Settings, cfg.PID)
	if !skipped("timed") {
		cases := bench.Cases(env)
		if *casesFlag != "" {
			cases = slices.DeleteFunc(cases, func(c bench.Case) bool { return !strings.Contains(c.Name, *casesFlag) })
		}
		log.Printf("timed cases: %d cases × %d libraries × %d rounds", len(cases), len(libs), m.rounds)
		res.Timed = bench.RunTimed(cases, libs, m.rounds, os.Stderr)
	}
	if !skipped("idle") {
		log.Printf("idle memory: %d connections × %d rounds", m.idleConns, m.idleRounds)
		res.Idle = bench.RunIdle(env, libs, m.idleConns, m.idleRounds)
	}
	if !skipped("hold") {
		log.Printf("holding %d connections through CONNECT", m.hold)
		res.Hold = bench.RunHold(env, libs, m.hold, m.holdWorkers)
	}
	if !skipped("keepalive") && slices.ContainsFunc(libs, func(l lib.Library) bool { return l.Name() == "wsdial" }) {
		log.Printf("keepalive: %d connections held through CONNECT for %v, pinging every %v", m.hold, m.kaSpell, m.kaInterval)
		res.KeepAlive = bench.RunKeepAlive(env, m.idleConns, m.hold, m.holdWorkers, m.kaInterval, m.kaTimeout, m.kaSpell)
	}
	if !skipped("rtt") {
		log.Printf("round trips through the delay link, D = %d ms", cfg.DelayMS)
		res.RTT = bench.RunRTT(env, libs, m.rttReps)
	}
	if !skipped("h2") {
		log.Printf("HTTP/2 beside HTTP/1.1, %d streams", h2Streams)
		parts := &bench.H2Parts{Cases: *casesFlag}
		for _, p := range []string{"rtt", "timed", "idle", "many"} {
			if skipped("h2" + p) {
				parts.Skip = append(parts.Skip, p)
			}
		}
		res.H2 = bench.RunH2(env, m.rounds, m.rttReps, h2Streams, parts, os.Stderr)
	}
	stop()

	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			log.Fatalf("benchclient: %v", err)
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			log.Fatalf("benchclient: %v", err)
		}
		f.Close()
	}
	var b strings.Builder
	res.WriteMarkdown(&b)
	if err := os.WriteFile(*out, []byte(b.String()), 0o644); err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	log.Printf("wrote %s in %v", *out, res.Settings.Wall.Round(time.Second))
}

// record starts writing a CPU profile or an execution trace to path, and
// returns what stops it and closes the file.
func record(path string, start func(io.Writer) error, stop func()) func() {
	f, err := os.Create(path)
	if err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	if err := start(f); err != nil {
		log.Fatalf("benchclient: %v", err)
	}
	return func() {
		stop()
		f.Close()
	}
}

// newEnv loads the server's CA into a client TLS configuration.
func newEnv(cfg *wire.Config) (*bench.Env, error) {
	pem, err := os.ReadFile(cfg.CAFile)
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA: no certificate in %s", cfg.CAFile)
	}
	return &bench.Env{Cfg: cfg, TLS: &tls.Config{RootCAs: pool}}, nil
}
