package wsdial

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the tests in a child process whose environment has
// GODEBUG=http2xconnect=1, so that the x/net/http2 servers of the HTTP/2
// tests advertise extended CONNECT (RFC 8441). The package reads the setting
// once, in its init, so it must be in the environment when the process
// starts: os.Setenv here would be too late. A plain `go test` thus needs no
// extra environment; a run that has the setting already runs in place.
func TestMain(m *testing.M) {
	if hasXConnect(os.Getenv("GODEBUG")) {
		os.Exit(m.Run())
	}
	os.Exit(runWithXConnect())
}

// start starts the command that newCmd makes, trying again a few times
// while exec fails with ETXTBSY: the binary was written moments ago, and a
// process that the go command forked meanwhile may hold it open for writing
// until it execs in turn. cmd/go starts test binaries the same way, for the
// same reason.
func start(newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	for try := 0; ; try++ {
		cmd := newCmd()
		err := cmd.Start()
		if err == nil {
			return cmd, nil
		}
		if !errors.Is(err, syscall.ETXTBSY) || try == 10 {
			return nil, err
		}
		time.Sleep(time.Duration(try+1) * 10 * time.Millisecond)
	}
}

func hasXConnect(godebug string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if strings.TrimSpace(kv) == "http2xconnect=1" {
			return true
		}
	}
	return false
}

// runWithXConnect runs this test binary again, with the same arguments and
// the setting added, passing signals on, and returns its exit status.
func runWithXConnect() int {
	godebug := os.Getenv("GODEBUG")
	if godebug != "" {
		godebug += ","
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	cmd, err := start(func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], os.Args[1:]...)
		// The last of duplicate keys wins, so this replaces any GODEBUG.
		cmd.Env = append(os.Environ(), "GODEBUG="+godebug+"http2xconnect=1")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		return cmd
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsdial tests: running the tests with GODEBUG=http2xconnect=1:", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			cmd.Process.Signal(sig)
		case err := <-done:
			var ee *exec.ExitError
			switch {
			case err == nil:
				return 0
			case errors.As(err, &ee) && ee.ExitCode() > 0:
				return ee.ExitCode()
			}
			fmt.Fprintln(os.Stderr, "wsdial tests: the test process:", err)
			return 1
		}
	}
}
