package bench

import (
	"os"
	"os/exec"
	"testing"
)

// TestAccountingCountsChildProcesses: the client CPU that the report's load
// line gives includes the processes the client ran and waited for, as the
// idle measurements' are (EnvIdleJob); left out, their CPU counts as other
// processes', and a quiet run is reported busy.
func TestAccountingCountsChildProcesses(t *testing.T) {
	var s Settings
	stop := StartAccounting(&s, os.Getpid())
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	stop()
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if child <= 0 {
		t.Fatalf("the child used no CPU (%v), so it shows nothing", child)
	}
	if s.ClientCPU < child {
		t.Errorf("client CPU %v, less than the %v of the child it waited for", s.ClientCPU, child)
	}
}
