package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// readClientFrame reads one masked frame of the client's and unmasks it.
func readClientFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(r, h[:2]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(r, h[:8]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, min(n, 1<<20))
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	return h[0] & 0x0F, payload, nil
}

// pingServer is a WebSocket server that counts the client's pings and
// answers them while answer is set, echoes text and answers a close.
func pingServer(t *testing.T, answer *atomic.Bool, pings chan<- struct{}) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := acceptUpgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, payload, err := readClientFrame(brw.Reader)
			if err != nil {
				return
			}
			switch op {
			case 0x9:
				if answer.Load() {
					c.Write(serverFrame(0xA, string(payload)))
				}
				select {
				case pings <- struct{}{}:
				default:
				}
			case 0x1:
				c.Write(serverFrame(0x1, string(payload)))
			case 0x8:
				c.Write(serverFrame(0x8, string(payload)))
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestKeepAliveFlag: with -keepalive, an idle session pings the server, a
// server that answers keeps it open, and one that stops answering ends it
// with exit 1 and the keepalive's error.
func TestKeepAliveFlag(t *testing.T) {
	var answer atomic.Bool
	answer.Store(true)
	pings := make(chan struct{}, 1024)
	srv := pingServer(t, &answer, pings)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	waitPings := func(n int, stderr fmt.Stringer) {
		t.Helper()
		for i := range n {
			select {
			case <-pings:
			case <-time.After(10 * time.Second):
				t.Fatalf("%d of %d pings came; stderr:\n%s", i, n, stderr)
			}
		}
	}

	cmd, in, out, stderr := startPiped(t, "-no-proxy", "-keepalive", "250ms", url)
	io.WriteString(in, "hello\n")
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("echo: %q, %v; stderr:\n%s", line, err, stderr)
	}
	waitPings(10, stderr) // seconds of idleness, answered
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after the idle spell: %v; stderr:\n%s", err, stderr)
	}

	answer.Store(false)
	cmd, in, _, stderr = startPiped(t, "-no-proxy", "-keepalive", "250ms", url)
	defer in.Close()
	waitPings(1, stderr)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := cmd.ProcessState.ExitCode(); code != exitFailure {
			t.Errorf("exit %d (%v), want %d", code, err, exitFailure)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the command was still running 10 s after the server stopped answering; stderr:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "keepalive timed out") {
		t.Errorf("stderr does not say that the keepalive timed out:\n%s", stderr)
	}
}

// TestKeepAliveFlagUsage: a negative -keepalive is a usage error that names
// the flag.
func TestKeepAliveFlagUsage(t *testing.T) {
	_, stderr, code := runCLI(t, "", "-keepalive", "-1s", "ws://127.0.0.1:1/")
	if code != exitUsage || !strings.Contains(stderr, "-keepalive") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}
