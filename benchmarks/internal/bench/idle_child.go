package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/lib"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// EnvIdleJob is the environment variable that makes a benchclient process
// a child that measures one idleJob, given in it as JSON, prints the
// IdleResult as JSON and exits: see RunIdleJob.
//
// Each idle measurement runs in a process of its own because what a
// goroutine's stack costs depends on the process as much as on the
// library: the runtime starts new goroutines with stacks the size of those
// it saw at its last collection, and keeps the stacks, and the stack spans,
// of goroutines that have ended for the next ones to take. In one process
// the readers of one library took what the library measured before had
// left, and started at sizes its readers had taught the runtime, which
// moved the reader-blocked column by more than the libraries differ.
const EnvIdleJob = "WSDIAL_BENCH_IDLE_JOB"

// idleJob is one idle-memory measurement: n connections of a library of
// lib.All, by name, to the ws:// echo endpoint, or with H2 wsdial over
// HTTP/1.1 ("wsdial") or HTTP/2 (lib.WSDialH2's name) to the HTTP/2
// server's wss:// one. KeepAlive and KeepAliveTimeout set wsdial's.
type idleJob struct {
	Lib                         string
	N                           int
	H2                          bool          `json:",omitempty"`
	KeepAlive, KeepAliveTimeout time.Duration `json:",omitempty"`
}

// library is the library the job names.
func (j idleJob) library(e *Env) (lib.Library, error) {
	if ws := (lib.WSDial{}); j.KeepAlive != 0 {
		if j.Lib != ws.Name() {
			return nil, fmt.Errorf("a keepalive for %q, which is not wsdial", j.Lib)
		}
		return lib.WSDial{KeepAlive: j.KeepAlive, KeepAliveTimeout: j.KeepAliveTimeout}, nil
	}
	if h2 := (lib.WSDialH2{}); j.Lib == h2.Name() {
		return h2, nil
	}
	for _, l := range lib.All(e.Cfg.RawTCP, e.Cfg.RawTLS) {
		if l.Name() == j.Lib {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no library %q", j.Lib)
}

// route is where the job's connections go.
func (j idleJob) route(e *Env) lib.Route {
	if j.H2 {
		return lib.Route{URL: "wss://" + e.Cfg.H2 + wire.PathEcho, TLS: e.TLS}
	}
	return e.route(false, lib.Direct, wire.PathEcho, false)
}

// idleResult carries an IdleResult, or the error that stopped it, from a
// child.
type idleResult struct {
	IdleResult
	Err string `json:",omitempty"`
}

// RunIdleJob is the child's side: it measures the job in spec and writes
// the result to w.
func RunIdleJob(e *Env, spec string, w io.Writer) error {
	var j idleJob
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		return fmt.Errorf("the idle job %q: %w", spec, err)
	}
	var res idleResult
	l, err := j.library(e)
	var d lib.Dialer
	if err == nil {
		d, err = safeDialer(l, j.route(e))
	}
	if err == nil {
		res.IdleResult, err = idleMemory(d.Dial, j.N)
	}
	if err != nil {
		res.Err = err.Error()
	}
	return json.NewEncoder(w).Encode(res)
}

// measureIdle runs the job in a child: this same program, with the same
// arguments, and the job in its environment.
func measureIdle(j idleJob) (IdleResult, error) {
	spec, err := json.Marshal(j)
	if err != nil {
		return IdleResult{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return IdleResult{}, err
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), EnvIdleJob+"="+string(spec))
	var out bytes.Buffer
	var tail lastLine
	cmd.Stdout, cmd.Stderr = &out, io.MultiWriter(os.Stderr, &tail)
	if err := cmd.Run(); err != nil {
		if why := tail.String(); why != "" {
			return IdleResult{}, fmt.Errorf("the idle measurement's process: %w: %s", err, why)
		}
		return IdleResult{}, fmt.Errorf("the idle measurement's process: %w", err)
	}
	var res idleResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return IdleResult{}, fmt.Errorf("the idle measurement's process wrote %q: %w", strings.TrimSpace(out.String()), err)
	}
	if res.Err != "" {
		return res.IdleResult, errors.New(res.Err)
	}
	return res.IdleResult, nil
}

// lastLine keeps the last line written to it that is not empty, up to 300
// bytes of it: a child's last word, the log line it died with, for the
// error that the report shows.
type lastLine struct {
	line, cur []byte
}

func (l *lastLine) Write(b []byte) (int, error) {
	for _, c := range b {
		if c != '\n' {
			if len(l.cur) < 300 {
				l.cur = append(l.cur, c)
			}
			continue
		}
		if len(bytes.TrimSpace(l.cur)) > 0 {
			l.line = append(l.line[:0], l.cur...)
		}
		l.cur = l.cur[:0]
	}
	return len(b), nil
}

// String is the last line, or the line not yet ended when it has text.
func (l *lastLine) String() string {
	if cur := bytes.TrimSpace(l.cur); len(cur) > 0 {
		return string(cur)
	}
	return string(bytes.TrimSpace(l.line))
}
