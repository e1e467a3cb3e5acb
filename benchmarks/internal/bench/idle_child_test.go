package bench

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestRunIdleJob runs the child's side of an idle measurement in this
// process, against the servers of startServers: each reader adds one
// goroutine, since the servers start none for it, and its memory; a job
// naming no library, or that is no JSON, fails.
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
		if res.NoReader <= 0 || res.Reader <= res.NoReader {
			t.Errorf("the job %s: %.0f B a connection, %.0f B with a reader", spec, res.NoReader, res.Reader)
		}
	}
	if res, err := run(`{"Lib":"nobody","N":1}`); err != nil || res.Err == "" {
		t.Errorf("a job naming no library: %v, %q; want the error in the result", err, res.Err)
	}
	if _, err := run(`not json`); err == nil {
		t.Error("a job that is no JSON: no error")
	}
}
