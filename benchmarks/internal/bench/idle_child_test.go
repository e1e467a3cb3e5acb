package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRunIdleJob runs the child's side of an idle measurement in this
// process, against the servers of startServers: each reader adds one
// goroutine, since the servers start none for it; a job naming no library,
// or a keepalive for one not wsdial, or that is no JSON, fails.
func TestRunIdleJob(t *testing.T) {
	e := startServers(t)
	run := func(spec string) (idleResult, error) {
		var out bytes.Buffer
		if err := RunIdleJob(e, spec, &out); err != nil {
			return idleResult{}, err
		}
		var res idleResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("the job %s wrote %q: %v", spec, out.String(), err)
		}
		return res, nil
	}
	for _, spec := range []string{`{"Lib":"wsdial","N":40}`, `{"Lib":"gobwas","N":40}`, `{"Lib":"wsdial","N":40,"KeepAlive":3600000000000,"KeepAliveTimeout":3600000000000}`} {
		res, err := run(spec)
		if err != nil || res.Err != "" {
			t.Fatalf("the job %s: %v %s", spec, err, res.Err)
		}
		if got := res.GoroutinesReader - res.GoroutinesNoReader; got != 1 {
			t.Errorf("the job %s: each reader added %.2f goroutines, want 1", spec, got)
		}
		// Its bytes are not checked here: the servers' share, in this
		// process, swamps them (TestMeasureIdleInChild checks them).
	}
	if res, err := run(`{"Lib":"gobwas","N":1,"KeepAlive":3600000000000,"KeepAliveTimeout":3600000000000}`); err != nil || res.Err == "" {
		t.Errorf("a job with a keepalive for gobwas: %v, %q; want the error in the result", err, res.Err)
	}
	if res, err := run(`{"Lib":"nobody","N":1}`); err != nil || res.Err == "" {
		t.Errorf("a job naming no library: %v, %q; want the error in the result", err, res.Err)
	}
	if _, err := run(`not json`); err == nil {
		t.Error("a job that is no JSON: no error")
	}
}

// TestMeasureIdleInChild runs idle measurements in a child process, this
// test binary as TestMain makes it one, against servers in this process:
// the child's readers are its only goroutines for the connections, and a
// child that fails says why, not only its exit status.
func TestMeasureIdleInChild(t *testing.T) {
	e := startServers(t)
	cfg, err := json.Marshal(e.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envTestConfig, string(cfg))
	res, err := measureIdle(idleJob{Lib: "wsdial", N: 40})
	if err != nil {
		t.Fatal(err)
	}
	if res.GoroutinesNoReader != 0 || res.GoroutinesReader != 1 {
		t.Errorf("the child had %.2f goroutines a connection, %.2f with a reader; want 0 and 1", res.GoroutinesNoReader, res.GoroutinesReader)
	}
	if res.NoReader <= 0 || res.Reader <= res.NoReader {
		t.Errorf("the child measured %.0f B a connection, %.0f B with a reader", res.NoReader, res.Reader)
	}
	if _, err := measureIdle(idleJob{Lib: "nobody", N: 1}); err == nil || !strings.Contains(err.Error(), `no library "nobody"`) {
		t.Errorf("a job naming no library: %v; want the child's error", err)
	}
	t.Setenv(envTestConfig, "not json")
	if _, err := measureIdle(idleJob{Lib: "wsdial", N: 1}); err == nil || !strings.Contains(err.Error(), "the test servers' config") {
		t.Errorf("a child that exits with a log line: %v; want the line in the error", err)
	}
}
