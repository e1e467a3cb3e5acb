package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair: what a program writes to tty, the
// test reads from pty, as a terminal's screen would show it.
func openPTY() (pty, tty *os.File, err error) {
	pty, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, pty.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		pty.Close()
		return nil, nil, e
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, pty.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		pty.Close()
		return nil, nil, e
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		pty.Close()
		return nil, nil, err
	}
	return pty, tty, nil
}

// hostile is a text message that would retitle the window and clear the
// screen of a terminal that printed it as it is.
const hostile = "hi \x1b]0;owned\a\x1b[2J\u009b31m there"

// TestTextToATerminal runs the command with its output on a terminal, and
// checks that control characters from the network are escaped there unless
// -raw, and kept as they are when the output is not a terminal.
func TestTextToATerminal(t *testing.T) {
	srv := echoServer(t)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"escaped", nil, `hi \x1b]0;owned\x07\x1b[2J\u009b31m there`},
		{"raw", []string{"-raw"}, hostile},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pty, tty, err := openPTY()
			if err != nil {
				t.Fatalf("no pseudo-terminal: %v", err)
			}
			defer pty.Close()
			cmd := command(append(tt.args, "-no-proxy", srv.URL))
			cmd.Stdin = strings.NewReader(hostile + "\n")
			cmd.Stdout = tty
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			tty.Close() // the command holds its own copy
			// The terminal turns "\n" into "\r\n" on output.
			line, err := bufio.NewReader(pty).ReadString('\n')
			if err != nil {
				t.Fatalf("%v; stderr:\n%s", err, stderr.String())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%v; stderr:\n%s", err, stderr.String())
			}
			if got := strings.TrimSuffix(line, "\r\n"); got != tt.want {
				t.Errorf("the terminal shows %q, want %q", got, tt.want)
			}
		})
	}
	// Into a pipe the message goes as it came, for the program reading it.
	stdout, stderr, code := runCLI(t, hostile+"\n", "-no-proxy", srv.URL)
	if code != exitOK || stdout != hostile+"\n" {
		t.Errorf("into a pipe: exit %d, %q; stderr:\n%s", code, stdout, stderr)
	}
}
